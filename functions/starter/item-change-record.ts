import { isRawItem, type RawItem } from '../shared/control-item';
import { isRecord, optionalString } from '../shared/decode';

/** The part of a DynamoDB Streams record the starter reads (NEW_AND_OLD_IMAGES). */
export interface ItemChangeRecord {
  readonly eventID?: string | undefined;
  readonly eventName?: string | undefined;
  readonly dynamodb?: ItemChange | undefined;
}

export interface ItemChange {
  readonly Keys?: RawItem | undefined;
  readonly NewImage?: RawItem | undefined;
  readonly OldImage?: RawItem | undefined;
  /** Lambda checkpoints a stream by it, so a partial batch failure names the record by it (not by eventID). */
  readonly SequenceNumber?: string | undefined;
}

/**
 * Decodes the envelope of one stream record. A part of the wrong shape reads as absent, as a record without it
 * would: the starter skips a record that names no poller, so a malformed one starts nothing. The images are
 * checked one level deep (each attribute one typed value); what the attributes hold is the item decoder's to judge.
 */
export function decodeItemChangeRecord(value: unknown): ItemChangeRecord {
  if (!isRecord(value)) return {};
  const change = value.dynamodb;
  return {
    eventID: optionalString(value.eventID),
    eventName: optionalString(value.eventName),
    dynamodb: isRecord(change)
      ? {
          Keys: attributeMapOrUndefined(change.Keys),
          NewImage: attributeMapOrUndefined(change.NewImage),
          OldImage: attributeMapOrUndefined(change.OldImage),
          SequenceNumber: optionalString(change.SequenceNumber),
        }
      : undefined,
  };
}

function attributeMapOrUndefined(value: unknown): RawItem | undefined {
  return isRawItem(value) ? value : undefined;
}
