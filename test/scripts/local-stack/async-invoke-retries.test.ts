import { describe, expect, it } from 'vitest';
import type { AsyncFailureRecord } from '../../../scripts/local-stack/failure-records';
import { LocalFunctions } from '../../../scripts/local-stack/local-functions';

/** The local Lambda's asynchronous retries and on-failure destination, as Lambda's EventInvokeConfig sets them. */
class FeedDownError extends Error {
  override readonly name = 'FeedDownError';
}

const TICK = { pollerId: 'feed', seq: 4, scheduledAt: '2030-01-01T00:00:04.000Z' };

function failingFunctions(failures: number) {
  const attempts: unknown[] = [];
  const functions = new LocalFunctions({ asyncRetryDelayMs: () => 5 });
  functions.register('worker', async (event) => {
    attempts.push(event);
    if (attempts.length <= failures)
      throw new FeedDownError(`feed answered 503 (attempt ${attempts.length})`);
    return { ok: true };
  });
  return { functions, attempts };
}

const recordsTo = (records: AsyncFailureRecord[]) => (record: AsyncFailureRecord) => records.push(record);

async function settled(functions: LocalFunctions, until: () => boolean): Promise<void> {
  for (let waited = 0; !until() && waited < 2_000; waited += 10) {
    await functions.drain();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('asynchronous invocations that fail', () => {
  it('are tried 1 + retryAttempts times, then sent to the destination as Lambda’s invocation record', async () => {
    const { functions, attempts } = failingFunctions(Number.POSITIVE_INFINITY);
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
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      version: '1.0',
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
    functions.configureAsyncInvoke('worker', {
      retryAttempts: 2,
      maxEventAgeMs: 1,
      onFailure: recordsTo(records),
    });

    functions.invokeAsync('worker', TICK, () => {});
    await settled(functions, () => records.length > 0);

    expect(attempts).toHaveLength(1);
    expect(records[0]?.requestContext.condition).toBe('EventAgeExceeded');
  });
});
