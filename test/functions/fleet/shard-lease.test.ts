import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LEASE_TIMING,
  decideTakeover,
  earliestMoveAt,
  type FiringSpan,
  firingSpan,
  firstSeqDueAtOrAfter,
  mayFire,
  mayFireTick,
  released,
  renewalDue,
  renewed,
  resumeAt,
  type ShardLease,
} from '../../../functions/fleet/shard-lease';
import { DEFAULT_HISTORY_BUDGET } from '../../../functions/scheduling/history-budget';
import { tickDueAt } from '../../../functions/scheduling/tick-schedule';
import { settleOnWindows } from '../../../functions/scheduling/window-grid';
import { parseWindowRules } from '../../../functions/scheduling/windows';
import type { LoopState, PollerConfig } from '../../../functions/shared/contract';

const T0 = Date.parse('2030-01-01T00:00:00.250Z');
const GUARD = DEFAULT_LEASE_TIMING.guardMs;
const lease = (validUntilMs: number, owner = 'exec-a', epoch = 1): ShardLease => ({
  owner,
  epoch,
  validUntilMs,
});

const loopOn = (config: PollerConfig, overrides: Partial<LoopState> = {}): LoopState => ({
  nextSeq: 1,
  anchorAt: T0,
  anchorSeq: 1,
  generation: 1,
  claimedThroughSeq: 0,
  config,
  executionId: 'shard-s3',
  historyEvents: 0,
  historyBudget: DEFAULT_HISTORY_BUDGET,
  skippedTicks: 0,
  ...overrides,
});

/**
 * An owner serving a poller from `start`: each tick is fired if the lease and span allow it at its release (due +
 * the owner's clock skew), or released so late that it is skipped (the anchor moves on, the seq does not), as the
 * planner does. Returns the fired seqs and the states it passed through (any of them may be what it recorded).
 */
const serve = (
  start: LoopState,
  ticks: number,
  allows: (dueAtMs: number, nowMs: number) => boolean,
  skewMs: number,
  lateness: readonly number[] = [],
): { fired: number[]; states: LoopState[] } => {
  const fired: number[] = [];
  const states: LoopState[] = [start];
  let loop = start;
  for (let step = 0; step < ticks; step++) {
    const dueAtMs = tickDueAt(loop, loop.nextSeq);
    const lateByMs = lateness[step] ?? 0;
    const settled = settleOnWindows(loop, dueAtMs + lateByMs).loop;
    if (settled !== loop && settled.nextSeq === loop.nextSeq && settled.anchorAt !== loop.anchorAt) {
      loop = settled;
    } else {
      if (allows(dueAtMs, dueAtMs + skewMs)) fired.push(loop.nextSeq);
      loop = settleOnWindows({ ...loop, nextSeq: loop.nextSeq + 1, paused: undefined }, dueAtMs).loop;
    }
    states.push(loop);
  }
  return { fired, states };
};

const intersection = (a: readonly number[], b: readonly number[]) => a.filter((seq) => b.includes(seq));

describe('mayFire', () => {
  const held = lease(T0 + 30_000);

  it('fires only ticks due before validUntil less the guard, while the lease still runs by the own clock', () => {
    expect(mayFire(held, T0 + 29_749, T0 + 29_700, GUARD)).toBe(true);
    expect(mayFire(held, T0 + 29_750, T0 + 29_700, GUARD)).toBe(false);
    expect(mayFire(held, T0 + 29_000, T0 + 29_750, GUARD)).toBe(false);
  });

  it('renews once the renewal interval has passed, and never moves validUntil back', () => {
    expect(renewalDue(held, T0 + 9_999, DEFAULT_LEASE_TIMING)).toBe(false);
    expect(renewalDue(held, T0 + 10_000, DEFAULT_LEASE_TIMING)).toBe(true);
    expect(renewed(held, T0 + 10_000, DEFAULT_LEASE_TIMING).validUntilMs).toBe(T0 + 40_000);
    expect(renewed(held, T0 - 5_000, DEFAULT_LEASE_TIMING).validUntilMs).toBe(T0 + 30_000);
    expect(released(held, T0 + 1_000).validUntilMs).toBe(T0 + 1_000);
  });
});

describe('decideTakeover', () => {
  it('takes an unleased shard at epoch 1 and resumes at once', () => {
    expect(decideTakeover(undefined, 'exec-b', T0, DEFAULT_LEASE_TIMING)).toEqual({
      kind: 'take',
      lease: { owner: 'exec-b', epoch: 1, validUntilMs: T0 + 30_000 },
      resumeFromMs: T0,
    });
  });

  it('waits while the lease runs, then takes the next epoch and resumes at the old validUntil', () => {
    const old = lease(T0 + 30_000, 'exec-a', 4);
    expect(decideTakeover(old, 'exec-b', T0 + 29_999, DEFAULT_LEASE_TIMING)).toEqual({
      kind: 'wait',
      untilMs: T0 + 30_000,
    });
    expect(decideTakeover(old, 'exec-b', T0 + 31_000, DEFAULT_LEASE_TIMING)).toEqual({
      kind: 'take',
      lease: { owner: 'exec-b', epoch: 5, validUntilMs: T0 + 61_000 },
      resumeFromMs: T0 + 30_000,
    });
    expect(decideTakeover(old, 'exec-a', T0 + 31_000, DEFAULT_LEASE_TIMING)).toEqual({ kind: 'own' });
  });
});

describe('firingSpan', () => {
  it('gives the named shard the ticks from movedAt and the shard left behind those before it', () => {
    const placement = { shard: 's5', movedAtMs: T0 + 30_000 };
    expect(firingSpan(placement, 's5')).toEqual({ fromMs: T0 + 30_000, untilMs: Number.POSITIVE_INFINITY });
    expect(firingSpan(placement, 's3')).toEqual({ fromMs: Number.NEGATIVE_INFINITY, untilMs: T0 + 30_000 });
    expect(firingSpan({ shard: 's5', movedAtMs: undefined }, 's3')).toBeUndefined();
    expect(earliestMoveAt(lease(T0 + 30_000), T0)).toBe(T0 + 30_000);
    expect(earliestMoveAt(undefined, T0)).toBe(T0);
  });
});

describe('firstSeqDueAtOrAfter and resumeAt', () => {
  it('finds the first seq due at or after an instant, a tick due exactly then included', () => {
    const loop = loopOn({ running: true, intervalMs: 1_000 }, { nextSeq: 5, anchorSeq: 5 });
    expect(firstSeqDueAtOrAfter(loop, T0 + 3_000)).toBe(8);
    expect(firstSeqDueAtOrAfter(loop, T0 + 3_001)).toBe(9);
    expect(resumeAt(loop, T0 - 10_000)).toBe(loop);
    expect(resumeAt(loop, T0 + 3_001).nextSeq).toBe(9);
  });

  it('replays a window edge since the record: the edge pulls the grid earlier than the old cadence', () => {
    const windows = parseWindowRules(['daily 00:00:10-00:00:40 every 1']);
    if (windows instanceof Error) throw windows;
    const recorded = loopOn({ running: true, intervalMs: 5_000, windows });
    const validUntil = T0 + 20_500;
    const old = serve(recorded, 40, (due, now) => mayFire(lease(validUntil), due, now, GUARD), 0);
    const resumed = resumeAt(recorded, validUntil);
    expect(tickDueAt(resumed, resumed.nextSeq)).toBeGreaterThanOrEqual(validUntil);
    expect(resumed.nextSeq).toBe(Math.max(...old.fired) + 1);
    // The straight arithmetic on the stale record would land on seqs the old owner already fired.
    expect(old.fired).toContain(firstSeqDueAtOrAfter(recorded, validUntil));
  });
});

const configArb = fc
  .constantFrom(100, 250, 1_000, 5_000, 60_000)
  .map((intervalMs) => ({ running: true, intervalMs }));
const skewArb = fc.integer({ min: -GUARD, max: GUARD });
const latenessArb = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 200_000 })), {
  maxLength: 400,
});

describe('disjointness: no (poller, seq) is fired by two owners', () => {
  it('across a takeover after the old lease ran out, whatever the clock skews and late ticks', () => {
    fc.assert(
      fc.property(
        configArb,
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.integer({ min: -GUARD, max: 120_000 }),
        skewArb,
        skewArb,
        latenessArb,
        fc.nat(),
        (config, nextSeq, validForMs, takeAfterMs, oldSkew, newSkew, lateness, recordPick) => {
          const start = loopOn(config, { nextSeq, anchorSeq: nextSeq });
          const old = lease(T0 + validForMs, 'exec-a', 3);
          const ticks = Math.min(400, Math.ceil((validForMs + 2_000) / config.intervalMs) + 2);
          const oldOwner = serve(
            start,
            ticks,
            (due, now) => mayFire(old, due, now, GUARD),
            oldSkew,
            lateness,
          );
          // The taker's clock is off by its skew: it may take up to a guard before validUntil in real time.
          const takeAt = old.validUntilMs + takeAfterMs + newSkew;
          let decision = decideTakeover(old, 'exec-b', takeAt, DEFAULT_LEASE_TIMING);
          if (decision.kind === 'wait')
            decision = decideTakeover(old, 'exec-b', decision.untilMs, DEFAULT_LEASE_TIMING);
          if (decision.kind !== 'take') throw new Error('the takeover must take');
          const { lease: taken, resumeFromMs } = decision;
          const recorded = oldOwner.states[recordPick % oldOwner.states.length] ?? start;
          const resumed = resumeAt(recorded, resumeFromMs);
          const newOwner = serve(resumed, 50, (due, now) => mayFire(taken, due, now, GUARD), newSkew);
          expect(intersection(oldOwner.fired, newOwner.fired)).toEqual([]);
          expect(tickDueAt(resumed, resumed.nextSeq)).toBeGreaterThanOrEqual(resumeFromMs);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('across a move, whether the old shard read the item before or after the move was written', () => {
    fc.assert(
      fc.property(
        configArb,
        fc.integer({ min: 0, max: 30_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.boolean(),
        skewArb,
        skewArb,
        latenessArb,
        fc.nat(),
        (
          config,
          validAtReadMs,
          renewedByMs,
          movedLaterMs,
          staleRead,
          oldSkew,
          newSkew,
          lateness,
          recordPick,
        ) => {
          const start = loopOn(config);
          // The old shard fires under the lease it held when it read; the planner read a lease at least as long.
          const atRead = lease(T0 + validAtReadMs, 'exec-a');
          const plannerRead = lease(atRead.validUntilMs + renewedByMs, 'exec-a');
          const movedAtMs = earliestMoveAt(plannerRead, T0) + movedLaterMs;
          const placement = { shard: 's5', movedAtMs };
          const oldSpan: FiringSpan | undefined = staleRead
            ? firingSpan({ shard: 's3', movedAtMs: undefined }, 's3')
            : firingSpan(placement, 's3');
          const newSpan = firingSpan(placement, 's5');
          if (oldSpan === undefined || newSpan === undefined) throw new Error('both shards have a span');
          const ticks = Math.min(400, Math.ceil((movedAtMs - T0 + 2_000) / config.intervalMs) + 2);
          // A read before the move was written fires under the lease held then (at most the one the planner
          // read); a read after it may hold a lease renewed past movedAt, and the span stops it at movedAt.
          const oldLease = staleRead ? atRead : lease(plannerRead.validUntilMs + 30_000, 'exec-a');
          const oldShard = serve(
            start,
            ticks,
            (due, now) => mayFireTick(oldLease, oldSpan, due, now, GUARD),
            oldSkew,
            lateness,
          );
          const newLease = lease(movedAtMs + 30_000, 'exec-b');
          const recorded = oldShard.states[recordPick % oldShard.states.length] ?? start;
          const newShard = serve(
            resumeAt(recorded, movedAtMs),
            50,
            (due, now) => mayFireTick(newLease, newSpan, due, now, GUARD),
            newSkew,
          );
          expect(intersection(oldShard.fired, newShard.fired)).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
