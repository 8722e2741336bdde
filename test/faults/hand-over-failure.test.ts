import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD } from '../../functions/shared/contract';
import { duplicateSeqs, executionsOf, reportFault, seconds, waitUntil } from '../support/fault-probes';
import { type Harness, startHarness } from '../support/local-stack-harness';

/** StartExecution's own failure when an account runs too many executions. */
class ExecutionLimitExceeded extends Error {
  override readonly name = 'ExecutionLimitExceeded';
}

/** Fails the first `count` hand-over attempts (the HandOver Task and its retries), then lets them through. */
function failingHandOvers(count: number) {
  const faultedAt: number[] = [];
  return {
    faultedAt,
    fault: () => {
      if (faultedAt.length >= count) return undefined;
      faultedAt.push(Date.now());
      return new ExecutionLimitExceeded(
        `Execution limit exceeded (fault injection ${faultedAt.length} of ${count})`,
      );
    },
  };
}

const isContiguous = (seqs: readonly number[]) =>
  seqs.every((seq, index) => index === 0 || seq === (seqs[index - 1] ?? 0) + 1);

describe('fault: the self-restart StartExecution (HandOver) fails', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  // A budget of about two rounds per execution and a 6 s controller timeout hand over every few seconds.
  const fastHandOvers = { everySeconds: 1, historyBudget: 18, controllerTimeoutMs: 6_000 } as const;

  it('a hand-over that fails once is retried by its Task: seq continues without a gap or a duplicate', async () => {
    const handOvers = failingHandOvers(1);
    harness = await startHarness({ ...fastHandOvers, handOverFault: handOvers.fault });

    await waitUntil(() => handOvers.faultedAt.length === 1, 10_000, 'the failed hand-over');
    const faultAt = handOvers.faultedAt[0] ?? Date.now();
    const firesAtFault = harness.fires().length;
    const recoveryMs = await waitUntil(
      () =>
        executionsOf(harness?.stack as Harness['stack'], DEFAULT_POLLER_ID).some(
          (e) => e.startDate.getTime() > faultAt,
        ),
      10_000,
      'the retried hand-over to start a fresh execution',
    );
    await harness.waitForFires(firesAtFault + 3, 6_000);

    const fires = harness.fires();
    const seqs = fires.map((fire) => fire.seq);
    const executions = executionsOf(harness.stack, DEFAULT_POLLER_ID);
    reportFault('hand-over fails once', {
      'fires before': firesAtFault,
      'fires after': fires.length - firesAtFault,
      duplicates: duplicateSeqs(fires).length,
      'seqs contiguous': String(isContiguous(seqs)),
      executions: executions.map((e) => e.status).join('/'),
      'hand-over retried after': seconds(recoveryMs),
    });
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(isContiguous(seqs)).toBe(true);
    expect(executions.filter((execution) => execution.status === 'FAILED')).toEqual([]);
    expect(executions.filter((execution) => execution.status === 'RUNNING')).toHaveLength(1);
  });

  it('a hand-over that fails through all its retries is caught: the old execution carries on, records it and hands over later', async () => {
    // The HandOver Task tries 1 + 3 times; failing all four sends it to its Catch (back to WaitForTick).
    const handOvers = failingHandOvers(4);
    harness = await startHarness({ ...fastHandOvers, handOverFault: handOvers.fault });

    await waitUntil(() => handOvers.faultedAt.length === 4, 20_000, 'four failed hand-over attempts');
    const caughtAt = handOvers.faultedAt[3] ?? Date.now();
    const [failingExecution] = executionsOf(harness.stack, DEFAULT_POLLER_ID, 'RUNNING');
    const firesAtCatch = harness.fires().length;
    const carriedOnMs = await waitUntil(
      () => harness?.fires().some((fire) => Date.parse(fire.firedAt) > caughtAt) ?? false,
      6_000,
      'the old execution to fire again after the caught hand-over',
    );
    // The first fire after the caught hand-over came from the old execution when no newer execution of the poller
    // had started by then (a later hand-over may already have replaced it by the time this check runs).
    const firstFireAfterCatch = harness.fires().find((fire) => Date.parse(fire.firedAt) > caughtAt);
    const firedByOldExecution =
      failingExecution !== undefined &&
      firstFireAfterCatch !== undefined &&
      executionsOf(harness.stack, DEFAULT_POLLER_ID).every(
        (execution) =>
          execution === failingExecution ||
          execution.startDate.getTime() <= failingExecution.startDate.getTime() ||
          execution.startDate.getTime() > Date.parse(firstFireAfterCatch.firedAt),
      );
    await waitUntil(
      async () =>
        (await harness?.readItem())?.[FIELD.lastError]?.M?.message?.S?.includes('hand-over') ?? false,
      6_000,
      'lastError recording the failed hand-over',
    );
    await waitUntil(
      () => failingExecution?.status === 'SUCCEEDED',
      10_000,
      'the old execution to hand over at last',
    );
    await harness.waitForFires(harness.fires().length + 2, 5_000);

    const fires = harness.fires();
    const seqs = fires.map((fire) => fire.seq);
    const item = await harness.readItem();
    const executions = executionsOf(harness.stack, DEFAULT_POLLER_ID);
    reportFault('hand-over fails through retries', {
      'fires before': firesAtCatch,
      'fires after': fires.length - firesAtCatch,
      duplicates: duplicateSeqs(fires).length,
      'seqs contiguous': String(isContiguous(seqs)),
      'retries lasted': seconds(caughtAt - (handOvers.faultedAt[0] ?? caughtAt)),
      'old execution fired again after': seconds(carriedOnMs),
      skippedTicks: item?.[FIELD.skippedTicks]?.N ?? 'none',
      lastError: JSON.stringify(item?.[FIELD.lastError]?.M?.message?.S ?? ''),
    });
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(isContiguous(seqs)).toBe(true);
    expect(firedByOldExecution).toBe(true);
    expect(item?.[FIELD.lastError]?.M?.message?.S).toContain('ExecutionLimitExceeded');
    expect(executions.filter((execution) => execution.status === 'FAILED')).toEqual([]);
    expect(executions.filter((execution) => execution.status === 'RUNNING')).toHaveLength(1);
  });
});
