import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbClient, localClientOptions } from '../../../functions/shared/aws-clients';
import {
  DEFAULT_OUTCOME_RECORD_SECONDS,
  ENV,
  FIELD,
  RECENT_RESULTS_TRIM_AT,
} from '../../../functions/shared/contract';
import { recordTickOutcome } from '../../../functions/shared/control-table';
import {
  InvalidWorkerEventError,
  InvalidWorkerSettingError,
  TickFailedError,
} from '../../../functions/shared/errors';
import { METRIC_NAMESPACE } from '../../../functions/shared/metrics';
import { OUTCOME_WRITE_BUDGET_MS } from '../../../functions/shared/tick-outcome-write';
import { OutcomeSampler } from '../../../functions/worker-kit/outcome-sampler';
import {
  createTickHandler,
  type OutcomeStore,
  outcomeRecordMs,
  type Tick,
  type TickKitDeps,
  type TickWork,
} from '../../../functions/worker-kit/tick-handler';
import { failingProxy } from '../../support/failing-proxy';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';
import { type SimulatedClock, simulatedClock } from '../../support/simulated-clock';

const TABLE_NAME = 'control';
const START_MS = Date.parse('2030-01-01T00:00:00.000Z');

let local: LocalDynamoDb;
let pollerId: string;
let counter = 0;
let clock: SimulatedClock;
let lines: string[];

beforeAll(async () => {
  local = await startLocalDynamoDb({ controlTable: TABLE_NAME });
});

afterAll(async () => {
  await local?.close();
});

beforeEach(async () => {
  counter += 1;
  pollerId = `poller-${counter}`;
  clock = simulatedClock({ startMs: START_MS });
  lines = [];
  await local.client.send(
    new PutItemCommand({
      TableName: TABLE_NAME,
      // A loop that claimed ahead of every tick these tests run.
      Item: {
        [FIELD.id]: { S: pollerId },
        [FIELD.running]: { BOOL: true },
        [FIELD.claimedSeq]: { N: '1000' },
      },
    }),
  );
});

const table: OutcomeStore = {
  record: (id, outcome, recording) => recordTickOutcome(local.client, TABLE_NAME, id, outcome, recording),
};

function handlerFor(work: TickWork<unknown>, overrides: Partial<TickKitDeps> = {}) {
  return createTickHandler(work, {
    clock,
    metrics: (line) => lines.push(line),
    tableName: TABLE_NAME,
    outcomes: table,
    sampler: new OutcomeSampler(DEFAULT_OUTCOME_RECORD_SECONDS * 1000),
    perPollerMetrics: false,
    ...overrides,
  });
}

/** The tick due at `seq` seconds after START_MS (a 1 s poller). */
const tickEvent = (seq: number) => ({
  pollerId,
  seq,
  scheduledAt: new Date(START_MS + seq * 1000).toISOString(),
  payload: { url: 'http://feed.invalid/' },
});

/** Runs tick `seq`, starting `lateMs` after it was due and working for `workMs`, failing when `failWith` is given. */
async function runTick(
  seq: number,
  options: { lateMs?: number; workMs?: number; failWith?: Error } = {},
  handler = handlerFor(async () => {
    clock.advance(options.workMs ?? 30);
    if (options.failWith) throw options.failWith;
    return { detail: 'HTTP 200', properties: { status: 200, latencyMs: options.workMs ?? 30 } };
  }),
) {
  clock.advanceTo(START_MS + seq * 1000 + (options.lateMs ?? 5));
  return handler(tickEvent(seq), {});
}

async function recordedSeqs(): Promise<number[]> {
  const result = await local.client.send(
    new GetItemCommand({ TableName: TABLE_NAME, Key: { [FIELD.id]: { S: pollerId } }, ConsistentRead: true }),
  );
  return (result.Item?.[FIELD.recentResults]?.L ?? []).map((entry) => Number(entry.M?.seq?.N));
}

function metricLines(): Record<string, unknown>[] {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the tick the work sees', () => {
  it('has pollerId, seq, payload, the idempotency key pollerId#seq and how late the worker started', async () => {
    // prepare
    const seen: Tick[] = [];
    const handler = handlerFor(async (tick) => {
      seen.push(tick);
    });

    // act
    await runTick(7, { lateMs: 42 }, handler);

    // assess
    expect(seen).toEqual([
      {
        pollerId,
        seq: 7,
        scheduledAt: '2030-01-01T00:00:07.000Z',
        scheduledAtMs: START_MS + 7000,
        payload: { url: 'http://feed.invalid/' },
        idempotencyKey: `${pollerId}#7`,
        latenessMs: 42,
      },
    ]);
  });

  it('is refused before the work runs when the event is not a tick', async () => {
    // prepare
    let ran = false;
    const handler = handlerFor(async () => {
      ran = true;
    });

    // act
    const run = handler({ pollerId, seq: 'seven' }, {});

    // assess
    await expect(run).rejects.toThrow(InvalidWorkerEventError);
    expect(ran).toBe(false);
    expect(lines).toEqual([]);
  });
});

describe('one metric line per tick', () => {
  it('counts a success with its duration and lateness, per table, with the poller, seq and report as context', async () => {
    // act
    const result = await runTick(3, { lateMs: 12, workMs: 35 });

    // assess
    expect(result).toEqual({
      pollerId,
      seq: 3,
      result: 'ok',
      at: '2030-01-01T00:00:03.047Z',
      durationMs: 35,
      detail: 'HTTP 200',
    });
    expect(metricLines()).toEqual([
      {
        _aws: {
          Timestamp: START_MS + 3047,
          CloudWatchMetrics: [
            {
              Namespace: METRIC_NAMESPACE,
              Dimensions: [['ControlTable']],
              Metrics: [
                { Name: 'TickSucceeded', Unit: 'Count' },
                { Name: 'TickFailed', Unit: 'Count' },
                { Name: 'TickDurationMs', Unit: 'Milliseconds' },
                { Name: 'WorkerLatenessMs', Unit: 'Milliseconds' },
              ],
            },
          ],
        },
        ControlTable: TABLE_NAME,
        TickSucceeded: 1,
        TickFailed: 0,
        TickDurationMs: 35,
        WorkerLatenessMs: 12,
        pollerId,
        seq: 3,
        result: 'ok',
        detail: 'HTTP 200',
        status: 200,
        latencyMs: 35,
      },
    ]);
  });

  it('adds the per-poller dimension set only when PER_POLLER_METRICS is on', async () => {
    // act
    await runTick(
      3,
      {},
      handlerFor(async () => undefined, { perPollerMetrics: true }),
    );

    // assess
    const [line] = metricLines();
    expect(line).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [['ControlTable'], ['ControlTable', 'PollerId']] }] },
      PollerId: pollerId,
    });
  });

  it('counts a failure with its reason, and rethrows the very error so Lambda counts the invocation as failed', async () => {
    // prepare
    const failure = new TickFailedError(pollerId, 4, 'HTTP 404', { properties: { status: 404 } });

    // act
    const run = runTick(4, { failWith: failure });

    // assess
    await expect(run).rejects.toBe(failure);
    expect(metricLines()).toEqual([
      expect.objectContaining({
        TickSucceeded: 0,
        TickFailed: 1,
        TickDurationMs: 30,
        result: 'failed',
        detail: 'HTTP 404',
        status: 404,
        seq: 4,
      }),
    ]);
  });

  it('describes any other error a worker throws by its name and message', async () => {
    // act
    const run = runTick(4, { failWith: new RangeError('quota exceeded') });

    // assess
    await expect(run).rejects.toThrow(RangeError);
    expect(metricLines()[0]).toMatchObject({ result: 'failed', detail: 'RangeError: quota exceeded' });
  });

  it('writes no metric line and records nothing when the worker has no control table', async () => {
    // act
    await runTick(
      3,
      {},
      handlerFor(async () => undefined, { tableName: undefined, outcomes: undefined }),
    );

    // assess
    expect(lines).toEqual([]);
    expect(await recordedSeqs()).toEqual([]);
  });
});

describe('recording outcomes cheaply', () => {
  it(`records the first success, then at most one every ${DEFAULT_OUTCOME_RECORD_SECONDS} s, and every failure`, async () => {
    // prepare: one sandbox's handler for a 1 s poller whose ticks 13 and 14 fail
    const handler = handlerFor(async (tick) => {
      clock.advance(30);
      if (tick.seq === 13 || tick.seq === 14) throw new Error(`ECONNREFUSED ${tick.seq}`);
    });

    // act
    for (let seq = 1; seq <= 25; seq += 1) await runTick(seq, {}, handler).catch(() => undefined);

    // assess: 1 (first), 11 (10 s later), 13 and 14 (failures), 15 (first success after a failure), 25 (10 s later)
    expect(await recordedSeqs()).toEqual([1, 11, 13, 14, 15, 25]);
    expect(metricLines()).toHaveLength(25);
  });

  it('records every success with OUTCOME_RECORD_SECONDS=0', async () => {
    // prepare
    const handler = handlerFor(async () => undefined, { sampler: new OutcomeSampler(0) });

    // act
    for (let seq = 1; seq <= 3; seq += 1) await runTick(seq, {}, handler);

    // assess
    expect(await recordedSeqs()).toEqual([1, 2, 3]);
  });

  it('never fails a tick because the table is unreachable: a line after the metric line says why nothing was recorded', async () => {
    // prepare: a client of an endpoint that refuses connections
    const unreachable = createDynamoDbClient(localClientOptions('http://127.0.0.1:9', 1));
    const handler = handlerFor(async () => undefined, {
      outcomes: { record: (id, outcome) => recordTickOutcome(unreachable, TABLE_NAME, id, outcome) },
    });

    // act
    const result = await runTick(3, {}, handler);

    // assess
    unreachable.destroy();
    expect(result.result).toBe('ok');
    const [metric, notRecorded] = metricLines();
    expect(metric).toMatchObject({ result: 'ok', TickSucceeded: 1 });
    expect(metric).not.toHaveProperty('outcomeNotRecorded');
    expect(notRecorded).toEqual({
      pollerId,
      seq: 3,
      outcomeNotRecorded: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('writes the metric line before recording: a write that never ends does not hold the line back', async () => {
    // prepare
    const handler = handlerFor(async () => undefined, {
      outcomes: { record: () => new Promise(() => {}) },
    });

    // act
    void runTick(3, {}, handler);
    await new Promise((resolve) => setImmediate(resolve));

    // assess
    expect(metricLines()).toEqual([expect.objectContaining({ seq: 3, TickSucceeded: 1 })]);
  });

  it(`records nothing when the Lambda context leaves less than ${OUTCOME_WRITE_BUDGET_MS} ms, and says so after the metric line`, async () => {
    // prepare: a context as Lambda's, 5 s of a 10 s timeout spent on the work and a cold start
    const context = { getRemainingTimeInMillis: () => OUTCOME_WRITE_BUDGET_MS - 250 };
    const handler = handlerFor(async () => undefined);

    // act
    clock.advanceTo(START_MS + 3005);
    const result = await handler(tickEvent(3), context);

    // assess
    expect(result.result).toBe('ok');
    expect(await recordedSeqs()).toEqual([]);
    const [metric, notRecorded] = metricLines();
    expect(metric).toMatchObject({ seq: 3, TickSucceeded: 1 });
    expect(notRecorded).toEqual({
      pollerId,
      seq: 3,
      outcomeNotRecorded: `no time left to record: ${OUTCOME_WRITE_BUDGET_MS - 250} ms of the invocation left, a write needs ${OUTCOME_WRITE_BUDGET_MS} ms`,
    });
  });

  it('records as usual when the Lambda context leaves time for it', async () => {
    // prepare
    const context = { getRemainingTimeInMillis: () => 8_000 };
    const handler = handlerFor(async () => undefined);

    // act
    clock.advanceTo(START_MS + 3005);
    await handler(tickEvent(3), context);

    // assess
    expect(await recordedSeqs()).toEqual([3]);
    expect(metricLines()).toHaveLength(1);
  });

  it('counts an outcome whose trim failed as recorded: no outcomeNotRecorded line, and the rule counts from it', async () => {
    // prepare: every success recorded until the list is one short of its trim; then an endpoint failing the trim
    const everyTick = handlerFor(async () => undefined, { sampler: new OutcomeSampler(0) });
    for (let seq = 1; seq < RECENT_RESULTS_TRIM_AT; seq += 1) await runTick(seq, {}, everyTick);
    const proxy = await failingProxy(local.endpoint, (call) => call === 2);
    const client = createDynamoDbClient(localClientOptions(proxy.endpoint, 1));
    const handler = handlerFor(async () => undefined, {
      outcomes: { record: (id, outcome) => recordTickOutcome(client, TABLE_NAME, id, outcome) },
    });
    lines = [];

    // act: the first success this sandbox sees is recorded (its trim fails); the next, 1 s later, is not due
    await runTick(RECENT_RESULTS_TRIM_AT, {}, handler);
    await runTick(RECENT_RESULTS_TRIM_AT + 1, {}, handler).finally(async () => {
      client.destroy();
      await proxy.close();
    });

    // assess
    expect(proxy.calls()).toBe(2);
    expect(metricLines().map((line) => line.outcomeNotRecorded)).toEqual([undefined, undefined]);
    expect(metricLines()).toHaveLength(2);
    expect((await recordedSeqs()).at(-1)).toBe(RECENT_RESULTS_TRIM_AT);
  });

  it('tries again at the next success when a write failed', async () => {
    // prepare
    let refuse = true;
    const attempts: number[] = [];
    const handler = handlerFor(async () => undefined, {
      outcomes: {
        record: async (id, outcome) => {
          attempts.push(outcome.seq);
          if (refuse) throw new Error('ProvisionedThroughputExceededException');
          return table.record(id, outcome);
        },
      },
    });

    // act
    await runTick(1, {}, handler);
    refuse = false;
    await runTick(2, {}, handler);
    await runTick(3, {}, handler);

    // assess
    expect(attempts).toEqual([1, 2]);
    expect(await recordedSeqs()).toEqual([2]);
  });
});

describe('outcomeRecordMs', () => {
  it(`is ${DEFAULT_OUTCOME_RECORD_SECONDS} s when OUTCOME_RECORD_SECONDS is unset or blank, and the seconds given otherwise`, () => {
    expect(outcomeRecordMs({})).toBe(DEFAULT_OUTCOME_RECORD_SECONDS * 1000);
    expect(outcomeRecordMs({ [ENV.outcomeRecordSeconds]: ' ' })).toBe(DEFAULT_OUTCOME_RECORD_SECONDS * 1000);
    expect(outcomeRecordMs({ [ENV.outcomeRecordSeconds]: '2.5' })).toBe(2500);
    expect(outcomeRecordMs({ [ENV.outcomeRecordSeconds]: '0' })).toBe(0);
  });

  it('refuses a value that is not a number of seconds from 0, naming the variable and the value', () => {
    const read = () => outcomeRecordMs({ [ENV.outcomeRecordSeconds]: 'ten' });
    expect(read).toThrow(InvalidWorkerSettingError);
    expect(read).toThrow('OUTCOME_RECORD_SECONDS must be a number of seconds from 0; got "ten"');
    expect(() => outcomeRecordMs({ [ENV.outcomeRecordSeconds]: '-1' })).toThrow(InvalidWorkerSettingError);
  });
});

describe('a ctl trigger fire', () => {
  it('is recorded every time, apart from the sampling and from lastResult', async () => {
    // prepare: a success recorded at tick 1 holds the next one back for 10 s
    const handler = handlerFor(async () => {
      clock.advance(30);
    });
    await runTick(1, {}, handler);
    clock.advance(500);

    // act: two trigger fires within the sampling period, then tick 2 (still sampled out)
    for (const trigger of ['op-1', 'op-2']) {
      await handler({ ...tickEvent(-1), seq: trigger === 'op-1' ? -1 : -2, trigger }, {});
    }
    await runTick(2, {}, handler);

    // assess
    expect(await recordedSeqs()).toEqual([1, -1, -2]);
    const item = await local.client.send(
      new GetItemCommand({
        TableName: TABLE_NAME,
        Key: { [FIELD.id]: { S: pollerId } },
        ConsistentRead: true,
      }),
    );
    expect(item.Item?.[FIELD.lastResultSeq]).toEqual({ N: '1' });
    expect(metricLines().map((line) => line.trigger)).toEqual([undefined, 'op-1', 'op-2', undefined]);
  });
});
