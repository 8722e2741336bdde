import { afterEach, describe, expect, it } from 'vitest';
import type { AsyncFailureRecord } from '../../../scripts/local-stack/failure-records';
import { NO_LATENCY, NO_METER } from '../../../scripts/local-stack/latency-model';
import {
  type FunctionErrorResult,
  type InvocationStart,
  LocalFunctions,
  preciseNow,
} from '../../../scripts/local-stack/local-functions';
import { openProbe, type Probe } from './lambda-sandbox/probe';

const PROBE_ARN = 'arn:aws:lambda:eu-west-1:000000000000:function:probe';

function pidOf(outcome: { result: unknown } | { error: FunctionErrorResult }): number {
  if (!('result' in outcome)) throw new Error(`expected a result; got ${JSON.stringify(outcome)}`);
  const { pid } = outcome.result as { pid?: unknown };
  if (typeof pid !== 'number') throw new Error(`no pid in ${JSON.stringify(outcome.result)}`);
  return pid;
}

/** The local Lambda endpoint's own work around a sandboxed function: latency, metering, starts, faults. */
describe('the local Lambda functions around a sandboxed function', () => {
  let probe: Probe | undefined;
  afterEach(async () => {
    await probe?.close();
    probe = undefined;
  });

  it("waits the latency model's task start before dispatch and meters only the handler's duration, measured in the sandbox", async () => {
    probe = await openProbe();
    const starts: InvocationStart[] = [];
    const metered: { functionName: string; invocationType: string; durationMs: number }[] = [];
    const functions = new LocalFunctions({
      latency: { ...NO_LATENCY, taskStartMs: () => 300 },
      meter: {
        ...NO_METER,
        lambdaInvocation: (functionName, invocationType, durationMs) =>
          metered.push({ functionName, invocationType, durationMs }),
      },
      onInvocationStart: (start) => starts.push(start),
    });
    functions.registerRuntime('probe', probe.fn);

    const calledAt = preciseNow();
    const outcome = await functions.invoke(`${PROBE_ARN}:$LATEST`, { action: 'sleep', ms: 200 });

    expect(outcome).toMatchObject({ result: { slept: 200 } });
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({ functionName: 'probe', invocationType: 'RequestResponse' });
    expect((starts[0]?.startedAt ?? 0) - calledAt).toBeGreaterThanOrEqual(295);
    expect(metered).toHaveLength(1);
    expect(metered[0]?.durationMs).toBeGreaterThanOrEqual(195);
    expect(metered[0]?.durationMs).toBeLessThan(290);
  });

  it("reports an asynchronous invocation's error to the callback, as a failed async invoke", async () => {
    probe = await openProbe();
    const functions = new LocalFunctions({ latency: { ...NO_LATENCY, asyncInvokeMs: () => 50 } });
    functions.registerRuntime('probe', probe.fn);
    const errors: FunctionErrorResult[] = [];

    functions.invokeAsync(
      'probe',
      { action: 'throw', name: 'TickFailedError', message: 'tick 3 failed' },
      (error) => errors.push(error),
    );
    expect(errors).toEqual([]);
    await functions.drain();

    expect(errors).toEqual([{ errorType: 'TickFailedError', errorMessage: 'tick 3 failed' }]);
  });

  it("gives every attempt of an asynchronous invocation its one request id, which the destination's record names", async () => {
    probe = await openProbe();
    const functions = new LocalFunctions({ asyncRetryDelayMs: () => 0 });
    functions.registerRuntime('probe', probe.fn);
    const records: AsyncFailureRecord[] = [];
    functions.configureAsyncInvoke('probe', {
      retryAttempts: 1,
      maxEventAgeMs: 60_000,
      onFailure: (record) => records.push(record),
    });
    const disarm = functions.killAsyncInvocations('probe', 100);
    const errors: FunctionErrorResult[] = [];

    functions.invokeAsync('probe', { action: 'sleep', ms: 3_000 }, (error) => errors.push(error));
    await expect.poll(() => records.length, { timeout: 10_000 }).toBe(1);
    disarm();

    // The sandbox's runtime names the invocation's awsRequestId in its error, as Lambda's does.
    const requestIds = errors.map((error) => /^RequestId: (\S+) /.exec(error.errorMessage)?.[1]);
    expect(requestIds).toHaveLength(2);
    expect(requestIds[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIds[1]).toBe(requestIds[0]);
    expect(records[0]?.requestContext).toMatchObject({ requestId: requestIds[0], approximateInvokeCount: 2 });
  });

  it('kills the sandbox of the next synchronous invocation after armKill, answering Runtime.ExitError', async () => {
    probe = await openProbe();
    const functions = new LocalFunctions();
    functions.registerRuntime('probe', probe.fn);
    const before = await functions.invoke('probe', { action: 'identify' });

    functions.armKill('probe', 200);
    const killed = await functions.invoke('probe', { action: 'sleep', ms: 3_000 });
    const after = await functions.invoke('probe', { action: 'sleep', ms: 10 });

    expect(killed).toMatchObject({ error: { errorType: 'Runtime.ExitError' } });
    // Armed once: the next invocation runs, in a new sandbox.
    expect(after).toMatchObject({ result: { slept: 10 } });
    expect(pidOf(after)).not.toBe(pidOf(before));
  });

  it('serves a name and its ARNs, with or without a qualifier, as one function', async () => {
    probe = await openProbe();
    const functions = new LocalFunctions();
    functions.registerRuntime('probe', probe.fn);

    expect(functions.has('probe')).toBe(true);
    expect(functions.has(PROBE_ARN)).toBe(true);
    expect(functions.has(`${PROBE_ARN}:$LATEST`)).toBe(true);
    expect(functions.has('probe:live')).toBe(true);
    expect(functions.has('other')).toBe(false);
  });
});
