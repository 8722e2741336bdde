import { randomUUID } from 'node:crypto';
import { keyOf, type RawItem } from '../../functions/shared/control-item';
import type { ItemChange } from './control-table-watcher';
import { LOCAL_ACCOUNT } from './local-endpoints';

/** A DynamoDB Streams record as Lambda delivers it to a function (NEW_AND_OLD_IMAGES). */
export interface StreamRecord {
  readonly eventID: string;
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly eventVersion: '1.1';
  readonly eventSource: 'aws:dynamodb';
  readonly awsRegion: string;
  readonly dynamodb: {
    /** Epoch seconds, as the stream reports it. */
    readonly ApproximateCreationDateTime: number;
    readonly Keys: RawItem;
    readonly NewImage?: RawItem;
    readonly OldImage?: RawItem;
    /** Increasing within the stream; a partial batch response names a record by it. */
    readonly SequenceNumber: string;
    readonly SizeBytes: number;
    readonly StreamViewType: 'NEW_AND_OLD_IMAGES';
  };
  readonly eventSourceARN: string;
}

/** The event a stream's event source mapping invokes its function with. */
export interface StreamEvent {
  readonly Records: readonly StreamRecord[];
}

/**
 * Sequence numbers are decimal strings of one length (so they also sort as strings), above a base like the
 * 21-digit numbers DynamoDB Streams hands out; compare them with `compareSequenceNumbers`.
 */
const SEQUENCE_BASE = 10n ** 20n;

export const compareSequenceNumbers = (a: string, b: string): number => {
  const difference = BigInt(a) - BigInt(b);
  return difference === 0n ? 0 : difference < 0n ? -1 : 1;
};

/** `arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>`; the label is the stream's creation time. */
export function localStreamArn(region: string, tableName: string, createdAt: Date): string {
  const label = createdAt.toISOString().replace(/Z$/, '');
  return `arn:aws:dynamodb:${region}:${LOCAL_ACCOUNT}:table/${tableName}/stream/${label}`;
}

/**
 * The control table's stream: turns the change feed's item changes into stream records, numbered in the order
 * they happened. One per table, like the stream itself.
 */
export class TableStream {
  readonly streamArn: string;
  private nextSequence = SEQUENCE_BASE;

  constructor(
    private readonly region: string,
    tableName: string,
    createdAt: Date = new Date(),
  ) {
    this.streamArn = localStreamArn(region, tableName, createdAt);
  }

  recordOf(change: ItemChange, at: Date = new Date()): StreamRecord {
    this.nextSequence += 1n;
    const { before, after } = change;
    const eventName = before === undefined ? 'INSERT' : after === undefined ? 'REMOVE' : 'MODIFY';
    const keys = keyOf(change.pollerId);
    return {
      eventID: randomUUID().replaceAll('-', ''),
      eventName,
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: this.region,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(at.getTime() / 1000),
        Keys: keys,
        ...(after !== undefined ? { NewImage: after } : {}),
        ...(before !== undefined ? { OldImage: before } : {}),
        SequenceNumber: String(this.nextSequence),
        // DynamoDB counts attribute names and values; the JSON is close enough for a local stand-in.
        SizeBytes: JSON.stringify({ keys, before, after }).length,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      eventSourceARN: this.streamArn,
    };
  }
}
