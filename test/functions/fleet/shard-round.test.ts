import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { earliestMoveAt, type PollerPlacement, type ShardLease } from '../../../functions/fleet/shard-lease';
import {
  DEFAULT_SHARD_SIZE,
  DEFAULT_SHARD_TIMING,
  INDEX_LAG_MS,
  joinOffsetMs,
  type PollerRecord,
  planShardRound,
  type ShardContinuation,
  type ShardMember,
  type ShardRoundPlan,
  type ShardState,
  type ShardTick,
} from '../../../functions/fleet/shard-round';
import { breakEvenIntervalMs } from '../../../functions/scheduling/cost-model';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import { wakeAtFor } from '../../../functions/scheduling/tick-schedule';
import { FIELD, type LoopState, STOP_REASON } from '../../../functions/shared/contract';
import { decodePollerItem, type RawItem } from '../../../functions/shared/control-item';

/** Deliberately not on a whole second; 2030-01-01 is a Tuesday, UTC. */
const T0 = Date.parse('2030-01-01T00:00:00.250Z');
const SHARD = 's3';
const HERE: PollerPlacement = { shard: SHARD, movedAtMs: undefined };

interface Poller {
  readonly waitSeconds: number | string;
  readonly running?: boolean;
  readonly windows?: readonly string[];
  readonly seq?: number;
}

const member = (pollerId: string, poller: Poller, placement: PollerPlacement = HERE): ShardMember => {
  const item: RawItem = {
    [FIELD.id]: { S: pollerId },
    [FIELD.running]: { BOOL: poller.running ?? true },
    [FIELD.waitSeconds]:
      typeof poller.waitSeconds === 'number' ? { N: String(poller.waitSeconds) } : { S: poller.waitSeconds },
  };
  if (poller.windows !== undefined) item[FIELD.windows] = { L: poller.windows.map((rule) => ({ S: rule })) };
  if (poller.seq !== undefined) item[FIELD.seq] = { N: String(poller.seq) };
  return { item: decodePollerItem(pollerId, item), placement };
};

/**
 * The grid tests pin first ticks to the first-tick delay: pollers joining together are not spread here (the spread
 * has its own tests below, with the default timing).
 */
const GRID_TIMING = { ...DEFAULT_SHARD_TIMING, joinSpreadMs: 0 };

/** A lease the shard renews at every read (the renewal is the wiring's; here it always succeeds). */
const leaseAt = (nowMs: number): ShardLease => ({ owner: 'exec-1', epoch: 1, validUntilMs: nowMs + 30_000 });

interface RoundRecord {
  readonly atMs: number;
  readonly plan: ShardRoundPlan;
}

interface ShardRun {
  readonly rounds: readonly RoundRecord[];
  readonly ticks: readonly ShardTick[];
  readonly records: readonly PollerRecord[];
  readonly state: ShardState;
}

/**
 * Runs a shard on a simulated clock from `startMs` until `untilMs`: every round reads `membersAt(now)`, plans, and
 * continues as the plan says (a hand-back resumes at its wakeAt). Reads and writes take no time.
 */
const runShard = (
  membersAt: (nowMs: number) => readonly ShardMember[],
  startMs: number,
  untilMs: number,
  options: { state?: ShardState; resumeFromMs?: number; lease?: (nowMs: number) => ShardLease } = {},
): ShardRun => {
  const rounds: RoundRecord[] = [];
  let state: ShardState = options.state ?? new Map();
  let resumeFromMs = options.resumeFromMs;
  for (let nowMs = startMs; nowMs < untilMs; ) {
    const plan = planShardRound({
      shard: SHARD,
      executionId: 'exec-1',
      members: membersAt(nowMs),
      state,
      lease: (options.lease ?? leaseAt)(nowMs),
      resumeFromMs,
      nowMs,
      deadlineMs: nowMs + 900_000,
      timing: GRID_TIMING,
    });
    rounds.push({ atMs: nowMs, plan });
    state = plan.state;
    resumeFromMs = undefined;
    nowMs = nextRoundAt(plan.continuation, nowMs);
  }
  return {
    rounds,
    ticks: rounds.flatMap((round) => round.plan.ticks),
    records: rounds.flatMap((round) => round.plan.records),
    state,
  };
};

const nextRoundAt = (continuation: ShardContinuation, nowMs: number): number => {
  const at = continuation.kind === 'next-batch' ? continuation.readAt : continuation.wakeAt;
  // A round never plans the same instant twice: the simulated read takes a millisecond at least.
  return Math.max(at, nowMs + 1);
};

const ticksOf = (run: ShardRun, pollerId: string, beforeMs = Number.POSITIVE_INFINITY) =>
  run.ticks.filter((tick) => tick.pollerId === pollerId && tick.dueAt < beforeMs);
const recordsOf = (run: ShardRun, pollerId: string) =>
  run.records.filter((record) => record.pollerId === pollerId);
const gaps = (ticks: readonly ShardTick[]) =>
  ticks.slice(1).map((tick, index) => tick.dueAt - (ticks[index]?.dueAt ?? 0));
const seqsOf = (ticks: readonly ShardTick[]) => ticks.map((tick) => tick.seq);
const consecutive = (from: number, count: number) =>
  Array.from({ length: count }, (_, index) => from + index);

/** Every tick was planned before it was due (by the round that planned it), and planned once. */
const expectPlannedAhead = (run: ShardRun) => {
  for (const round of run.rounds) {
    for (const tick of round.plan.ticks) expect(tick.dueAt).toBeGreaterThanOrEqual(round.atMs);
  }
  const keys = run.ticks.map((tick) => `${tick.pollerId}#${tick.seq}`);
  expect(new Set(keys).size).toBe(keys.length);
};

describe('planShardRound on a simulated clock', () => {
  it('serves a mixed shard (0.25 s, 1 s, 5 s, 60 s) on exact grids, reading about once a second', () => {
    const members = [
      member('fast', { waitSeconds: 0.25 }),
      member('second', { waitSeconds: 1 }),
      member('five', { waitSeconds: 5 }),
      member('minute', { waitSeconds: 60, seq: 41 }),
    ];
    const run = runShard(() => members, T0, T0 + 125_000);
    expectPlannedAhead(run);
    const expected = [
      ['fast', 250, 496],
      ['second', 1_000, 124],
      ['five', 5_000, 25],
      ['minute', 60_000, 3],
    ] as const;
    for (const [pollerId, intervalMs, count] of expected) {
      const ticks = ticksOf(run, pollerId, T0 + 125_000);
      expect(ticks).toHaveLength(count);
      // A new poller's first tick is the first-tick delay after the read that found it.
      expect(ticks[0]?.dueAt).toBe(T0 + DEFAULT_SHARD_TIMING.tick.firstTickDelayMs);
      expect(new Set(gaps(ticks))).toEqual(new Set([intervalMs]));
    }
    expect(seqsOf(ticksOf(run, 'fast', T0 + 125_000))).toEqual(consecutive(1, 496));
    // Above the seq the item records, as a single-poller loop starts.
    expect(seqsOf(ticksOf(run, 'minute', T0 + 125_000))).toEqual([42, 43, 44]);
    // One read per batch: about one a second, never one per tick of the fastest poller.
    expect(run.rounds.length).toBeGreaterThan(100);
    expect(run.rounds.length).toBeLessThan(135);
    expect(run.records).toEqual([]);
    for (const round of run.rounds) expect(round.plan.continuation.kind).toBe('next-batch');
  });

  it('stops a poller turned off between reads, records the stop once, and resumes above its seqs', () => {
    const run = runShard(
      (nowMs) => [
        member('a', { waitSeconds: 1 }),
        member('b', { waitSeconds: 1, running: nowMs < T0 + 10_000 || nowMs >= T0 + 20_000 }),
      ],
      T0,
      T0 + 30_000,
    );
    expectPlannedAhead(run);
    const b = ticksOf(run, 'b');
    const before = b.filter((tick) => tick.dueAt < T0 + 15_000);
    const after = b.filter((tick) => tick.dueAt >= T0 + 15_000);
    // The read that sees running=false plans nothing more: ticks planned before it (at most a batch) stand.
    expect(Math.max(...before.map((tick) => tick.dueAt))).toBeLessThan(T0 + 10_000 + 1_300);
    expect(recordsOf(run, 'b')).toEqual([
      { pollerId: 'b', kind: 'stopped', reason: STOP_REASON.runningFalse },
    ]);
    const restartRead = run.rounds.find((round) => round.atMs >= T0 + 20_000)?.atMs ?? Number.NaN;
    expect(after[0]?.dueAt).toBe(restartRead + DEFAULT_SHARD_TIMING.tick.firstTickDelayMs);
    expect(seqsOf(b)).toEqual(consecutive(1, b.length));
    expect(new Set(gaps(after))).toEqual(new Set([1_000]));
    expect(ticksOf(run, 'a')).toHaveLength(30);
  });

  it('picks up a poller added between reads within two seconds', () => {
    const run = runShard(
      (nowMs) => [
        member('a', { waitSeconds: 0.5 }),
        ...(nowMs >= T0 + 7_300 ? [member('late', { waitSeconds: 1 })] : []),
      ],
      T0,
      T0 + 15_000,
    );
    const first = ticksOf(run, 'late')[0];
    expect(first?.dueAt).toBeGreaterThanOrEqual(T0 + 7_300);
    expect(first?.dueAt).toBeLessThanOrEqual(T0 + 7_300 + 2_000);
    expect(first?.seq).toBe(1);
  });

  it('follows a cadence edited between reads from the tick about to fire, and records the change once', () => {
    const run = runShard(
      (nowMs) => [member('b', { waitSeconds: nowMs < T0 + 10_000 ? 1 : 0.5 })],
      T0,
      T0 + 20_000,
    );
    expectPlannedAhead(run);
    const b = ticksOf(run, 'b');
    expect(seqsOf(b)).toEqual(consecutive(1, b.length));
    const changes = recordsOf(run, 'b');
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ kind: 'schedule-changed', loop: { config: { intervalMs: 500 } } });
    const spacing = gaps(b);
    // 1 s until the edit is read, then 0.5 s; never anything else (the grid is re-anchored, not restarted).
    expect(new Set(spacing)).toEqual(new Set([1_000, 500]));
    expect(spacing.indexOf(500)).toBeGreaterThan(spacing.lastIndexOf(1_000));
  });

  it('records a bad edit once and keeps the last valid cadence', () => {
    const run = runShard(
      (nowMs) => [member('b', { waitSeconds: nowMs < T0 + 5_000 ? 1 : 'fast please' })],
      T0,
      T0 + 12_000,
    );
    const records = recordsOf(run, 'b');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ kind: 'notes' });
    expect(new Set(gaps(ticksOf(run, 'b')))).toEqual(new Set([1_000]));
  });

  it('lays a window edge inside a batch: the old cadence up to the edge, the window from its first instant', () => {
    // 2030-01-01 00:00:10 to 00:00:20 UTC at 0.25 s; outside it, 3 s.
    const windows = ['daily 00:00:10-00:00:20 every 0.25'];
    const run = runShard(() => [member('w', { waitSeconds: 3, windows })], T0, T0 + 25_000);
    expectPlannedAhead(run);
    const ticks = ticksOf(run, 'w');
    const edge = Date.parse('2030-01-01T00:00:10.000Z');
    const end = Date.parse('2030-01-01T00:00:20.000Z');
    const dues = ticks.map((tick) => tick.dueAt);
    expect(dues).toContain(edge);
    expect(dues).toContain(end);
    expect(dues.filter((due) => due >= edge && due < end)).toHaveLength(40);
    expect(dues.filter((due) => due < edge)).toEqual([T0 + 1_000, T0 + 4_000, T0 + 7_000]);
    // One batch holds the last old-cadence tick's successor edge and the window's first ticks.
    const straddling = run.rounds.find((round) => round.plan.ticks.some((tick) => tick.dueAt === edge));
    expect(straddling?.plan.ticks.length).toBeGreaterThan(1);
    expect(seqsOf(ticks)).toEqual(consecutive(1, ticks.length));
  });

  it('hands back to a Wait state until the earliest tick when every poller is slow', () => {
    const run = runShard(
      () => [member('minute', { waitSeconds: 60 }), member('two', { waitSeconds: 120 })],
      T0,
      T0 + 300_000,
    );
    expectPlannedAhead(run);
    for (const round of run.rounds) {
      const { continuation } = round.plan;
      expect(continuation.kind).toBe('hand-back');
      if (continuation.kind !== 'hand-back' || continuation.nextDueAt === undefined) continue;
      expect(continuation.wakeAt).toBe(
        wakeAtFor(continuation.nextDueAt, DEFAULT_SHARD_TIMING.tick.wakeLeadMs),
      );
      expect(continuation.nextDueAt - round.atMs).toBeGreaterThanOrEqual(
        breakEvenIntervalMs(DEFAULT_SHARD_SIZE),
      );
    }
    expect(ticksOf(run, 'minute', T0 + 300_000)).toHaveLength(5);
    expect(ticksOf(run, 'two', T0 + 300_000)).toHaveLength(3);
    // A round per tick time (and a check-in at most every minute), not one a second.
    expect(run.rounds.length).toBeLessThanOrEqual(10);
  });

  it('stays awake for a 20 s poller below the break-even of a 128 MB controller, not of a 1,024 MB one', () => {
    const round = (memoryMb: number) =>
      planShardRound({
        shard: SHARD,
        executionId: 'exec-1',
        members: [member('twenty', { waitSeconds: 20 })],
        state: new Map(),
        lease: leaseAt(T0),
        resumeFromMs: undefined,
        nowMs: T0,
        deadlineMs: T0 + 900_000,
        timing: GRID_TIMING,
        size: { memoryMb, architecture: 'arm64' },
      });
    // The first tick (at the first-tick delay) is planned now; the next is 20 s after it.
    expect(round(128).continuation).toEqual({ kind: 'next-batch', readAt: T0 + 1_000 + 20_000 - 300 });
    expect(round(1_024).continuation).toEqual({
      kind: 'hand-back',
      wakeAt: wakeAtFor(T0 + 21_000, DEFAULT_SHARD_TIMING.tick.wakeLeadMs),
      nextDueAt: T0 + 21_000,
    });
  });

  it('checks in every minute when nothing ticks', () => {
    const plan = planShardRound({
      shard: SHARD,
      executionId: 'exec-1',
      members: [member('off', { waitSeconds: 1, running: false })],
      state: new Map(),
      lease: leaseAt(T0),
      resumeFromMs: undefined,
      nowMs: T0,
      deadlineMs: T0 + 900_000,
      timing: GRID_TIMING,
    });
    expect(plan.ticks).toEqual([]);
    expect(plan.continuation).toEqual({ kind: 'hand-back', wakeAt: T0 - 250 + 60_000, nextDueAt: undefined });
    expect(plan.records).toEqual([{ pollerId: 'off', kind: 'stopped', reason: STOP_REASON.runningFalse }]);
  });

  it('fires nothing the lease does not cover, and says the lease holds ticks back', () => {
    const shortLease = (): ShardLease => ({ owner: 'exec-1', epoch: 1, validUntilMs: T0 + 3_000 });
    const run = runShard(() => [member('a', { waitSeconds: 0.5 })], T0, T0 + 8_000, { lease: shortLease });
    const dues = ticksOf(run, 'a').map((tick) => tick.dueAt);
    expect(Math.max(...dues)).toBeLessThan(T0 + 3_000 - DEFAULT_SHARD_TIMING.guardMs);
    expect(run.rounds.some((round) => round.plan.heldByLease.includes('a'))).toBe(true);
  });

  it('keeps the loop of a poller whose item vanished, so its seqs go on when it comes back', () => {
    const run = runShard(
      (nowMs) => (nowMs >= T0 + 5_000 && nowMs < T0 + 9_000 ? [] : [member('a', { waitSeconds: 1 })]),
      T0,
      T0 + 15_000,
    );
    const a = ticksOf(run, 'a');
    expect(seqsOf(a)).toEqual(consecutive(1, a.length));
    expect(a.some((tick) => tick.dueAt > T0 + 6_500 && tick.dueAt < T0 + 9_000)).toBe(false);
    expect(run.records).toEqual([]);
  });
});

describe('pollers joining a shard together are spread (joinOffsetMs)', () => {
  it('a fleet start of 100 pollers at 1 s: first ticks spread over the half second before the first-tick delay ends', () => {
    const members = Array.from({ length: 100 }, (_, index) => member(`fleet-${index}`, { waitSeconds: 1 }));
    const plan = planShardRound({
      shard: SHARD,
      executionId: 'exec-1',
      members,
      state: new Map(),
      lease: leaseAt(T0),
      resumeFromMs: undefined,
      nowMs: T0,
      deadlineMs: T0 + 900_000,
      timing: DEFAULT_SHARD_TIMING,
    });
    const firstDue = new Map<string, number>();
    for (const tick of plan.ticks) if (!firstDue.has(tick.pollerId)) firstDue.set(tick.pollerId, tick.dueAt);
    const dues = [...firstDue.values()];
    const delayMs = DEFAULT_SHARD_TIMING.tick.firstTickDelayMs;
    expect(firstDue.size).toBe(100);
    expect(Math.min(...dues)).toBeGreaterThan(T0 + delayMs - 500);
    expect(Math.max(...dues)).toBeLessThanOrEqual(T0 + delayMs);
    // Not one millisecond for all: the most that share one is a handful (ids hash into 500 slots).
    const perMs = new Map<number, number>();
    for (const due of dues) perMs.set(due, (perMs.get(due) ?? 0) + 1);
    expect(perMs.size).toBeGreaterThanOrEqual(75);
    expect(Math.max(...perMs.values())).toBeLessThanOrEqual(3);
    for (const [pollerId, due] of firstDue) {
      expect(due).toBe(T0 + delayMs - joinOffsetMs(pollerId, 500));
    }
  });

  it('joinOffsetMs: whole milliseconds in [0, spread), the same for the same id, 0 without a spread', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 10_000 }), (pollerId, spreadMs) => {
        const offset = joinOffsetMs(pollerId, spreadMs);
        expect(Number.isInteger(offset)).toBe(true);
        expect(offset).toBeGreaterThanOrEqual(0);
        expect(offset).toBeLessThan(spreadMs);
        expect(joinOffsetMs(pollerId, spreadMs)).toBe(offset);
      }),
    );
    expect(joinOffsetMs('any', 0)).toBe(0);
  });

  it('never starts a joining poller before the takeover instant or its move-in time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5_000 }),
        fc.string({ minLength: 1 }),
        (resumeAfterMs, pollerId) => {
          const resumeFromMs = T0 + resumeAfterMs;
          const plan = planShardRound({
            shard: SHARD,
            executionId: 'exec-1',
            members: [member(pollerId, { waitSeconds: 1 })],
            state: new Map(),
            lease: leaseAt(T0),
            resumeFromMs,
            nowMs: T0,
            deadlineMs: T0 + 900_000,
            timing: DEFAULT_SHARD_TIMING,
          });
          for (const tick of plan.ticks) expect(tick.dueAt).toBeGreaterThanOrEqual(resumeFromMs);
        },
      ),
    );
  });
});

describe('planShardRound across owners', () => {
  /**
   * Poller 'a' served here from T0, moved to s5 (written at T0 + 4 s) at movedAt: the old shard's run and the loop
   * it handed over.
   */
  const movedAway = (waitSeconds: number, movedAtMs: number): { old: ShardRun; handedOver: LoopState } => {
    const away: PollerPlacement = { shard: 's5', movedAtMs };
    const old = runShard(
      (nowMs) => [member('a', { waitSeconds }, nowMs < T0 + 4_000 ? HERE : away)],
      T0,
      T0 + 15_000,
    );
    const handOver = recordsOf(old, 'a').find((record) => record.kind === 'moved-out');
    if (handOver?.kind !== 'moved-out' || handOver.loop === undefined) throw new Error('no hand-over record');
    return { old, handedOver: handOver.loop };
  };

  it('moves a poller: the old shard fires before movedAt and hands over its loop, the new one from movedAt', () => {
    const movedAtMs = T0 + 10_000;
    const { old, handedOver } = movedAway(0.75, movedAtMs);
    expect(old.state.has('a')).toBe(false);
    const oldTicks = ticksOf(old, 'a');
    expect(Math.max(...oldTicks.map((tick) => tick.dueAt))).toBeLessThan(movedAtMs);

    const moved = runShard(
      () => [{ ...member('a', { waitSeconds: 0.75 }, { shard: SHARD, movedAtMs }), handedOver }],
      T0 + 9_000,
      T0 + 20_000,
    );
    const newTicks = ticksOf(moved, 'a');
    expect(newTicks[0]?.dueAt).toBeGreaterThanOrEqual(movedAtMs);
    expect(newTicks[0]?.seq).toBe(Math.max(...seqsOf(oldTicks)) + 1);
    // The grid goes on across the move: the new shard's first tick is the old grid's next one.
    expect(((newTicks[0]?.dueAt ?? 0) - (oldTicks[0]?.dueAt ?? 0)) % 750).toBe(0);
  });

  it('counts the ticks a moved poller misses when its new shard reads it after movedAt (a late start), jumping none', () => {
    // arrange: the old shard flips at movedAt; the new one is started 2.6 s later (the stream, a cold start).
    const movedAtMs = T0 + 10_000;
    const { old, handedOver } = movedAway(1, movedAtMs);
    const lastOldSeq = Math.max(...seqsOf(ticksOf(old, 'a')));

    // act
    const moved = runShard(
      () => [{ ...member('a', { waitSeconds: 1 }, { shard: SHARD, movedAtMs }), handedOver }],
      movedAtMs + 2_600,
      movedAtMs + 8_000,
    );

    // assess: the ticks due at movedAt, +1 s and +2 s are more than half an interval late at the read: skipped
    // and counted, as a late tick is (the seq goes on: a skipped tick takes none), not jumped over uncounted.
    const skipped = moved.rounds.reduce((sum, round) => sum + (round.plan.skipped.get('a') ?? 0), 0);
    const firstOnNew = ticksOf(moved, 'a')[0];
    expect(skipped).toBe(3);
    expect(firstOnNew?.seq).toBe(lastOldSeq + 1);
    expect(firstOnNew?.dueAt).toBe(movedAtMs + 3_000);
  });

  /**
   * A poller moved away at movedAt (1 s cadence), read first by a new shard that took its lease `takenAfterMs` after
   * movedAt: its first batch resumes at the take's instant. The skips it counted and its ticks, with the old shard's
   * last seq.
   */
  const firstBatchAfterMove = (takenAfterMs: number) => {
    const movedAtMs = T0 + 10_000;
    const { old, handedOver } = movedAway(1, movedAtMs);
    const takenAtMs = movedAtMs + takenAfterMs;
    const moved = runShard(
      () => [{ ...member('a', { waitSeconds: 1 }, { shard: SHARD, movedAtMs }), handedOver }],
      takenAtMs,
      takenAtMs + 5_000,
      { resumeFromMs: takenAtMs },
    );
    return {
      movedAtMs,
      lastOldSeq: Math.max(...seqsOf(ticksOf(old, 'a'))),
      skipped: moved.rounds.reduce((sum, round) => sum + (round.plan.skipped.get('a') ?? 0), 0),
      firstOnNew: ticksOf(moved, 'a')[0],
    };
  };

  it("counts them too when the read is the new shard's first after taking its lease (the take's instant is later than movedAt)", () => {
    // act: the flip's stream record started the new shard 2.6 s after movedAt; its first batch resumes every loop it
    // kept at the take's instant, which says nothing of a loop another shard handed over at movedAt.
    const { movedAtMs, lastOldSeq, skipped, firstOnNew } = firstBatchAfterMove(2_600);

    // assess: the three ticks since movedAt skipped and counted (before: jumped, 0 counted). They are jumped, as
    // the resume instant asks (the read may be stale and hide a record of this shard that fired them), not fired.
    expect(skipped).toBe(3);
    expect(firstOnNew).toMatchObject({ seq: lastOldSeq + 4, dueAt: movedAtMs + 3_000 });
  });

  it('counts a tick due since movedAt that is less than half an interval late at that first batch', () => {
    const { movedAtMs, lastOldSeq, skipped, firstOnNew } = firstBatchAfterMove(300);

    expect(skipped).toBe(1);
    expect(firstOnNew).toMatchObject({ seq: lastOldSeq + 2, dueAt: movedAtMs + 1_000 });
  });

  it("resumes another shard's live record (a hand edit of `shard`) only past that shard's next read: no seq it may still fire", () => {
    // arrange: the old shard fired up to T0 + 9 s and may plan a batch (read-ahead + batch) past its last read,
    // which can see the index up to INDEX_LAG_MS late.
    const old = runShard(() => [member('a', { waitSeconds: 0.5 })], T0, T0 + 9_000);
    const oldTicks = ticksOf(old, 'a');
    const recorded = old.state.get('a')?.loop;
    if (recorded === undefined) throw new Error('no loop recorded');
    const editReadAt = T0 + 9_000;

    // act
    const taken = runShard(
      () => [{ ...member('a', { waitSeconds: 0.5 }), handedOver: recorded, unannounced: true }],
      editReadAt,
      editReadAt + 6_000,
    );

    // assess
    const newTicks = ticksOf(taken, 'a');
    const waitMs = DEFAULT_TIMING.readAheadMs + DEFAULT_SHARD_TIMING.batchMs + INDEX_LAG_MS;
    expect(newTicks[0]?.dueAt).toBeGreaterThanOrEqual(editReadAt + waitMs);
    expect(newTicks[0]?.seq).toBeGreaterThan(Math.max(...seqsOf(oldTicks)));
    // The grid goes on: the seqs in the wait are skipped, not re-anchored.
    expect(((newTicks[0]?.dueAt ?? 0) - (oldTicks[0]?.dueAt ?? 0)) % 500).toBe(0);
  });

  it('hands a stopped poller over at once when it is moved away', () => {
    const away: PollerPlacement = { shard: 's5', movedAtMs: T0 + 30_000 };
    const run = runShard(
      (nowMs) => [
        member('a', { waitSeconds: 1, running: nowMs < T0 + 3_000 }, nowMs < T0 + 6_000 ? HERE : away),
      ],
      T0,
      T0 + 70_000,
    );
    // Nothing ticks once it stops: the next read is the minute's check-in, which finds the move.
    expect(recordsOf(run, 'a').map((record) => record.kind)).toEqual(['stopped', 'moved-out']);
    expect(run.state.has('a')).toBe(false);
  });

  it('resumes every poller at the previous owner validUntil after a takeover', () => {
    const validUntil = T0 + 10_000;
    // The crashed owner's lease was last renewed to validUntil; it fired everything that lease allowed.
    const first = runShard(
      () => [member('a', { waitSeconds: 0.5 }), member('b', { waitSeconds: 2 })],
      T0,
      T0 + 15_000,
      { lease: () => ({ owner: 'exec-0', epoch: 1, validUntilMs: validUntil }) },
    );
    // The bulk record is older than what the crashed owner fired (it fired through validUntil).
    const bulkRecord = runShard(
      () => [member('a', { waitSeconds: 0.5 }), member('b', { waitSeconds: 2 })],
      T0,
      T0 + 4_000,
    ).state;
    const taker = runShard(
      () => [member('a', { waitSeconds: 0.5 }), member('b', { waitSeconds: 2 })],
      T0 + 12_000,
      T0 + 20_000,
      { state: bulkRecord, resumeFromMs: validUntil },
    );
    for (const pollerId of ['a', 'b']) {
      const before = seqsOf(ticksOf(first, pollerId));
      const after = ticksOf(taker, pollerId);
      expect(after.every((tick) => tick.dueAt >= validUntil)).toBe(true);
      expect(Math.min(...seqsOf(after))).toBeGreaterThan(Math.max(...before));
    }
  });

  it('never fires a (poller, seq) on both shards of a move, wherever the move falls', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0.1, 0.25, 0.75, 1, 3, 7),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        (waitSeconds, writtenAfterMs, laterByMs) => {
          // The planner writes the move at `writtenAt`, placing it at or after the lease it reads there.
          const writtenAt = T0 + writtenAfterMs;
          const movedAtMs = earliestMoveAt(leaseAt(writtenAt), writtenAt) + laterByMs;
          const away: PollerPlacement = { shard: 's5', movedAtMs };
          const old = runShard(
            (nowMs) => [member('a', { waitSeconds }, nowMs < writtenAt ? HERE : away)],
            T0,
            movedAtMs + 1_000,
          );
          const handOver = recordsOf(old, 'a').find((record) => record.kind === 'moved-out');
          const handedOver = handOver?.kind === 'moved-out' ? handOver.loop : undefined;
          expect(handedOver).toBeDefined();
          const moved = runShard(
            () => [{ ...member('a', { waitSeconds }, { shard: SHARD, movedAtMs }), handedOver }],
            writtenAt,
            movedAtMs + 10_000,
          );
          const oldTicks = ticksOf(old, 'a');
          const newTicks = ticksOf(moved, 'a');
          expect(oldTicks.every((tick) => tick.dueAt < movedAtMs)).toBe(true);
          expect(newTicks.every((tick) => tick.dueAt >= movedAtMs)).toBe(true);
          expect(newTicks.length).toBeGreaterThan(0);
          const oldSeqs = new Set(seqsOf(oldTicks));
          expect(seqsOf(newTicks).filter((seq) => oldSeqs.has(seq))).toEqual([]);
          // Nothing is lost either: the new shard starts at the seq after the old shard's last.
          expect(newTicks[0]?.seq).toBe(Math.max(0, ...oldSeqs) + 1);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('resumes a stopped poller at a takeover too, so its restart continues above what the old owner fired', () => {
    const validUntil = T0 + 10_000;
    // 'b' keeps the shard awake, so the old owner sees 'a' come back and fires it after its bulk record.
    const members = (nowMs: number) => [
      member('a', { waitSeconds: 0.5, running: nowMs < T0 + 2_000 || nowMs >= T0 + 4_000 }),
      member('b', { waitSeconds: 1 }),
    ];
    // The old owner stopped and restarted the poller after its last bulk record, and fired until validUntil.
    const old = runShard(members, T0, T0 + 15_000, {
      lease: () => ({ owner: 'exec-0', epoch: 1, validUntilMs: validUntil }),
    });
    const recordWhileStopped = runShard(members, T0, T0 + 3_000).state;
    expect(recordWhileStopped.get('a')?.stoppedReason).toBe(STOP_REASON.runningFalse);
    const taker = runShard(
      (nowMs) => [
        member('a', { waitSeconds: 0.5, running: nowMs >= T0 + 14_000 }),
        member('b', { waitSeconds: 1 }),
      ],
      T0 + 12_000,
      T0 + 20_000,
      { state: recordWhileStopped, resumeFromMs: validUntil },
    );
    const fired = seqsOf(ticksOf(old, 'a'));
    const after = seqsOf(ticksOf(taker, 'a'));
    expect(after.length).toBeGreaterThan(0);
    expect(Math.min(...after)).toBeGreaterThan(Math.max(...fired));
  });
});
