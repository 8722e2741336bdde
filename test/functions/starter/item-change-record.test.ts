import { describe, expect, it } from 'vitest';
import { decodeItemChangeRecord } from '../../../functions/starter/item-change-record';

const KEYS = { id: { S: 'orders' } };
const NEW_IMAGE = { id: { S: 'orders' }, running: { BOOL: true }, waitseconds: { N: '5' } };
const OLD_IMAGE = { id: { S: 'orders' }, running: { BOOL: false } };

const streamRecord = (dynamodb: Record<string, unknown> = {}, envelope: Record<string, unknown> = {}) => ({
  eventID: 'e-1',
  eventName: 'MODIFY',
  eventSource: 'aws:dynamodb',
  dynamodb: { Keys: KEYS, NewImage: NEW_IMAGE, OldImage: OLD_IMAGE, SequenceNumber: '100', ...dynamodb },
  ...envelope,
});

const DECODED = {
  eventID: 'e-1',
  eventName: 'MODIFY',
  dynamodb: { Keys: KEYS, NewImage: NEW_IMAGE, OldImage: OLD_IMAGE, SequenceNumber: '100' },
};

describe('decodeItemChangeRecord', () => {
  it('decodes a NEW_AND_OLD_IMAGES record, keeping the images as attribute maps', () => {
    expect(decodeItemChangeRecord(streamRecord())).toEqual(DECODED);
  });

  it.each([
    {
      label: 'eventID missing',
      record: streamRecord({}, { eventID: undefined }),
      absent: { eventID: undefined },
    },
    { label: 'eventID a number', record: streamRecord({}, { eventID: 7 }), absent: { eventID: undefined } },
    {
      label: 'eventName missing',
      record: streamRecord({}, { eventName: undefined }),
      absent: { eventName: undefined },
    },
    {
      label: 'eventName an object',
      record: streamRecord({}, { eventName: {} }),
      absent: { eventName: undefined },
    },
    {
      label: 'Keys missing',
      record: streamRecord({ Keys: undefined }),
      absent: { dynamodb: { ...DECODED.dynamodb, Keys: undefined } },
    },
    {
      label: 'Keys a string',
      record: streamRecord({ Keys: 'orders' }),
      absent: { dynamodb: { ...DECODED.dynamodb, Keys: undefined } },
    },
    {
      label: 'Keys holding a bare value',
      record: streamRecord({ Keys: { id: 'orders' } }),
      absent: { dynamodb: { ...DECODED.dynamodb, Keys: undefined } },
    },
    {
      label: 'NewImage holding an untyped attribute',
      record: streamRecord({ NewImage: { running: { X: true } } }),
      absent: { dynamodb: { ...DECODED.dynamodb, NewImage: undefined } },
    },
    {
      label: 'NewImage holding an attribute with two types',
      record: streamRecord({ NewImage: { running: { BOOL: true, S: 'x' } } }),
      absent: { dynamodb: { ...DECODED.dynamodb, NewImage: undefined } },
    },
    {
      label: 'NewImage an array',
      record: streamRecord({ NewImage: [] }),
      absent: { dynamodb: { ...DECODED.dynamodb, NewImage: undefined } },
    },
    {
      label: 'OldImage missing (an INSERT)',
      record: streamRecord({ OldImage: undefined }),
      absent: { dynamodb: { ...DECODED.dynamodb, OldImage: undefined } },
    },
    {
      label: 'OldImage null',
      record: streamRecord({ OldImage: null }),
      absent: { dynamodb: { ...DECODED.dynamodb, OldImage: undefined } },
    },
    {
      label: 'SequenceNumber missing',
      record: streamRecord({ SequenceNumber: undefined }),
      absent: { dynamodb: { ...DECODED.dynamodb, SequenceNumber: undefined } },
    },
    {
      label: 'SequenceNumber a number',
      record: streamRecord({ SequenceNumber: 100 }),
      absent: { dynamodb: { ...DECODED.dynamodb, SequenceNumber: undefined } },
    },
  ])('reads $label as absent, keeping the rest', ({ record, absent }) => {
    // act
    const decoded = decodeItemChangeRecord(record);

    // assess: the valid record's decoding with that one part undefined
    expect(decoded).toEqual({ ...DECODED, ...absent });
  });

  it.each([
    { label: 'dynamodb missing', record: streamRecord({}, { dynamodb: undefined }) },
    { label: 'dynamodb a string', record: streamRecord({}, { dynamodb: 'change' }) },
  ])('reads a record with $label as one that names no change', ({ record }) => {
    expect(decodeItemChangeRecord(record)).toEqual({
      eventID: 'e-1',
      eventName: 'MODIFY',
      dynamodb: undefined,
    });
  });

  it.each([null, 'record', 42, []])('reads %j as an empty record (one the starter skips)', (value) => {
    expect(decodeItemChangeRecord(value)).toEqual({});
  });
});
