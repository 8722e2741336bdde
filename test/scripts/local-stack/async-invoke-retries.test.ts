import { describe, expect, it } from 'vitest';
import type { AsyncFailureRecord } from '../../../scripts/local-stack/failure-records';
import type { FunctionRuntime, RunRequest } from '../../../scripts/local-stack/function-runtime';
import { InProcessFunction } from '../../../scripts/local-stack/in-process-function';
import {
  LAMBDA_ASYNC_SYSTEM_RETRY_DELAY_MS,
  LocalFunctions,
} from '../../../scripts/local-stack/local-functions';
import { type SimulatedClock, simulatedClock } from '../../support/simulated-clock';

/**
 * The local Lambda's asynchronous retries and on-failure destination, as Lambda's EventInvokeConfig sets them, on
 * a simulated clock: Lambda's own pauses (1 min, then 2 min) pass at once, and the record's time shows them.
 */
class FeedDownError extends Error {
  override readonly name = 'FeedDownError';
}

const TICK = { pollerId: 'feed', seq: 4, scheduledAt: '2030-01-01T00:00:04.000Z' };

const START_MS = Date.parse('2030-01-01T00:00:04.000Z');

function failingFunctions(failures: number): {
  functions: LocalFunctions;
  attempts: unknown[];
  /** The `awsRequestId` each attempt's handler was given. */
  requestIds: string[];
  clock: SimulatedClock;
} {
  const attempts: unknown[] = [];
  const requestIds: string[] = [];
  const clock = simulatedClock({ startMs: START_MS });
  const functions = new LocalFunctions({ clock });
  functions.register('worker', async (event, invocation) => {
    attempts.push(event);
    requestIds.push(invocation.requestId);
    if (attempts.length <= failures)
      throw new FeedDownError(`feed answered 503 (attempt ${attempts.length})`);
    return { ok: true };
  });
  return { functions, attempts, requestIds, clock };
}

/**
 * A worker whose first `startFailures` invocations cannot be run (its runtime fails before the handler, as a
 * sandbox that cannot start: a system error on AWS), then runs a handler that always fails.
 */
function unstartableFunctions(startFailures: number): {
  functions: LocalFunctions;
  ran: string[];
  clock: SimulatedClock;
} {
  const ran: string[] = [];
  const clock = simulatedClock({ startMs: START_MS });
  const functions = new LocalFunctions({ clock });
  const handler = new InProcessFunction(async (_event, invocation) => {
    ran.push(invocation.requestId);
    throw new FeedDownError('feed answered 503');
  }, 60_000);
  let starts = 0;
  const runtime: FunctionRuntime = {
    run: async (request: RunRequest) => {
      starts += 1;
      if (starts <= startFailures) throw new Error(`sandbox could not start (try ${starts})`);
      return handler.run(request);
    },
    endDeadlinesBy: (atMs) => handler.endDeadlinesBy(atMs),
    close: () => handler.close(),
  };
  functions.registerRuntime('worker', runtime);
  return { functions, ran, clock };
}

const recordsTo = (records: AsyncFailureRecord[]) => (record: AsyncFailureRecord) => records.push(record);

/** Lets the in-process attempts (real promises) and the simulated pauses between them run until `until` holds. */
async function settled(functions: LocalFunctions, until: () => boolean): Promise<void> {
  for (let turns = 0; !until() && turns < 100; turns += 1) {
    await functions.drain();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('asynchronous invocations that fail', () => {
  it('are tried 1 + retryAttempts times, then sent to the destination as Lambda’s invocation record', async () => {
    const { functions, attempts, clock } = failingFunctions(Number.POSITIVE_INFINITY);
    const records: AsyncFailureRecord[] = [];
    const errors: string[] = [];
    functions.configureAsyncInvoke('worker', {
      retryAttempts: 2,
      maxEventAgeMs: 3_600_000,
      onFailure: recordsTo(records),
    });

    functions.invokeAsync('worker', TICK, (error) => errors.push(error.errorMessage));
    await settled(functions, () => records.length > 0);

    expect(attempts).toHaveLength(3);
    expect(errors).toHaveLength(3);
    expect(clock.sleeps).toEqual([60_000, 120_000]);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      version: '1.0',
      timestamp: new Date(START_MS + 180_000).toISOString(),
      requestContext: {
        functionArn: expect.stringMatching(/:function:worker:\$LATEST$/),
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      },
      requestPayload: TICK,
      responseContext: { functionError: 'Unhandled' },
      responsePayload: { errorType: 'FeedDownError', errorMessage: 'feed answered 503 (attempt 3)' },
    });
  });

  it('go to the destination after one attempt when retries are 0', async () => {
    const { functions, attempts } = failingFunctions(Number.POSITIVE_INFINITY);
    const records: AsyncFailureRecord[] = [];
    functions.configureAsyncInvoke('worker', {
      retryAttempts: 0,
      maxEventAgeMs: 3_600_000,
      onFailure: recordsTo(records),
    });

    functions.invokeAsync('worker', TICK, () => {});
    await settled(functions, () => records.length > 0);

    expect(attempts).toHaveLength(1);
    expect(records[0]?.requestContext).toMatchObject({
      condition: 'RetriesExhausted',
      approximateInvokeCount: 1,
    });
  });

  it('send nothing to the destination when a retry succeeds', async () => {
    const { functions, attempts } = failingFunctions(1);
    const records: AsyncFailureRecord[] = [];
    functions.configureAsyncInvoke('worker', {
      retryAttempts: 2,
      maxEventAgeMs: 3_600_000,
      onFailure: recordsTo(records),
    });

    functions.invokeAsync('worker', TICK, () => {});
    await settled(functions, () => attempts.length >= 2);
    await functions.drain();

    expect(attempts).toHaveLength(2);
    expect(records).toEqual([]);
  });

  it('are given up as EventAgeExceeded when the next retry would come after the maximum event age', async () => {
    const { functions, attempts } = failingFunctions(Number.POSITIVE_INFINITY);
    const records: AsyncFailureRecord[] = [];
    // Lambda's smallest maximum age: the first retry (1 min later) is in time, the second (2 min after it) is not.
    functions.configureAsyncInvoke('worker', {
      retryAttempts: 2,
      maxEventAgeMs: 60_000,
      onFailure: recordsTo(records),
    });

    functions.invokeAsync('worker', TICK, () => {});
    await settled(functions, () => records.length > 0);

    expect(attempts).toHaveLength(2);
    expect(records[0]?.requestContext).toMatchObject({
      condition: 'EventAgeExceeded',
      approximateInvokeCount: 2,
    });
  });

  it('are not retried once the functions are closed (a stack switched off)', async () => {
    // A clock whose pauses end only when the test says so: the stack closes during the first one.
    const pauses: (() => void)[] = [];
    const attempts: unknown[] = [];
    const functions = new LocalFunctions({
      clock: { now: () => START_MS, sleep: () => new Promise<void>((resolve) => pauses.push(resolve)) },
    });
    functions.register('worker', async (event) => {
      attempts.push(event);
      throw new FeedDownError('feed answered 503');
    });
    const records: AsyncFailureRecord[] = [];
    functions.configureAsyncInvoke('worker', {
      retryAttempts: 2,
      maxEventAgeMs: 3_600_000,
      onFailure: recordsTo(records),
    });

    functions.invokeAsync('worker', TICK, () => {});
    await settled(functions, () => pauses.length > 0);
    await functions.close();
    for (const endPause of pauses) endPause();
    await settled(functions, () => false);

    expect(pauses).toHaveLength(1);
    expect(attempts).toHaveLength(1);
    expect(records).toEqual([]);
  });

  it('keep one request id across their attempts, the one the destination record names', async () => {
    const { functions, requestIds } = failingFunctions(Number.POSITIVE_INFINITY);
    const records: AsyncFailureRecord[] = [];
    functions.configureAsyncInvoke('worker', {
      retryAttempts: 2,
      maxEventAgeMs: 3_600_000,
      onFailure: recordsTo(records),
    });

    functions.invokeAsync('worker', TICK, () => {});
    functions.invokeAsync('worker', { ...TICK, seq: 5 }, () => {});
    await settled(functions, () => records.length > 1);

    const ids = records.map((record) => record.requestContext.requestId);
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(requestIds.filter((requestId) => requestId === id)).toHaveLength(3);
    }
  });
});

describe('asynchronous invocations that cannot be run (system errors)', () => {
  it('are tried again with a backoff from 1 s that does not count against retryAttempts', async () => {
    const { functions, ran, clock } = unstartableFunctions(3);
    const records: AsyncFailureRecord[] = [];
    const errors: string[] = [];
    functions.configureAsyncInvoke('worker', {
      retryAttempts: 0,
      maxEventAgeMs: 3_600_000,
      onFailure: recordsTo(records),
    });

    functions.invokeAsync('worker', TICK, (error) =>
      errors.push(`${error.errorType}: ${error.errorMessage}`),
    );
    await settled(functions, () => records.length > 0);

    expect(clock.sleeps).toEqual([1_000, 2_000, 4_000]);
    expect(errors.slice(0, 3)).toEqual([
      expect.stringMatching(/^ServiceException: .*could not start \(try 1\)/),
      expect.stringMatching(/^ServiceException: .*could not start \(try 2\)/),
      expect.stringMatching(/^ServiceException: .*could not start \(try 3\)/),
    ]);
    expect(ran).toHaveLength(1);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 1, requestId: ran[0] },
      responsePayload: { errorType: 'FeedDownError' },
    });
  });

  it('are given up as EventAgeExceeded once the next try would come after the maximum event age', async () => {
    const { functions, ran, clock } = unstartableFunctions(Number.POSITIVE_INFINITY);
    const records: AsyncFailureRecord[] = [];
    functions.configureAsyncInvoke('worker', {
      retryAttempts: 2,
      maxEventAgeMs: 60_000,
      onFailure: recordsTo(records),
    });

    functions.invokeAsync('worker', TICK, () => {});
    await settled(functions, () => records.length > 0);

    // 1 + 2 + 4 + 8 + 16 s = 31 s; the next pause (32 s) would end past 60 s.
    expect(clock.sleeps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(ran).toEqual([]);
    expect(records[0]?.requestContext).toMatchObject({
      condition: 'EventAgeExceeded',
      approximateInvokeCount: 0,
    });
  });

  it('wait at most 5 minutes between tries', () => {
    expect([1, 2, 9, 10, 20].map(LAMBDA_ASYNC_SYSTEM_RETRY_DELAY_MS)).toEqual([
      1_000, 2_000, 256_000, 300_000, 300_000,
    ]);
  });
});
