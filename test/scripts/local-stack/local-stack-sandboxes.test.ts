import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import { DEFAULT_POLLER_ID } from '../../../functions/shared/contract';
import { LOCAL_CONTROLLER_NAME } from '../../../scripts/local-stack/local-endpoints';
import { preciseNow } from '../../../scripts/local-stack/local-functions';
import { LocalStackOptionsError, startLocalStack } from '../../../scripts/local-stack/local-stack';
import { type Harness, startHarness } from '../../support/local-stack-harness';

/** The local stack runs the deployed bundles in sandbox processes by default. */
describe('the local stack with sandboxed functions', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('fires from the worker bundle in its own process and reports the CPU share in the ready event', async () => {
    const workerLines: string[] = [];
    harness = await startHarness({
      everySeconds: 1,
      sandboxLog: (line) => {
        if (line.functionName.endsWith('-worker')) workerLines.push(line.line);
      },
    });
    const ready = await harness.waitFor((event) => event.event === 'ready', 5_000);
    await harness.waitForFires(2, 8_000);

    expect(ready).toMatchObject({ event: 'ready', cpuShare: harness.stack.cpuShare });
    expect(harness.stack.cpuShare.functions.map((entry) => entry.memoryMb)).toEqual([128, 128]);
    // The worker bundle's own log line, written by the sandbox process: the tick it ran.
    const tick = workerLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.message === 'tick');
    expect(tick).toMatchObject({ level: 'info', pollerId: DEFAULT_POLLER_ID, seq: 1 });
  });

  it("hands a staying-awake controller's round back as soon as its remaining time is ended (the deployed entry asks before every tick)", async () => {
    // 0.5 s stays awake for the whole 900 s timeout unless the remaining time says otherwise.
    harness = await startHarness({ everySeconds: 0.5, startLoops: false });
    const round = harness.stack.functions.invoke(LOCAL_CONTROLLER_NAME, { pollerId: DEFAULT_POLLER_ID });
    await harness.waitForFires(2, 10_000);

    const endedAt = preciseNow();
    harness.stack.functions.endDeadlinesBy(Date.now());
    const outcome = await Promise.race([
      round,
      new Promise<'still awake'>((resolve) => setTimeout(() => resolve('still awake'), 5_000)),
    ]);
    const handedBackAfterMs = preciseNow() - endedAt;

    expect(outcome).toMatchObject({
      result: { pollerId: DEFAULT_POLLER_ID, waitSeconds: expect.any(Number) },
    });
    // At most the tick under way and the hand-back write.
    expect(handedBackAfterMs).toBeLessThan(1_500);
  });

  it('refuses an injected timing unless the functions run in process', async () => {
    await expect(startLocalStack({ port: 0, startLoops: false, timing: DEFAULT_TIMING })).rejects.toThrow(
      LocalStackOptionsError,
    );
  });

  it('reports the CPU share as not applied when the functions run in process', async () => {
    harness = await startHarness({ startLoops: false, sandbox: 'in-process', timing: DEFAULT_TIMING });
    expect(harness.stack.cpuShare).toMatchObject({ applied: false, functions: [] });
  });
});
