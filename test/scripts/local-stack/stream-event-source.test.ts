import { describe, expect, it } from 'vitest';
import {
  matchesFilter,
  parseFilterPattern,
  UnsupportedFilterPatternError,
} from '../../../scripts/local-stack/event-filter';
import {
  checkpointOf,
  type InvokeOutcome,
  loadStartMapping,
  StreamEventSource,
} from '../../../scripts/local-stack/stream-event-source';
import {
  type StreamEvent,
  type StreamRecord,
  TableStream,
} from '../../../scripts/local-stack/stream-records';

const stream = new TableStream('us-east-1', 'control', new Date('2026-11-22T08:00:00.000Z'));
const running = (id: string) => ({ id: { S: id }, running: { BOOL: true } });
const created = (id: string) => stream.recordOf({ pollerId: id, before: undefined, after: running(id) });
const seqOf = (record: StreamRecord) => record.dynamodb.SequenceNumber;
const idsOf = (event: StreamEvent) => event.Records.map((record) => record.dynamodb.Keys.id?.S);

describe('the local table stream', () => {
  it('turns changes into INSERT, MODIFY and REMOVE records with both images and increasing sequence numbers', () => {
    // act
    const insert = stream.recordOf({ pollerId: 'p', before: undefined, after: running('p') });
    const modify = stream.recordOf({ pollerId: 'p', before: running('p'), after: { id: { S: 'p' } } });
    const remove = stream.recordOf({ pollerId: 'p', before: { id: { S: 'p' } }, after: undefined });

    // assess
    expect(insert).toMatchObject({
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/control/stream/2026-11-22T08:00:00.000',
      dynamodb: { Keys: { id: { S: 'p' } }, NewImage: running('p'), StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    expect(insert.dynamodb.OldImage).toBeUndefined();
    expect(modify).toMatchObject({ eventName: 'MODIFY', dynamodb: { OldImage: running('p') } });
    expect(remove.eventName).toBe('REMOVE');
    expect(remove.dynamodb.NewImage).toBeUndefined();
    const sequence = [insert, modify, remove].map((record) => BigInt(seqOf(record)));
    expect(sequence).toEqual([...sequence].sort((a, b) => (a < b ? -1 : 1)));
    expect(new Set(sequence).size).toBe(3);
    expect(new Set([insert, modify, remove].map((record) => record.eventID)).size).toBe(3);
  });
});

describe('Lambda event filter matching', () => {
  it('refuses matching it does not implement instead of matching wrongly', () => {
    // act / assess
    expect(() => parseFilterPattern('{"eventName":[{"prefix":"IN"}]}')).toThrow(
      UnsupportedFilterPatternError,
    );
    expect(() => parseFilterPattern('{"eventName":"INSERT"}')).toThrow(
      /eventName must be an object or a list/,
    );
    expect(() => parseFilterPattern('[]')).toThrow(/not a JSON object/);
  });

  it('matches exists only on leaf values, and any element of an array', () => {
    // prepare
    const exists = parseFilterPattern('{"dynamodb":{"NewImage":[{"exists":true}]}}');
    const anyOf = parseFilterPattern('{"tags":["b"]}');
    const absent = parseFilterPattern('{"dynamodb":{"OldImage":{"running":{"BOOL":[{"exists":false}]}}}}');

    // act / assess
    expect(matchesFilter(exists, { dynamodb: { NewImage: { id: { S: 'p' } } } })).toBe(false);
    expect(matchesFilter(anyOf, { tags: ['a', 'b'] })).toBe(true);
    expect(matchesFilter(anyOf, { tags: ['a'] })).toBe(false);
    expect(matchesFilter(absent, { dynamodb: {} })).toBe(true);
    expect(matchesFilter(absent, { dynamodb: { OldImage: { running: { BOOL: false } } } })).toBe(false);
  });
});

describe('checkpointOf: a partial batch response read as Lambda reads it', () => {
  const batch = [created('a'), created('b'), created('c')];

  it.each([
    ['no response', undefined],
    ['null', null],
    ['an empty list', { batchItemFailures: [] }],
    ['a null list', { batchItemFailures: null }],
  ])('counts %s as success', (_, response) => {
    expect(checkpointOf(batch, response)).toEqual({ kind: 'done' });
  });

  it('retries from the lowest sequence number named, whatever the order', () => {
    // act
    const outcome = checkpointOf(batch, {
      batchItemFailures: [
        { itemIdentifier: seqOf(batch[2] as StreamRecord) },
        { itemIdentifier: seqOf(batch[1] as StreamRecord) },
      ],
    });

    // assess
    expect(outcome).toMatchObject({ kind: 'retry', fromIndex: 1 });
  });

  it.each([
    ['an empty identifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a missing identifier', { batchItemFailures: [{}] }],
    ['an identifier not in the batch', { batchItemFailures: [{ itemIdentifier: '42' }] }],
    ['a list that is not a list', { batchItemFailures: 'all' }],
  ])('fails the whole batch on %s', (_, response) => {
    expect(checkpointOf(batch, response)).toMatchObject({ kind: 'retry', fromIndex: 0 });
  });
});

describe('the local stream event source (the mapping)', () => {
  /** Collects what the mapping does with a function that answers from `respond`. */
  function mapping(respond: (event: StreamEvent, call: number) => InvokeOutcome, batchSize = 2) {
    const calls: StreamEvent[] = [];
    const failed: { ids: (string | undefined)[]; reason: string }[] = [];
    const source = new StreamEventSource({
      batchSize,
      retryAttempts: 2,
      filters: [parseFilterPattern('{"dynamodb":{"NewImage":{"running":{"BOOL":[true]}}}}')],
      retryDelayMs: () => 0,
      invoke: async (event) => {
        calls.push(event);
        return respond(event, calls.length);
      },
      onRecordsFailed: (records, reason) =>
        failed.push({ ids: records.map((record) => record.dynamodb.Keys.id?.S), reason }),
    });
    return { source, calls, failed };
  }

  it('drops records no filter matches, and delivers the others in order in batches of batchSize', async () => {
    // prepare
    const { source, calls } = mapping(() => ({ result: { batchItemFailures: [] } }));
    const stopped = stream.recordOf({ pollerId: 'off', before: undefined, after: { id: { S: 'off' } } });

    // act
    for (const record of [created('a'), stopped, created('b'), created('c')]) source.push(record);
    await source.whenIdle();

    // assess
    expect(calls.map(idsOf)).toEqual([['a', 'b'], ['c']]);
  });

  it('retries from the checkpoint and reports what still fails after retryAttempts retries', async () => {
    // prepare: the function always names the second record of the batch it gets, if it has two
    const { source, calls, failed } = mapping((event) => ({
      result: {
        batchItemFailures: event.Records.slice(1).map((record) => ({ itemIdentifier: seqOf(record) })),
      },
    }));

    // act
    source.push(created('a'));
    source.push(created('b'));
    await source.whenIdle();

    // assess: [a, b], then b alone, which succeeds
    expect(calls.map(idsOf)).toEqual([['a', 'b'], ['b']]);
    expect(failed).toEqual([]);
  });

  it('retries a batch whose invocation failed as a whole, then gives up on its records', async () => {
    // prepare
    const { source, calls, failed } = mapping(() => ({
      error: { errorType: 'Runtime.ExitError', errorMessage: 'signal: killed' },
    }));

    // act
    source.push(created('a'));
    source.push(created('b'));
    await source.whenIdle();

    // assess: the first attempt and two retries
    expect(calls.map(idsOf)).toEqual([
      ['a', 'b'],
      ['a', 'b'],
      ['a', 'b'],
    ]);
    expect(failed).toEqual([
      { ids: ['a', 'b'], reason: 'the function failed: Runtime.ExitError: signal: killed (after 2 retries)' },
    ]);
  });
});

describe("the stack's own mapping", () => {
  it('takes its batch size, retries and filters from the CDK construct', async () => {
    // act
    const mappingConfig = await loadStartMapping();

    // assess
    expect(mappingConfig).toMatchObject({ batchSize: 10, retryAttempts: 3 });
    expect(mappingConfig.filters).toHaveLength(5);
  });
});
