import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { FIELD, MAX_PAYLOAD_BYTES, type PollerConfig } from '../../../functions/shared/contract';
import {
  attributeToJson,
  describeAttribute,
  jsonToAttribute,
  parsePayload,
  parseRunning,
  parseTarget,
  parseWaitSeconds,
  type RawItem,
  readConfig,
} from '../../../functions/shared/control-item';
import { InvalidControlItemError } from '../../../functions/shared/errors';

const POLLER_ID = 'orders';

const validItem = (overrides: RawItem = {}): RawItem => ({
  [FIELD.id]: { S: POLLER_ID },
  [FIELD.running]: { BOOL: true },
  [FIELD.waitSeconds]: { N: '2' },
  ...overrides,
});

function withoutField(item: RawItem, field: string): RawItem {
  const { [field]: _removed, ...rest } = item;
  return rest;
}

function expectInvalid(result: unknown): InvalidControlItemError {
  expect(result).toBeInstanceOf(InvalidControlItemError);
  return result as InvalidControlItemError;
}

describe('readConfig: invalid fields', () => {
  it.each<{ field: string; attribute: AttributeValue | undefined; value: string }>([
    { field: FIELD.waitSeconds, attribute: undefined, value: 'nothing (the attribute is missing)' },
    { field: FIELD.waitSeconds, attribute: { S: 'abc' }, value: 'S "abc"' },
    { field: FIELD.waitSeconds, attribute: { N: '0' }, value: 'N "0"' },
    { field: FIELD.waitSeconds, attribute: { N: '-5' }, value: 'N "-5"' },
    { field: FIELD.waitSeconds, attribute: { N: 'NaN' }, value: 'N "NaN"' },
    { field: FIELD.waitSeconds, attribute: { N: '3601' }, value: 'N "3601"' },
    { field: FIELD.waitSeconds, attribute: { N: '1e400' }, value: 'N "1e400"' },
    { field: FIELD.waitSeconds, attribute: { N: '0.099' }, value: 'N "0.099"' },
    { field: FIELD.running, attribute: undefined, value: 'nothing (the attribute is missing)' },
    { field: FIELD.running, attribute: { S: 'true' }, value: 'S "true"' },
    { field: FIELD.running, attribute: { N: '1' }, value: 'N "1"' },
    { field: FIELD.target, attribute: { S: 'not a function!' }, value: 'S "not a function!"' },
    { field: FIELD.target, attribute: { S: 'arn:aws:s3:::my-bucket' }, value: 'S "arn:aws:s3:::my-bucket"' },
    { field: FIELD.target, attribute: { N: '42' }, value: 'N "42"' },
    { field: FIELD.payload, attribute: { S: '{"url":"http://x"}' }, value: 'S "{\\"url\\":\\"http://x\\"}"' },
    { field: FIELD.payload, attribute: { L: [{ S: 'a' }] }, value: 'L ["a"]' },
  ])('rejects $field given $value, naming the field and the value', ({ field, attribute, value }) => {
    // prepare
    const item =
      attribute === undefined ? withoutField(validItem(), field) : validItem({ [field]: attribute });

    // act
    const { config, problems } = readConfig(POLLER_ID, item);

    // assess
    expect(problems).toHaveLength(1);
    const problem = expectInvalid(problems[0]);
    expect(problem.name).toBe('InvalidControlItemError');
    expect(problem.pollerId).toBe(POLLER_ID);
    expect(problem.field).toBe(field);
    expect(problem.value).toBe(value);
    expect(problem.message).toContain(`poller '${POLLER_ID}'`);
    expect(problem.message).toContain(field);
    expect(problem.message).toContain(value);
    if (field === FIELD.running || field === FIELD.waitSeconds) expect(config).toBeUndefined();
  });

  it('rejects a payload larger than MAX_PAYLOAD_BYTES, naming its size', () => {
    // prepare
    const big = 'x'.repeat(MAX_PAYLOAD_BYTES);
    const item = validItem({ [FIELD.payload]: { M: { blob: { S: big } } } });
    const bytes = Buffer.byteLength(JSON.stringify({ blob: big }));

    // act
    const { problems } = readConfig(POLLER_ID, item);

    // assess
    expect(problems).toHaveLength(1);
    const problem = expectInvalid(problems[0]);
    expect(problem.field).toBe(FIELD.payload);
    expect(problem.value).toBe(`a map of ${bytes} bytes`);
    expect(problem.message).toContain('payload');
    expect(problem.message).toContain(`${bytes} bytes`);
    expect(problem.message).toContain(String(MAX_PAYLOAD_BYTES));
  });

  it('measures the payload limit in UTF-8 bytes, not characters', () => {
    // prepare
    const text = 'é'.repeat(MAX_PAYLOAD_BYTES / 2);

    // act
    const result = parsePayload(POLLER_ID, { M: { text: { S: text } } });

    // assess
    expect(expectInvalid(result).field).toBe(FIELD.payload);
  });

  it('reports every invalid field at once and keeps the valid ones', () => {
    // prepare
    const previous: PollerConfig = { running: true, intervalMs: 5_000 };
    const item = validItem({ [FIELD.waitSeconds]: { S: 'abc' }, [FIELD.target]: { S: 'bad target' } });

    // act
    const { config, problems } = readConfig(POLLER_ID, item, previous);

    // assess
    expect(problems.map((problem) => problem.field)).toEqual([FIELD.waitSeconds, FIELD.target]);
    expect(config).toEqual({ running: true, intervalMs: 5_000, target: undefined, payload: undefined });
  });

  it('falls back to the previous value of each invalid field', () => {
    // prepare
    const previous: PollerConfig = {
      running: false,
      intervalMs: 5_000,
      target: 'worker-a',
      payload: { a: 1 },
    };
    const item: RawItem = {
      [FIELD.id]: { S: POLLER_ID },
      [FIELD.running]: { S: 'yes' },
      [FIELD.waitSeconds]: { N: '0' },
      [FIELD.target]: { S: 'no spaces allowed' },
      [FIELD.payload]: { S: 'not a map' },
    };

    // act
    const { config, problems } = readConfig(POLLER_ID, item, previous);

    // assess
    expect(problems).toHaveLength(4);
    expect(config).toEqual(previous);
  });
});

describe('readConfig: valid items', () => {
  it.each([
    { n: '1', intervalMs: 1_000 },
    { n: '1.5', intervalMs: 1_500 },
    { n: '2.25', intervalMs: 2_250 },
    { n: '3600', intervalMs: 3_600_000 },
  ])('reads waitseconds N "$n" as $intervalMs ms', ({ n, intervalMs }) => {
    // prepare
    const item = validItem({ [FIELD.waitSeconds]: { N: n } });

    // act
    const { config, problems } = readConfig(POLLER_ID, item);

    // assess
    expect(problems).toEqual([]);
    expect(config?.intervalMs).toBe(intervalMs);
  });

  it('reads a full item into a configuration', () => {
    // prepare
    const item = validItem({
      [FIELD.running]: { BOOL: false },
      [FIELD.target]: { S: 'arn:aws:lambda:eu-west-1:123456789012:function:my-worker:live' },
      [FIELD.payload]: { M: { url: { S: 'https://example.com' }, retries: { N: '3' } } },
    });

    // act
    const { config, problems } = readConfig(POLLER_ID, item);

    // assess
    expect(problems).toEqual([]);
    expect(config).toEqual({
      running: false,
      intervalMs: 2_000,
      target: 'arn:aws:lambda:eu-west-1:123456789012:function:my-worker:live',
      payload: { url: 'https://example.com', retries: 3 },
    });
  });

  it('treats a missing or NULL target and payload as absent', () => {
    // prepare
    const withNulls = validItem({ [FIELD.target]: { NULL: true }, [FIELD.payload]: { NULL: true } });

    // act
    const missing = readConfig(POLLER_ID, validItem());
    const nulls = readConfig(POLLER_ID, withNulls);

    // assess
    for (const { config, problems } of [missing, nulls]) {
      expect(problems).toEqual([]);
      expect(config?.target).toBeUndefined();
      expect(config?.payload).toBeUndefined();
    }
  });
});

describe('field parsers', () => {
  it.each([
    'my-worker',
    'my_worker:$LATEST',
    'my-worker:live',
    'arn:aws:lambda:us-east-1:123456789012:function:w',
  ])('accepts the target %s', (target) => {
    // act
    const result = parseTarget(POLLER_ID, { S: target });

    // assess
    expect(result).toBe(target);
  });

  it('accepts running as a BOOL', () => {
    // act
    const results = [parseRunning(POLLER_ID, { BOOL: true }), parseRunning(POLLER_ID, { BOOL: false })];

    // assess
    expect(results).toEqual([true, false]);
  });

  it('rounds waitseconds to whole milliseconds', () => {
    // act
    const intervalMs = parseWaitSeconds(POLLER_ID, { N: '1.0004' });

    // assess
    expect(intervalMs).toBe(1_000);
  });
});

describe('describeAttribute', () => {
  it.each<{ attribute: AttributeValue | undefined; expected: string }>([
    { attribute: { S: 'abc' }, expected: 'S "abc"' },
    { attribute: { N: '1.5' }, expected: 'N "1.5"' },
    { attribute: { BOOL: true }, expected: 'BOOL true' },
    { attribute: { NULL: true }, expected: 'NULL' },
    { attribute: { M: { a: { N: '1' } } }, expected: 'M {"a":1}' },
    { attribute: { L: [{ S: 'x' }, { BOOL: false }] }, expected: 'L ["x",false]' },
    { attribute: undefined, expected: 'nothing (the attribute is missing)' },
  ])('renders $expected the way the console shows it', ({ attribute, expected }) => {
    // act
    const text = describeAttribute(attribute);

    // assess
    expect(text).toBe(expected);
  });

  it('cuts a long value short', () => {
    // act
    const text = describeAttribute({ S: 'y'.repeat(500) });

    // assess
    expect(text.startsWith('S "yyy')).toBe(true);
    expect(text.endsWith('…')).toBe(true);
    expect(text.length).toBeLessThan(70);
  });
});

describe('attributeToJson / jsonToAttribute', () => {
  it('round-trips JSON through DynamoDB attributes unchanged', () => {
    // prepare
    const json = {
      url: 'https://example.com/ping?x=1',
      count: 3,
      ratio: 0.25,
      negative: -7,
      enabled: true,
      disabled: false,
      nothing: null,
      list: [1, 'two', { three: [3] }, []],
      nested: { deeper: { deepest: 'yes' }, empty: {} },
    };

    // act
    const roundTripped = attributeToJson(jsonToAttribute(json));

    // assess
    expect(roundTripped).toEqual(json);
  });

  it('round-trips attributes through JSON unchanged', () => {
    // prepare
    const attribute: AttributeValue = {
      M: {
        s: { S: 'text' },
        n: { N: '12.5' },
        b: { BOOL: true },
        z: { NULL: true },
        l: { L: [{ N: '1' }, { M: { k: { S: 'v' } } }] },
      },
    };

    // act
    const roundTripped = jsonToAttribute(attributeToJson(attribute));

    // assess
    expect(roundTripped).toEqual(attribute);
  });

  it('converts string and number sets to JSON arrays', () => {
    // act
    const json = [attributeToJson({ SS: ['a', 'b'] }), attributeToJson({ NS: ['1', '2.5'] })];

    // assess
    expect(json).toEqual([
      ['a', 'b'],
      [1, 2.5],
    ]);
  });
});
