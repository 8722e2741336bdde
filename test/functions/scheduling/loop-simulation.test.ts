import { describe, expect, it } from 'vitest';
import { HISTORY_EVENTS_PER_ROUND } from '../../../functions/scheduling/history-budget';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import { type Round, type SimulationResult, simulateLoop } from './loop-simulator';

const LAST_SEQ_ON_ITEM = 10;
const HISTORY_BUDGET = 5 * HISTORY_EVENTS_PER_ROUND;
const TICKS = 4_000;
/** Latency of each read, claim write and invoke. */
const MAX_IO_MS = 30;

/**
 * Many short invocations (a deadline 4-20 s after each start, so the controller hands back every few ticks) and a
 * history budget of five rounds, so executions hand over to fresh ones again and again. Timers fire up to 20 ms
 * early (a clock step) or 15 ms late (a busy event loop).
 */
function simulateChurn(intervalMs: number): Promise<SimulationResult> {
  return simulateLoop({
    intervalMs,
    ticks: TICKS,
    seed: intervalMs * 31,
    maxWakeLateMs: 300,
    maxIoMs: MAX_IO_MS,
    maxTimerEarlyMs: 20,
    maxTimerLateMs: 15,
    invocationMs: (random) => 4_000 + Math.floor(random() * 16_001),
    historyBudget: HISTORY_BUDGET,
    lastSeqOnItem: LAST_SEQ_ON_ITEM,
  });
}

const INTERVALS = [100, 250, 1_000, 1_700, 7_300, 50_000];

describe('the controller loop over many hand-backs and self-restarts', () => {
  it.each(INTERVALS)('hands back and restarts many times at %i ms', async (intervalMs) => {
    // act
    const { handBacks, executions, rounds } = await simulateChurn(intervalMs);

    // assess: as Step Functions saw it, every execution but the last ran as many rounds as its history budget
    // holds and then one that asked for the hand-over; the last is still running
    const roundsIn = (executionId: string, outcome: Round['outcome']) =>
      rounds.filter((round) => round.executionId === executionId && round.outcome === outcome).length;
    expect(handBacks.length).toBeGreaterThanOrEqual(30);
    expect(executions.length).toBeGreaterThanOrEqual(6);
    expect(executions.slice(0, -1).map((id) => roundsIn(id, 'hand-back'))).toEqual(
      executions.slice(0, -1).map(() => HISTORY_BUDGET / HISTORY_EVENTS_PER_ROUND),
    );
    expect(executions.map((id) => roundsIn(id, 'hand-over'))).toEqual([
      ...executions.slice(0, -1).map(() => 1),
      0,
    ]);
  });

  it.each(INTERVALS)('fires every seq exactly once, in order, at %i ms', async (intervalMs) => {
    // act
    const { fired } = await simulateChurn(intervalMs);

    // assess
    expect(fired.map((tick) => tick.seq)).toEqual(
      Array.from({ length: fired.length }, (_, i) => LAST_SEQ_ON_ITEM + 1 + i),
    );
  });

  it.each(INTERVALS)('fires every tick on the grid at %i ms', async (intervalMs) => {
    // act
    const { fired } = await simulateChurn(intervalMs);

    // assess
    const firstDueAt = fired[0]?.dueAt ?? Number.NaN;
    expect(fired.filter((tick) => (tick.dueAt - firstDueAt) % intervalMs !== 0)).toEqual([]);
  });

  it.each(INTERVALS)('never fires a tick before it is due at %i ms', async (intervalMs) => {
    // act
    const { fired } = await simulateChurn(intervalMs);

    // assess
    expect(fired.filter((tick) => tick.firedAt < tick.dueAt)).toEqual([]);
  });

  // Lateness is judged when the tick is planned; the claim write that may follow adds its own latency, so a
  // sub-second tick planned just under one interval late can fire up to one claim write more than that.
  it.each(INTERVALS)(
    'fires every tick less than one interval plus one claim write late at %i ms',
    async (intervalMs) => {
      // act
      const { fired } = await simulateChurn(intervalMs);

      // assess
      expect(fired.filter((tick) => tick.firedAt - tick.dueAt >= intervalMs + MAX_IO_MS)).toEqual([]);
    },
  );

  it.each(INTERVALS)('accounts for every grid slot as fired or skipped at %i ms', async (intervalMs) => {
    // act
    const { fired } = await simulateChurn(intervalMs);

    // assess
    const firstDueAt = fired[0]?.dueAt ?? Number.NaN;
    let skippedSoFar = 0;
    const misplaced = fired.filter((tick, i) => {
      skippedSoFar += tick.skipped;
      return tick.dueAt !== firstDueAt + (i + skippedSoFar) * intervalMs;
    });
    expect(misplaced).toEqual([]);
  });

  it.each(INTERVALS)(
    'always hands back before the deadline, on a whole second, at %i ms',
    async (intervalMs) => {
      // act
      const { handBacks } = await simulateChurn(intervalMs);

      // assess
      expect(handBacks.filter((handBack) => handBack.atMs >= handBack.deadlineMs)).toEqual([]);
      expect(handBacks.filter((handBack) => handBack.wakeAt % 1_000 !== 0)).toEqual([]);
    },
  );

  it.each(INTERVALS)('fires only ticks claimed beforehand at %i ms', async (intervalMs) => {
    // act
    const { fired } = await simulateChurn(intervalMs);

    // assess
    expect(fired.filter((tick) => tick.seq > tick.claimedThroughAtFire)).toEqual([]);
  });

  it.each(INTERVALS)(
    'moves the claim forward with every claim, leaving no unclaimed seq, at %i ms',
    async (intervalMs) => {
      // act
      const { claims } = await simulateChurn(intervalMs);

      // assess
      expect(claims[0]?.claimedBefore).toBe(LAST_SEQ_ON_ITEM);
      expect(claims.filter((claim) => claim.throughSeq <= claim.claimedBefore)).toEqual([]);
      expect(claims.filter((claim) => claim.fromSeq > claim.claimedBefore + 1)).toEqual([]);
    },
  );

  it.each(INTERVALS)('claims before the first tick of every invocation at %i ms', async (intervalMs) => {
    // act
    const { fired, claims } = await simulateChurn(intervalMs);

    // assess
    const firstOfInvocation = fired.filter((tick, i) => tick.invocation !== fired[i - 1]?.invocation);
    const claimedFirst = new Set(claims.map((claim) => `${claim.invocation}:${claim.fromSeq}`));
    expect(firstOfInvocation.filter((tick) => !claimedFirst.has(`${tick.invocation}:${tick.seq}`))).toEqual(
      [],
    );
  });

  it.each(INTERVALS)(
    'claims at most one window per invocation plus one per window of ticks at %i ms',
    async (intervalMs) => {
      // act
      const { fired, claims } = await simulateChurn(intervalMs);

      // assess
      const perWindow = Math.ceil(DEFAULT_TIMING.claimWindowMs / intervalMs);
      const invocationsThatFired = new Set(fired.map((tick) => tick.invocation)).size;
      expect(claims.length).toBeLessThanOrEqual(invocationsThatFired + Math.ceil(fired.length / perWindow));
    },
  );

  it.each(INTERVALS)('keeps each execution within its history budget at %i ms', async (intervalMs) => {
    // act
    const { handBacks, rounds } = await simulateChurn(intervalMs);

    // assess: what the controller counted at each hand-back is what Step Functions recorded in that execution so
    // far (7 events a round), and it never passes the budget
    const miscounted = handBacks.filter((handBack) => {
      const roundsSoFar = rounds.filter(
        (round) =>
          round.executionId === handBack.executionId &&
          round.outcome === 'hand-back' &&
          round.invocation <= handBack.invocation,
      ).length;
      return handBack.historyEvents !== roundsSoFar * HISTORY_EVENTS_PER_ROUND;
    });
    expect(miscounted).toEqual([]);
    expect(handBacks.filter((handBack) => handBack.historyEvents > HISTORY_BUDGET)).toEqual([]);
    expect(Math.max(...handBacks.map((handBack) => handBack.historyEvents))).toBe(HISTORY_BUDGET);
  });
});
