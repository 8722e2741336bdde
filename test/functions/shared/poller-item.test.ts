import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { FIELD, type PollerConfig } from '../../../functions/shared/contract';
import {
  configOf,
  decodePollerItem,
  describeAttribute,
  type RawItem,
  readConfig,
  type SystemFields,
} from '../../../functions/shared/control-item';
import { InvalidControlItemError } from '../../../functions/shared/errors';

const POLLER_ID = 'orders';

const decode = (fields: RawItem) => decodePollerItem(POLLER_ID, { [FIELD.id]: { S: POLLER_ID }, ...fields });

type WholeNumberField = 'generation' | 'seq' | 'claimedSeq' | 'skippedTicks' | 'failedFires' | 'restarts';

/** Each whole-number system field and the smallest value the system writes in it. */
const WHOLE_NUMBER_FIELDS: [WholeNumberField, number][] = [
  [FIELD.generation, 1],
  [FIELD.seq, 0],
  [FIELD.claimedSeq, 0],
  [FIELD.skippedTicks, 0],
  [FIELD.failedFires, 0],
  [FIELD.restarts, 0],
];

/** Values a hand edit can leave in a number field, none of which the system ever writes. */
const BAD_NUMBERS: [string, AttributeValue][] = [
  ['a string', { S: '3' }],
  ['a boolean', { BOOL: true }],
  ['NaN', { N: 'NaN' }],
  ['a fraction (2.5)', { N: '2.5' }],
  ['a negative number', { N: '-1' }],
  ['a number beyond the safe integers', { N: '9007199254740993' }],
  ['a huge number (1e400)', { N: '1e400' }],
];

const TEXT_FIELDS: (keyof SystemFields)[] = [
  FIELD.executionArn,
  FIELD.heartbeatAt,
  FIELD.stoppedReason,
  FIELD.nextTickAt,
  FIELD.lastTickAt,
  FIELD.lastRestartAt,
  FIELD.lastRestartReason,
];

describe('decodePollerItem: whole-number system fields', () => {
  describe.each(WHOLE_NUMBER_FIELDS)('%s', (field, min) => {
    it('reads a whole number the system wrote', () => {
      // act
      const item = decode({ [field]: { N: String(min + 41) } });

      // assess
      expect(item[field]).toBe(min + 41);
      expect(item.systemProblems).toEqual([]);
      expect(item.typedFields.has(field)).toBe(true);
    });

    it(`reads its smallest value, ${min}`, () => {
      expect(decode({ [field]: { N: String(min) } })[field]).toBe(min);
    });

    it('counts as absent, with no problem, when missing', () => {
      // act
      const item = decode({});

      // assess
      expect(item[field]).toBeUndefined();
      expect(item.systemProblems).toEqual([]);
      expect(item.typedFields.has(field)).toBe(false);
    });

    it.each(BAD_NUMBERS)('counts as absent and is reported when it holds %s', (_, value) => {
      // act
      const item = decode({ [field]: value });

      // assess
      expect(item[field]).toBeUndefined();
      expect(item.systemProblems).toHaveLength(1);
      const [problem] = item.systemProblems;
      expect(problem).toBeInstanceOf(InvalidControlItemError);
      expect(problem?.field).toBe(field);
      expect(problem?.pollerId).toBe(POLLER_ID);
      expect(problem?.message).toContain(
        `poller '${POLLER_ID}': ${field} must be a whole number (N) from ${min}`,
      );
      expect(problem?.value).toBe(describeAttribute(value));
    });

    if (min > 0) {
      it(`counts 0 as absent (the system takes it from ${min})`, () => {
        expect(decode({ [field]: { N: '0' } })[field]).toBeUndefined();
      });
    }

    it('still says the item holds a number there when it is an invalid one (the stream filter tests that)', () => {
      expect(decode({ [field]: { N: '2.5' } }).typedFields.has(field)).toBe(true);
      expect(decode({ [field]: { S: '3' } }).typedFields.has(field)).toBe(false);
    });
  });
});

describe('decodePollerItem: text system fields', () => {
  describe.each(TEXT_FIELDS)('%s', (field) => {
    it('reads the text verbatim', () => {
      // act
      const item = decode({ [field]: { S: '2030-01-01T00:00:00.000Z' } });

      // assess
      expect(item[field]).toBe('2030-01-01T00:00:00.000Z');
      expect(item.systemProblems).toEqual([]);
    });

    it('counts as absent, with no problem, when missing', () => {
      const item = decode({});
      expect(item[field]).toBeUndefined();
      expect(item.systemProblems).toEqual([]);
    });

    it.each<[string, AttributeValue]>([
      ['a number', { N: '5' }],
      ['a boolean', { BOOL: false }],
      ['a map', { M: { at: { S: 'x' } } }],
    ])('counts as absent and is reported when it holds %s', (_, value) => {
      // act
      const item = decode({ [field]: value });

      // assess
      expect(item[field]).toBeUndefined();
      expect(item.systemProblems.map((problem) => problem.field)).toEqual([field]);
      expect(item.systemProblems[0]?.message).toContain(`${field} must be a string (S)`);
    });
  });
});

describe('decodePollerItem: lastError', () => {
  it('reads the message and the time the system recorded', () => {
    // act
    const item = decode({
      [FIELD.lastError]: { M: { message: { S: 'boom' }, at: { S: '2030-01-01T00:00:00.000Z' } } },
    });

    // assess
    expect(item.lastError).toEqual({ message: 'boom', at: '2030-01-01T00:00:00.000Z' });
  });

  it('reads a message without a time', () => {
    expect(decode({ [FIELD.lastError]: { M: { message: { S: 'boom' } } } }).lastError).toEqual({
      message: 'boom',
      at: undefined,
    });
  });

  it.each<[string, AttributeValue]>([
    ['a string', { S: 'boom' }],
    ['a map without a message', { M: { at: { S: 'x' } } }],
    ['a map whose message is a number', { M: { message: { N: '1' } } }],
  ])('counts as absent and is reported when it is %s', (_, value) => {
    // act
    const item = decode({ [FIELD.lastError]: value });

    // assess
    expect(item.lastError).toBeUndefined();
    expect(item.systemProblems.map((problem) => problem.field)).toEqual([FIELD.lastError]);
  });
});

describe('decodePollerItem: operator fields', () => {
  it('validates each field as readConfig does, and reports none of them as system problems', () => {
    // prepare
    const raw: RawItem = {
      [FIELD.id]: { S: POLLER_ID },
      [FIELD.running]: { S: 'yes' },
      [FIELD.waitSeconds]: { N: '2.5' },
      [FIELD.target]: { S: 'worker' },
    };

    // act
    const item = decodePollerItem(POLLER_ID, raw);

    // assess
    expect(item.operator.running).toBeInstanceOf(InvalidControlItemError);
    expect(item.operator.intervalMs).toBe(2_500);
    expect(item.operator.target).toBe('worker');
    expect(item.operator.payload).toBeUndefined();
    expect(item.waitSeconds).toBe(2.5);
    expect(item.config).toEqual(readConfig(POLLER_ID, raw));
    expect(item.systemProblems).toEqual([]);
  });

  it('keeps no waitSeconds when the field is invalid', () => {
    expect(decode({ [FIELD.waitSeconds]: { N: '0' } }).waitSeconds).toBeUndefined();
  });

  it('falls back field by field to the last valid configuration, exactly as readConfig', () => {
    // prepare
    const previous: PollerConfig = { running: true, intervalMs: 1_000, target: 'old', payload: { a: 1 } };
    const raw: RawItem = {
      [FIELD.id]: { S: POLLER_ID },
      [FIELD.running]: { BOOL: false },
      [FIELD.waitSeconds]: { S: 'abc' },
      [FIELD.target]: { N: '3' },
    };

    // act
    const reading = configOf(decodePollerItem(POLLER_ID, raw).operator, previous);

    // assess
    expect(reading).toEqual(readConfig(POLLER_ID, raw, previous));
    expect(reading.config).toEqual({ running: false, intervalMs: 1_000, target: 'old', payload: undefined });
    expect(reading.problems.map((problem) => problem.field)).toEqual([FIELD.waitSeconds, FIELD.target]);
  });
});
