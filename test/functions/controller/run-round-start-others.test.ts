import { describe, expect, it } from 'vitest';
import { type ControllerDeps, runRound } from '../../../functions/controller/run-round';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import { DEFAULT_POLLER_ID } from '../../../functions/shared/contract';
import { PollerStoppedSignal } from '../../../functions/shared/errors';
import { silentLogger } from '../../../functions/shared/logger';
import { InMemoryControlStore } from '../../support/in-memory-control-store';
import { InMemoryWorkerInvoker } from '../../support/in-memory-worker-invoker';
import { simulatedClock } from '../../support/simulated-clock';

const EXECUTION_ID = 'arn:aws:states:eu-west-1:123456789012:execution:Poller:console-run';

/**
 * The round asks its startOtherPollers port only when the decision (startsOtherPollers) says so, before its own
 * loop's first read. No item exists, so every round here ends as `default`'s start ends today: stopped.
 */
async function askedToStartOthers(state: unknown, retryCount = 0): Promise<string[]> {
  const clock = simulatedClock({ startMs: Date.now() });
  const asked: string[] = [];
  const deps: ControllerDeps = {
    table: new InMemoryControlStore('pollers'),
    invoker: new InMemoryWorkerInvoker(clock, () => undefined),
    defaultTarget: 'worker',
    clock,
    log: silentLogger,
    timing: DEFAULT_TIMING,
    startOtherPollers: async (except) => {
      asked.push(except);
    },
  };
  const round = runRound({ state, executionId: EXECUTION_ID, retryCount }, deps, () => clock.now() + 60_000);
  await expect(round).rejects.toBeInstanceOf(PollerStoppedSignal);
  return asked;
}

describe('runRound: a no-input execution starts the other pollers', () => {
  it("asks once, sparing default (its own), on the first round of '{}', then ends as before without a default item", async () => {
    expect(await askedToStartOthers({})).toEqual([DEFAULT_POLLER_ID]);
  });

  it('does not ask when the input names a poller, nor on a retried attempt', async () => {
    expect(await askedToStartOthers({ pollerId: DEFAULT_POLLER_ID })).toEqual([]);
    expect(await askedToStartOthers({}, 1)).toEqual([]);
  });
});
