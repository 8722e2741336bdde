import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { isRecord, optionalString } from '../shared/decode';

/** The part of a DynamoDB Streams record the starter reads (NEW_AND_OLD_IMAGES). */
export interface ItemChangeRecord {
  readonly eventID?: string | undefined;
  readonly eventName?: string | undefined;
  readonly dynamodb?: ItemChange | undefined;
}

export interface ItemChange {
  readonly Keys?: Record<string, AttributeValue> | undefined;
  readonly NewImage?: Record<string, AttributeValue> | undefined;
  readonly OldImage?: Record<string, AttributeValue> | undefined;
  /** Lambda checkpoints a stream by it, so a partial batch failure names the record by it (not by eventID). */
  readonly SequenceNumber?: string | undefined;
}

const ATTRIBUTE_TYPES: ReadonlySet<string> = new Set([
  'S',
  'N',
  'B',
  'SS',
  'NS',
  'BS',
  'M',
  'L',
  'NULL',
  'BOOL',
]);

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

function attributeMapOrUndefined(value: unknown): Record<string, AttributeValue> | undefined {
  return isAttributeMap(value) ? value : undefined;
}

/** Every entry is one typed attribute value (`{ "S": "…" }`, `{ "N": "5" }`, …), as DynamoDB Streams sends them. */
function isAttributeMap(value: unknown): value is Record<string, AttributeValue> {
  return (
    isRecord(value) &&
    Object.values(value).every((attribute) => {
      if (!isRecord(attribute)) return false;
      const types = Object.keys(attribute);
      return types.length === 1 && ATTRIBUTE_TYPES.has(types[0] ?? '');
    })
  );
}
