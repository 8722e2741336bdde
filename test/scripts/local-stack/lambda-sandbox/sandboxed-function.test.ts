import { afterEach, describe, expect, it } from 'vitest';
import { errorOf, openProbe, type Probe, processState, resultOf, sleep } from './probe';

/** Lambda-faithful sandboxes: one Node.js process per execution environment, run as Lambda runs them. */
describe('a sandboxed function', () => {
  let probe: Probe | undefined;
  afterEach(async () => {
    await probe?.close();
    probe = undefined;
  });

  it('reuses one warm sandbox for sequential invocations and starts a new one for each concurrent invocation', async () => {
    probe = await openProbe();

    const first = resultOf(await probe.invoke({ action: 'identify' }));
    const second = resultOf(await probe.invoke({ action: 'identify' }));
    const concurrent = (
      await Promise.all([
        probe.invoke({ action: 'sleep', ms: 300 }),
        probe.invoke({ action: 'sleep', ms: 300 }),
      ])
    ).map(resultOf);

    expect(first.pid).not.toBe(process.pid);
    expect(second.pid).toBe(first.pid);
    // Two invocations at once need two sandboxes: the warm one and a cold start.
    expect(new Set(concurrent.map((result) => result.pid)).size).toBe(2);
    expect(concurrent.map((result) => result.pid)).toContain(first.pid);
    expect(probe.fn.pids).toHaveLength(2);
  });

  it('freezes an idle sandbox: a timer the handler left behind fires only when the next invocation thaws it', async () => {
    probe = await openProbe();
    const left = resultOf(
      await probe.invoke({ action: 'after-return', delayMs: 200, marker: 'left-behind' }),
    );
    const [pid] = probe.fn.pids;
    if (pid === undefined) throw new Error('no sandbox');

    await sleep(1_000);
    const whileIdle = probe.logLines.filter((entry) => entry.line.includes('left-behind'));
    const stateWhileIdle = processState(pid);
    const thawedAt = Date.now();
    await probe.invoke({ action: 'identify' });
    await sleep(300);
    const fired = probe.logLines.find((entry) => entry.line.includes('left-behind'));

    expect(whileIdle).toEqual([]);
    expect(stateWhileIdle).toBe('T');
    expect(fired, 'the timer fires once the sandbox is thawed').toBeDefined();
    const firedAt = (JSON.parse(fired?.line ?? '{}') as { firedAt: number }).firedAt;
    expect(firedAt).toBeGreaterThanOrEqual(thawedAt);
    expect(firedAt - Number(left.scheduledAt)).toBeGreaterThan(1_000);
  });

  it("gives the handler Lambda's context and environment, and nothing of the local stack's own", async () => {
    process.env.LOCAL_STACK_ONLY_SECRET = 'must-not-leak';
    try {
      probe = await openProbe({
        memoryMb: 256,
        timeoutMs: 7_000,
        variables: { PROBE_VARIABLE: 'set by the stack' },
      });
      const outcome = await probe.invoke({ action: 'identify' });
      const identity = resultOf(outcome);

      expect(identity).toMatchObject({
        functionName: 'probe',
        memoryLimitInMB: '256',
        env: {
          AWS_REGION: 'eu-west-1',
          AWS_LAMBDA_FUNCTION_NAME: 'probe',
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
          AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
          PROBE_VARIABLE: 'set by the stack',
        },
        sdkResolves: true,
      });
      expect(identity.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(identity.remainingMs).toBeGreaterThan(6_000);
      expect(identity.remainingMs).toBeLessThanOrEqual(7_000);
      expect((identity.env as Record<string, unknown>).NODE_OPTIONS).toBeUndefined();
      expect(JSON.stringify(identity)).not.toContain('must-not-leak');
      // The start time comes from the sandbox's clock, with sub-millisecond resolution.
      expect(outcome.startedAt).toBeDefined();
      expect(Math.abs((outcome.startedAt ?? 0) - Date.now())).toBeLessThan(5_000);
    } finally {
      delete process.env.LOCAL_STACK_ONLY_SECRET;
    }
  });

  it('answers a thrown error as { errorType: error.name, errorMessage } and keeps the sandbox', async () => {
    probe = await openProbe();
    const before = resultOf(await probe.invoke({ action: 'identify' }));

    const failed = await probe.invoke({
      action: 'throw',
      name: 'InvalidThingError',
      message: 'thing 7 is bad',
    });
    const after = resultOf(await probe.invoke({ action: 'identify' }));

    expect(errorOf(failed)).toEqual({ errorType: 'InvalidThingError', errorMessage: 'thing 7 is bad' });
    expect(after.pid).toBe(before.pid);
  });

  it('answers Runtime.ExitError when the sandbox is killed mid-invocation, and starts a new sandbox next', async () => {
    probe = await openProbe();
    const before = resultOf(await probe.invoke({ action: 'identify' }));

    const startedKill = Date.now();
    const killed = await probe.invoke({ action: 'sleep', ms: 5_000 }, 300);
    const killedAfterMs = Date.now() - startedKill;
    const after = resultOf(await probe.invoke({ action: 'identify' }));

    expect(errorOf(killed).errorType).toBe('Runtime.ExitError');
    expect(errorOf(killed).errorMessage).toMatch(
      /^RequestId: \S+ Error: Runtime exited with error: signal: killed$/,
    );
    expect(killedAfterMs).toBeLessThan(2_000);
    expect(killed.durationMs).toBeGreaterThanOrEqual(290);
    expect(after.pid).not.toBe(before.pid);
    expect(probe.fn.pids).toEqual([after.pid]);
  });

  it('answers Runtime.ExitError with the exit status when the runtime process exits by itself', async () => {
    probe = await openProbe();
    const exited = await probe.invoke({ action: 'exit', code: 3 });
    expect(errorOf(exited)).toEqual({
      errorType: 'Runtime.ExitError',
      errorMessage: expect.stringMatching(/Error: Runtime exited with error: exit status 3$/),
    });
  });

  it('kills the sandbox at the timeout and answers Sandbox.Timedout, "Task timed out after N seconds"', async () => {
    probe = await openProbe({ timeoutMs: 1_000 });
    const before = resultOf(await probe.invoke({ action: 'identify' }));

    const timedOut = await probe.invoke({ action: 'sleep', ms: 5_000 });
    const after = resultOf(await probe.invoke({ action: 'identify' }));

    expect(errorOf(timedOut)).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: expect.stringMatching(/^RequestId: \S+ Error: Task timed out after 1\.00 seconds$/),
    });
    expect(timedOut.durationMs).toBeGreaterThanOrEqual(990);
    expect(timedOut.durationMs).toBeLessThan(2_000);
    expect(after.pid).not.toBe(before.pid);
  });

  it('ends the remaining time of a running invocation early when asked (the local stack stopping)', async () => {
    probe = await openProbe({ timeoutMs: 60_000 });
    const running = probe.invoke({ action: 'until-deadline', pollMs: 50, marginMs: 100 });
    await sleep(500);

    const endedAt = Date.now();
    probe.fn.endDeadlinesBy(endedAt);
    const outcome = await running;
    const answeredAfterMs = Date.now() - endedAt;

    expect(resultOf(outcome).remainingMs).toBe(0);
    expect(answeredAfterMs).toBeLessThan(1_000);
  });

  it("reports the init phase's error to the invocation when the bundle throws while loading", async () => {
    probe = await openProbe({ code: 'const e = new TypeError("bad configuration at load"); throw e;' });
    const failed = await probe.invoke({ action: 'identify' });
    expect(errorOf(failed)).toEqual({ errorType: 'TypeError', errorMessage: 'bad configuration at load' });
    expect(probe.fn.pids).toEqual([]);
  });

  it('reports Runtime.HandlerNotFound when the bundle exports no handler', async () => {
    probe = await openProbe({ code: 'exports.notTheHandler = () => 1;' });
    const failed = await probe.invoke({ action: 'identify' });
    expect(errorOf(failed)).toEqual({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.handler is undefined or not exported',
    });
  });
});
