import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { breakEvenIntervalMs } from '../../../functions/scheduling/cost-model';
import {
  DEFAULT_HISTORY_BUDGET,
  HISTORY_EVENTS_PER_FAILED_ROUND,
  HISTORY_EVENTS_PER_ROUND,
} from '../../../functions/scheduling/history-budget';
import {
  type Continuation,
  closeRound,
  DEFAULT_TIMING,
  handOverDue,
  planContinuation,
  planTick,
  skipPastClaim,
  type TickInputs,
  type TickPlan,
  withholdLateTick,
} from '../../../functions/scheduling/plan-round';
import { tickDueAt } from '../../../functions/scheduling/tick-schedule';
import { FIELD, type LoopState, STOP_REASON } from '../../../functions/shared/contract';
import { readConfig } from '../../../functions/shared/control-item';
import { config, simulateLoop, T0 } from './loop-simulator';

const POLLER_ID = 'orders';
/** A deadline no test reaches: the Lambda timeout is 900 s. */
const FAR_DEADLINE = T0 + 900_000;

const loopState = (overrides: Partial<LoopState> = {}): LoopState => ({
  nextSeq: 1,
  anchorAt: T0,
  anchorSeq: 1,
  generation: 1,
  claimedThroughSeq: 1_000,
  config: config(2_000),
  executionId: 'exec-1',
  historyEvents: 0,
  historyBudget: DEFAULT_HISTORY_BUDGET,
  skippedTicks: 0,
  ...overrides,
});

const inputs = (overrides: Partial<TickInputs> = {}): TickInputs => ({
  pollerId: POLLER_ID,
  loop: undefined,
  reading: { config: config(2_000), problems: [] },
  lastSeqOnItem: 0,
  generation: 1,
  executionId: 'exec-1',
  historyBudget: DEFAULT_HISTORY_BUDGET,
  claimRequired: false,
  nowMs: T0,
  timing: DEFAULT_TIMING,
  ...overrides,
});

/** A loop that continues with `loop.config` as the item's current configuration. */
const continuing = (loop: LoopState, nowMs: number, overrides: Partial<TickInputs> = {}): TickInputs =>
  inputs({ loop, reading: { config: loop.config, problems: [] }, nowMs, ...overrides });

type FirePlan = Extract<TickPlan, { kind: 'fire' }>;
type EarlyPlan = Extract<TickPlan, { kind: 'early' }>;
type StopPlan = Extract<TickPlan, { kind: 'stop' }>;

function expectFire(plan: TickPlan): FirePlan {
  if (plan.kind !== 'fire') throw new Error(`expected a fire plan, got ${JSON.stringify(plan)}`);
  return plan;
}
function expectEarly(plan: TickPlan): EarlyPlan {
  if (plan.kind !== 'early') throw new Error(`expected an early plan, got ${JSON.stringify(plan)}`);
  return plan;
}
function expectStop(plan: TickPlan): StopPlan {
  if (plan.kind !== 'stop') throw new Error(`expected a stop plan, got ${JSON.stringify(plan)}`);
  return plan;
}

describe('planTick: a new loop', () => {
  it('schedules the first tick firstTickDelayMs after the start, continuing the seq found on the item', () => {
    // prepare
    const tick = inputs({ lastSeqOnItem: 41, nowMs: T0, generation: 3 });

    // act
    const plan = expectFire(planTick(tick));

    // assess
    expect(plan.seq).toBe(42);
    expect(plan.dueAt).toBe(T0 + DEFAULT_TIMING.firstTickDelayMs);
    expect(plan.skipped).toBe(0);
    expect(plan.next).toMatchObject({
      nextSeq: 43,
      anchorAt: T0 + DEFAULT_TIMING.firstTickDelayMs,
      anchorSeq: 42,
      generation: 3,
      skippedTicks: 0,
      historyEvents: 0,
      executionId: 'exec-1',
    });
  });

  it('starts with seq 1 when the item has no seq yet', () => {
    // act
    const plan = expectFire(planTick(inputs({ lastSeqOnItem: 0 })));

    // assess
    expect(plan.seq).toBe(1);
  });

  it('honours a custom firstTickDelayMs', () => {
    // prepare
    const timing = { ...DEFAULT_TIMING, firstTickDelayMs: 1_200 };

    // act
    const plan = expectFire(planTick(inputs({ timing })));

    // assess
    expect(plan.dueAt).toBe(T0 + 1_200);
  });

  it('takes the history budget it is given', () => {
    // act
    const plan = expectFire(planTick(inputs({ historyBudget: 500 })));

    // assess
    expect(plan.next.historyBudget).toBe(500);
  });
});

describe('planTick: anchoring', () => {
  it('fires tick k at anchorAt + (k - anchorSeq) × interval', () => {
    // prepare
    const loop = loopState({ nextSeq: 13, anchorAt: T0, anchorSeq: 10, config: config(1_500) });
    const dueAt = T0 + 3 * 1_500;

    // act
    const plan = expectFire(planTick(continuing(loop, dueAt - 700)));

    // assess
    expect(plan.seq).toBe(13);
    expect(plan.dueAt).toBe(dueAt);
    expect(plan.next).toMatchObject({ nextSeq: 14, anchorAt: T0, anchorSeq: 10 });
  });

  it('keeps every tick exactly on the grid over 1,000 ticks woken 0-300 ms late', async () => {
    // prepare
    const intervalMs = 1_700;

    // act
    const { fired } = await simulateLoop({
      intervalMs,
      ticks: 1_000,
      seed: 7,
      maxWakeLateMs: 300,
      maxIoMs: 30,
      invocationMs: () => 900_000,
      lastSeqOnItem: 99,
    });

    // assess
    const firstDueAt = fired[0]?.dueAt ?? Number.NaN;
    expect(fired.length).toBeGreaterThanOrEqual(1_000);
    fired.forEach((tick, i) => {
      expect(tick.seq).toBe(100 + i);
      expect(tick.dueAt).toBe(firstDueAt + i * intervalMs);
      expect(tick.firedAt).toBe(tick.dueAt);
      expect(tick.skipped).toBe(0);
    });
  });

  it.each([1_000, 1_001, 2_500, 59_999, 3_600_000])(
    'does not drift at an interval of %i ms over 1,000 ticks woken 0-300 ms late',
    async (intervalMs) => {
      // act
      const { fired } = await simulateLoop({
        intervalMs,
        ticks: 1_000,
        seed: intervalMs,
        maxWakeLateMs: 300,
        maxIoMs: 30,
        invocationMs: () => 900_000,
      });

      // assess
      const firstDueAt = fired[0]?.dueAt ?? Number.NaN;
      const offGrid = fired.filter(
        (tick, i) => tick.dueAt !== firstDueAt + i * intervalMs || tick.seq !== i + 1,
      );
      expect(offGrid).toEqual([]);
      expect(fired.filter((tick) => tick.firedAt !== tick.dueAt)).toEqual([]);
    },
  );
});

describe('planTick: waking too early', () => {
  it('returns an early plan without firing when the next tick is more than maxInProcessSleepMs away', () => {
    // prepare
    const loop = loopState({ nextSeq: 2, config: config(60_000) });
    const dueAt = T0 + 60_000;

    // act
    const plan = expectEarly(planTick(continuing(loop, dueAt - DEFAULT_TIMING.maxInProcessSleepMs - 1)));

    // assess
    expect(plan.dueAt).toBe(dueAt);
    expect(plan.next).toMatchObject({ nextSeq: 2, anchorAt: T0, anchorSeq: 1, skippedTicks: 0 });
  });

  it('fires (sleeping in-process) when the next tick is exactly maxInProcessSleepMs away', () => {
    // prepare
    const loop = loopState({ nextSeq: 2, config: config(60_000) });
    const dueAt = T0 + 60_000;

    // act
    const plan = expectFire(planTick(continuing(loop, dueAt - DEFAULT_TIMING.maxInProcessSleepMs)));

    // assess
    expect(plan.seq).toBe(2);
    expect(plan.dueAt).toBe(dueAt);
  });
});

describe('planTick: falling behind', () => {
  it('skips the ticks it missed when behind by more than one interval', () => {
    // prepare
    const intervalMs = 2_000;
    const loop = loopState({ nextSeq: 5, config: config(intervalMs), skippedTicks: 4 });
    const dueAt = T0 + 4 * intervalMs;
    const nowMs = dueAt + 3 * intervalMs + 700;

    // act
    const plan = expectFire(planTick(continuing(loop, nowMs)));

    // assess
    expect(plan.skipped).toBe(3);
    expect(plan.next.skippedTicks).toBe(7);
  });

  it('keeps the grid phase when it skips, firing late by less than one interval', () => {
    // prepare
    const intervalMs = 2_000;
    const loop = loopState({ nextSeq: 5, config: config(intervalMs) });
    const nowMs = T0 + 4 * intervalMs + 3 * intervalMs + 700;

    // act
    const plan = expectFire(planTick(continuing(loop, nowMs)));

    // assess
    expect(plan.seq).toBe(5);
    expect(plan.dueAt).toBe(T0 + 7 * intervalMs);
    expect((plan.dueAt - T0) % intervalMs).toBe(0);
    expect(nowMs - plan.dueAt).toBe(700);
    expect(plan.next).toMatchObject({ nextSeq: 6, anchorAt: T0 + 3 * intervalMs, anchorSeq: 1 });
  });

  it('schedules the tick after a skip one interval after the tick it fired', () => {
    // prepare
    const intervalMs = 2_000;
    const loop = loopState({ nextSeq: 5, config: config(intervalMs) });
    const nowMs = T0 + 4 * intervalMs + 10 * intervalMs + 1;

    // act
    const skipping = expectFire(planTick(continuing(loop, nowMs)));
    const following = expectFire(planTick(continuing(skipping.next, skipping.dueAt + intervalMs - 400)));

    // assess
    expect(skipping.skipped).toBe(10);
    expect(following.seq).toBe(6);
    expect(following.skipped).toBe(0);
    expect(following.dueAt).toBe(skipping.dueAt + intervalMs);
  });

  it('skips one tick when exactly one interval behind', () => {
    // prepare
    const intervalMs = 2_000;
    const loop = loopState({ nextSeq: 5, config: config(intervalMs) });
    const dueAt = T0 + 4 * intervalMs;

    // act
    const plan = expectFire(planTick(continuing(loop, dueAt + intervalMs)));

    // assess
    expect(plan.skipped).toBe(1);
    expect(plan.dueAt).toBe(dueAt + intervalMs);
  });

  it('fires late without skipping when behind by less than half an interval', () => {
    // prepare
    const intervalMs = 2_000;
    const loop = loopState({ nextSeq: 5, config: config(intervalMs), skippedTicks: 2 });
    const dueAt = T0 + 4 * intervalMs;

    // act
    const plan = expectFire(planTick(continuing(loop, dueAt + intervalMs / 2 - 1)));

    // assess
    expect(plan.skipped).toBe(0);
    expect(plan.dueAt).toBe(dueAt);
    expect(plan.next).toMatchObject({ nextSeq: 6, anchorAt: T0, anchorSeq: 1, skippedTicks: 2 });
  });

  it('skips a tick late by half an interval or more and fires the next one on the grid, not close behind', () => {
    // prepare
    const intervalMs = 2_000;
    const loop = loopState({ nextSeq: 5, config: config(intervalMs), skippedTicks: 2 });
    const dueAt = T0 + 4 * intervalMs;

    // act
    const plan = expectFire(planTick(continuing(loop, dueAt + intervalMs / 2)));

    // assess: the same seq, one slot later on the grid
    expect(plan.skipped).toBe(1);
    expect(plan.seq).toBe(5);
    expect(plan.dueAt).toBe(dueAt + intervalMs);
    expect(plan.next).toMatchObject({ nextSeq: 6, skippedTicks: 3 });
  });
});

describe('withholdLateTick: a planned tick that is late when it is to be sent', () => {
  const intervalMs = 2_000;
  // The plan's loop at seq 5, due at T0 + 8 s.
  const atTick = loopState({ nextSeq: 5, config: config(intervalMs), skippedTicks: 2 });
  const dueAt = T0 + 4 * intervalMs;

  it('lets a tick late by less than half an interval go out', () => {
    // act
    const withheld = withholdLateTick(atTick, dueAt + intervalMs / 2 - 1);

    // assess
    expect(withheld).toBeUndefined();
  });

  it('withholds a tick late by half an interval, keeping its seq for the next slot on the grid', () => {
    // act
    const withheld = withholdLateTick(atTick, dueAt + intervalMs / 2);

    // assess
    expect(withheld).toMatchObject({ nextSeq: 5, skippedTicks: 3 });
    expect(withheld && tickDueAt(withheld, 5)).toBe(dueAt + intervalMs);
  });

  it('withholds a tick that the send allowance would bring to half an interval late', () => {
    // act
    const sent = withholdLateTick(atTick, dueAt + intervalMs / 2 - 21, 20);
    const withheld = withholdLateTick(atTick, dueAt + intervalMs / 2 - 20, 20);

    // assess
    expect(sent).toBeUndefined();
    expect(withheld).toMatchObject({ nextSeq: 5, skippedTicks: 3 });
  });

  it('skips as many slots as planTick would, landing less than half an interval from the send time', () => {
    // act
    const withheld = withholdLateTick(atTick, dueAt + 3.7 * intervalMs);

    // assess
    expect(withheld).toMatchObject({ nextSeq: 5, skippedTicks: 6 });
    expect(withheld && tickDueAt(withheld, 5)).toBe(dueAt + 4 * intervalMs);
  });
});

describe('planTick: cadence change', () => {
  it('keeps the due time of the tick about to fire and spaces later ticks by the new interval', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, config: config(2_000) });
    const announcedDueAt = T0 + 4 * 2_000;

    // act
    const plan = expectFire(
      planTick(
        inputs({ loop, reading: { config: config(5_000), problems: [] }, nowMs: announcedDueAt - 800 }),
      ),
    );

    // assess
    expect(plan.seq).toBe(5);
    expect(plan.dueAt).toBe(announcedDueAt);
    expect(plan.config.intervalMs).toBe(5_000);
    expect(plan.next).toMatchObject({
      nextSeq: 6,
      anchorAt: announcedDueAt,
      anchorSeq: 5,
      config: { intervalMs: 5_000 },
    });
  });

  it('follows the new interval on every later tick', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, config: config(2_000) });
    const announcedDueAt = T0 + 4 * 2_000;
    const reading = { config: config(1_250), problems: [] };

    // act
    const dueTimes: number[] = [];
    let current: LoopState = loop;
    let nowMs = announcedDueAt - 600;
    for (let i = 0; i < 5; i += 1) {
      const plan = expectFire(planTick(inputs({ loop: current, reading, nowMs })));
      dueTimes.push(plan.dueAt);
      current = plan.next;
      nowMs = plan.dueAt + 1_250 - DEFAULT_TIMING.readAheadMs;
    }

    // assess
    expect(dueTimes).toEqual([0, 1, 2, 3, 4].map((i) => announcedDueAt + i * 1_250));
  });

  it('re-anchors on an early plan too, so the announced tick keeps its time', () => {
    // prepare
    const loop = loopState({ nextSeq: 2, config: config(60_000) });
    const announcedDueAt = T0 + 60_000;

    // act
    const plan = expectEarly(
      planTick(inputs({ loop, reading: { config: config(10_000), problems: [] }, nowMs: T0 + 5_000 })),
    );

    // assess
    expect(plan.dueAt).toBe(announcedDueAt);
    expect(plan.next).toMatchObject({
      nextSeq: 2,
      anchorAt: announcedDueAt,
      anchorSeq: 2,
      config: { intervalMs: 10_000 },
    });
  });

  it('does not re-anchor when the interval is unchanged', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, config: config(2_000, { target: 'old' }) });

    // act
    const plan = expectFire(
      planTick(
        inputs({
          loop,
          reading: { config: config(2_000, { target: 'new' }), problems: [] },
          nowMs: T0 + 7_800,
        }),
      ),
    );

    // assess
    expect(plan.next).toMatchObject({ anchorAt: T0, anchorSeq: 1, config: { target: 'new' } });
  });
});

describe('planTick: stopping', () => {
  it('stops with STOP_REASON.runningFalse when running is false', () => {
    // act
    const plan = expectStop(
      planTick(
        inputs({ loop: loopState(), reading: { config: config(2_000, { running: false }), problems: [] } }),
      ),
    );

    // assess
    expect(plan.reason).toBe(STOP_REASON.runningFalse);
  });

  it('stops with STOP_REASON.itemMissing when the control item is gone', () => {
    // act
    const plan = expectStop(planTick(inputs({ loop: loopState(), reading: 'missing' })));

    // assess
    expect(plan.reason).toBe(STOP_REASON.itemMissing);
  });

  it('stops with the invalid field and value when there is no earlier valid configuration', () => {
    // prepare
    const item: Record<string, AttributeValue> = {
      [FIELD.id]: { S: POLLER_ID },
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { S: 'abc' },
    };
    const reading = readConfig(POLLER_ID, item);

    // act
    const plan = expectStop(planTick(inputs({ reading })));

    // assess
    expect(plan.reason.startsWith(STOP_REASON.invalidConfig)).toBe(true);
    expect(plan.reason).toContain('waitseconds');
    expect(plan.reason).toContain('S "abc"');
  });

  it('keeps the previous value of an invalid field and carries on when there is an earlier configuration', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, config: config(2_000) });
    const item: Record<string, AttributeValue> = {
      [FIELD.id]: { S: POLLER_ID },
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '0' },
    };
    const reading = readConfig(POLLER_ID, item, loop.config);

    // act
    const plan = expectFire(planTick(inputs({ loop, reading, nowMs: T0 + 4 * 2_000 - 500 })));

    // assess
    expect(reading.problems.map((problem) => problem.field)).toEqual(['waitseconds']);
    expect(plan.config.intervalMs).toBe(2_000);
    expect(plan.dueAt).toBe(T0 + 4 * 2_000);
    expect(plan.next).toMatchObject({ anchorAt: T0, anchorSeq: 1 });
  });
});

describe('planTick: claims', () => {
  it('claims seq … seq + ceil(claimWindowMs / interval) - 1 on the first tick of a new loop', () => {
    // prepare
    const perWindow = Math.ceil(DEFAULT_TIMING.claimWindowMs / 2_000);

    // act
    const plan = expectFire(
      planTick(inputs({ lastSeqOnItem: 41, reading: { config: config(2_000), problems: [] } })),
    );

    // assess
    expect(perWindow).toBe(15);
    expect(plan.claimThrough).toBe(42 + perWindow - 1);
    expect(plan.next.claimedThroughSeq).toBe(42 + perWindow - 1);
  });

  it('rounds a window that is not a whole number of intervals up to cover every tick due within it', () => {
    // act
    const plan = expectFire(
      planTick(inputs({ lastSeqOnItem: 0, reading: { config: config(7_300), problems: [] } })),
    );

    // assess
    expect(plan.claimThrough).toBe(5);
  });

  it('does not claim again for a tick within the current claim', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, claimedThroughSeq: 6 });

    // act
    const plan = expectFire(planTick(continuing(loop, T0 + 4 * 2_000 - 100)));

    // assess
    expect(plan.claimThrough).toBeUndefined();
    expect(plan.next.claimedThroughSeq).toBe(6);
  });

  it('does not claim again for the last tick of the current claim', () => {
    // prepare
    const loop = loopState({ nextSeq: 6, claimedThroughSeq: 6 });

    // act
    const plan = expectFire(planTick(continuing(loop, T0 + 5 * 2_000 - 100)));

    // assess
    expect(plan.claimThrough).toBeUndefined();
  });

  it('claims the next window on the first tick past the current claim', () => {
    // prepare
    const loop = loopState({ nextSeq: 7, claimedThroughSeq: 6 });

    // act
    const plan = expectFire(planTick(continuing(loop, T0 + 6 * 2_000 - 100)));

    // assess
    expect(plan.claimThrough).toBe(7 + 15 - 1);
    expect(plan.next.claimedThroughSeq).toBe(21);
  });

  it('claims once per window over many ticks, each claim starting right after the previous one', () => {
    // prepare
    let loop = expectFire(planTick(inputs({ reading: { config: config(1_000), problems: [] } }))).next;
    const claims: number[] = [];

    // act
    for (let i = 0; i < 89; i += 1) {
      const plan = expectFire(planTick(continuing(loop, loop.anchorAt + (loop.nextSeq - 1) * 1_000 - 100)));
      if (plan.claimThrough !== undefined) claims.push(plan.claimThrough);
      loop = plan.next;
    }

    // assess
    expect(loop.nextSeq).toBe(91);
    expect(claims).toEqual([60, 90]);
  });

  it('claims one tick per window at a 59 s interval', () => {
    // prepare
    const first = expectFire(
      planTick(inputs({ lastSeqOnItem: 9, reading: { config: config(59_000), problems: [] } })),
    );

    // act
    const second = expectFire(planTick(continuing(first.next, first.dueAt + 59_000 - 500)));

    // assess
    expect(first.claimThrough).toBe(10);
    expect(second.claimThrough).toBe(11);
  });

  it('claims a whole window of sub-second ticks at once', () => {
    // act
    const plan = expectFire(
      planTick(inputs({ lastSeqOnItem: 0, reading: { config: config(100), problems: [] } })),
    );

    // assess
    expect(plan.claimThrough).toBe(300);
  });

  it('does not claim on an early plan', () => {
    // prepare
    const loop = loopState({ nextSeq: 2, claimedThroughSeq: 1, config: config(60_000) });

    // act
    const plan = expectEarly(planTick(continuing(loop, T0 + 30_000)));

    // assess
    expect(plan.next.claimedThroughSeq).toBe(1);
  });
});

describe('planTick: the first tick of an invocation', () => {
  it('claims even inside the current claim, moving the claim a window ahead of the tick', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, claimedThroughSeq: 6 });

    // act
    const plan = expectFire(planTick(continuing(loop, T0 + 4 * 2_000 - 100, { claimRequired: true })));

    // assess
    expect(plan.claimThrough).toBe(5 + 15 - 1);
    expect(plan.next.claimedThroughSeq).toBe(19);
  });

  it('moves the claim at least one past the current claim when the window is shorter', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, claimedThroughSeq: 6, config: config(59_000) });

    // act
    const plan = expectFire(planTick(continuing(loop, T0 + 4 * 59_000 - 100, { claimRequired: true })));

    // assess
    expect(plan.claimThrough).toBe(7);
  });

  it('claims a plain window when the tick is past the current claim', () => {
    // prepare
    const loop = loopState({ nextSeq: 7, claimedThroughSeq: 6 });

    // act
    const plan = expectFire(planTick(continuing(loop, T0 + 6 * 2_000 - 100, { claimRequired: true })));

    // assess
    expect(plan.claimThrough).toBe(21);
  });
});

describe('skipPastClaim', () => {
  it('jumps the seq past a claim an earlier attempt made, keeping the next due time', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, anchorSeq: 1, claimedThroughSeq: 6 });
    const dueBefore = T0 + 4 * 2_000;

    // act
    const skipped = skipPastClaim(loop, 19);

    // assess
    expect(skipped).toMatchObject({ nextSeq: 20, claimedThroughSeq: 19 });
    expect(skipped.anchorAt + (skipped.nextSeq - skipped.anchorSeq) * 2_000).toBe(dueBefore);
  });

  it('makes the next plan fire the seq after the foreign claim at the original time', () => {
    // prepare
    const loop = skipPastClaim(loopState({ nextSeq: 5, claimedThroughSeq: 6 }), 19);

    // act
    const plan = expectFire(planTick(continuing(loop, T0 + 4 * 2_000 - 100, { claimRequired: true })));

    // assess
    expect(plan.seq).toBe(20);
    expect(plan.dueAt).toBe(T0 + 4 * 2_000);
    expect(plan.claimThrough).toBe(34);
  });

  it('only adopts the claim when it does not reach the next seq', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, claimedThroughSeq: 2 });

    // act
    const skipped = skipPastClaim(loop, 4);

    // assess
    expect(skipped).toEqual({ ...loop, claimedThroughSeq: 4 });
  });
});

describe('planContinuation: below the break-even interval', () => {
  const loopDueAt = (intervalMs: number, dueAt: number, overrides: Partial<LoopState> = {}) =>
    loopState({
      nextSeq: 2,
      anchorAt: dueAt - intervalMs,
      anchorSeq: 1,
      config: config(intervalMs),
      ...overrides,
    });

  function expectNextTick(continuation: Continuation): number {
    if (continuation.kind !== 'next-tick')
      throw new Error(`expected next-tick, got ${JSON.stringify(continuation)}`);
    return continuation.readAt;
  }
  function expectHandBack(continuation: Continuation): number {
    if (continuation.kind !== 'hand-back')
      throw new Error(`expected hand-back, got ${JSON.stringify(continuation)}`);
    return continuation.wakeAt;
  }

  it('stays awake and reads readAheadMs before the next tick', () => {
    // prepare
    const nextDueAt = T0 + 10_000;
    const loop = loopDueAt(10_000, nextDueAt);

    // act
    const readAt = expectNextTick(planContinuation(loop, T0 + 50, FAR_DEADLINE, DEFAULT_TIMING));

    // assess
    expect(readAt).toBe(nextDueAt - DEFAULT_TIMING.readAheadMs);
  });

  it('reads at once when the next tick is closer than readAheadMs', () => {
    // prepare
    const nextDueAt = T0 + 1_000;
    const loop = loopDueAt(1_000, nextDueAt);
    const nowMs = nextDueAt - 40;

    // act
    const readAt = expectNextTick(planContinuation(loop, nowMs, FAR_DEADLINE, DEFAULT_TIMING));

    // assess
    expect(readAt).toBe(nowMs);
  });

  it('stays awake at the longest interval below the break-even', () => {
    // prepare
    const intervalMs = breakEvenIntervalMs() - 1;
    const loop = loopDueAt(intervalMs, T0 + intervalMs);

    // act
    const continuation = planContinuation(loop, T0, FAR_DEADLINE, DEFAULT_TIMING);

    // assess
    expect(continuation.kind).toBe('next-tick');
  });

  it.each([100, 250])('stays awake between sub-second ticks %i ms apart', (intervalMs) => {
    // prepare
    const nextDueAt = T0 + intervalMs;
    const loop = loopDueAt(intervalMs, nextDueAt);

    // act
    const readAt = expectNextTick(planContinuation(loop, T0 + 5, FAR_DEADLINE, DEFAULT_TIMING));

    // assess
    expect(readAt).toBe(Math.max(T0 + 5, nextDueAt - DEFAULT_TIMING.readAheadMs));
  });

  it('stays awake while the next tick is handBackMarginMs before the deadline', () => {
    // prepare
    const nextDueAt = T0 + 1_000;
    const loop = loopDueAt(1_000, nextDueAt);

    // act
    const continuation = planContinuation(
      loop,
      T0,
      nextDueAt + DEFAULT_TIMING.handBackMarginMs,
      DEFAULT_TIMING,
    );

    // assess
    expect(continuation.kind).toBe('next-tick');
  });

  it('hands back once the next tick plus handBackMarginMs passes the deadline', () => {
    // prepare
    const nextDueAt = T0 + 1_000;
    const loop = loopDueAt(1_000, nextDueAt);

    // act
    const wakeAt = expectHandBack(
      planContinuation(loop, T0, nextDueAt + DEFAULT_TIMING.handBackMarginMs - 1, DEFAULT_TIMING),
    );

    // assess
    expect(wakeAt % 1_000).toBe(0);
    expect(nextDueAt - wakeAt).toBeGreaterThanOrEqual(DEFAULT_TIMING.wakeLeadMs);
    expect(nextDueAt - wakeAt).toBeLessThan(DEFAULT_TIMING.wakeLeadMs + 1_000);
  });

  it('hands back before the deadline even for sub-second ticks', () => {
    // prepare
    const nextDueAt = T0 + 100;
    const loop = loopDueAt(100, nextDueAt);

    // act
    const continuation = planContinuation(loop, T0, T0 + 3_000, DEFAULT_TIMING);

    // assess
    expect(continuation.kind).toBe('hand-back');
  });

  it('judges the break-even by the size it is given', () => {
    // prepare
    const intervalMs = 28_000;
    const loop = loopDueAt(intervalMs, T0 + intervalMs);

    // act
    const arm = planContinuation(loop, T0, FAR_DEADLINE, DEFAULT_TIMING, {
      memoryMb: 128,
      architecture: 'arm64',
    });
    const x86 = planContinuation(loop, T0, FAR_DEADLINE, DEFAULT_TIMING, {
      memoryMb: 128,
      architecture: 'x86_64',
    });

    // assess
    expect(arm.kind).toBe('next-tick');
    expect(x86.kind).toBe('hand-back');
  });
});

describe('planContinuation: at or above the break-even interval', () => {
  const loopDueAt = (intervalMs: number, dueAt: number) =>
    loopState({ nextSeq: 2, anchorAt: dueAt - intervalMs, anchorSeq: 1, config: config(intervalMs) });

  it.each([breakEvenIntervalMs(), 59_000, 3_600_000])(
    'hands back at %i ms, waking on a whole second at least wakeLeadMs before the next tick',
    (intervalMs) => {
      // prepare
      const nextDueAt = T0 + intervalMs;
      const loop = loopDueAt(intervalMs, nextDueAt);

      // act
      const continuation = planContinuation(loop, T0 + 20, T0 + 900_000 + intervalMs, DEFAULT_TIMING);

      // assess
      if (continuation.kind !== 'hand-back') throw new Error(`expected hand-back, got ${continuation.kind}`);
      expect(continuation.wakeAt % 1_000).toBe(0);
      expect(nextDueAt - continuation.wakeAt).toBeGreaterThanOrEqual(DEFAULT_TIMING.wakeLeadMs);
      expect(nextDueAt - continuation.wakeAt).toBeLessThan(DEFAULT_TIMING.wakeLeadMs + 1_000);
    },
  );

  it('sleeps in-process when the next tick is at most maxInProcessSleepMs away', () => {
    // prepare
    const nextDueAt = T0 + 60_000;
    const loop = loopDueAt(60_000, nextDueAt);

    // act
    const continuation = planContinuation(
      loop,
      nextDueAt - DEFAULT_TIMING.maxInProcessSleepMs,
      FAR_DEADLINE,
      DEFAULT_TIMING,
    );

    // assess
    expect(continuation).toEqual({ kind: 'next-tick', readAt: nextDueAt - DEFAULT_TIMING.readAheadMs });
  });

  it('hands back when the next tick is just over maxInProcessSleepMs away', () => {
    // prepare
    const nextDueAt = T0 + 60_000;
    const loop = loopDueAt(60_000, nextDueAt);

    // act
    const continuation = planContinuation(
      loop,
      nextDueAt - DEFAULT_TIMING.maxInProcessSleepMs - 1,
      FAR_DEADLINE,
      DEFAULT_TIMING,
    );

    // assess
    expect(continuation.kind).toBe('hand-back');
  });

  it('hands back instead of sleeping in-process when the next tick is too close to the deadline', () => {
    // prepare
    const nextDueAt = T0 + 60_000;
    const loop = loopDueAt(60_000, nextDueAt);

    // act
    const continuation = planContinuation(loop, nextDueAt - 1_000, nextDueAt + 1_000, DEFAULT_TIMING);

    // assess
    expect(continuation.kind).toBe('hand-back');
  });
});

describe('closeRound', () => {
  it('adds HISTORY_EVENTS_PER_ROUND to historyEvents', () => {
    // prepare
    const loop = loopState({ historyEvents: 90 });

    // act
    const next = closeRound(loop, 'exec-1', 0);

    // assess
    expect(next.historyEvents).toBe(90 + HISTORY_EVENTS_PER_ROUND);
  });

  it('adds the events the path to the round spent as well (failed rounds, retried attempts)', () => {
    // prepare
    const loop = loopState({ historyEvents: 90 });

    // act
    const next = closeRound(loop, 'exec-1', 3 * HISTORY_EVENTS_PER_FAILED_ROUND);

    // assess
    expect(next.historyEvents).toBe(90 + HISTORY_EVENTS_PER_ROUND + 3 * HISTORY_EVENTS_PER_FAILED_ROUND);
  });

  it('starts from zero for a loop carried over from another execution, and takes on this execution', () => {
    // prepare
    const loop = loopState({ historyEvents: 19_990, executionId: 'exec-1' });

    // act
    const next = closeRound(loop, 'exec-2', HISTORY_EVENTS_PER_FAILED_ROUND);

    // assess
    expect(next).toMatchObject({
      executionId: 'exec-2',
      historyEvents: HISTORY_EVENTS_PER_ROUND + HISTORY_EVENTS_PER_FAILED_ROUND,
    });
  });

  it('leaves the schedule, seq and claim as they are', () => {
    // prepare
    const loop = loopState({
      nextSeq: 17,
      anchorAt: T0 + 3,
      anchorSeq: 4,
      claimedThroughSeq: 30,
      skippedTicks: 2,
    });

    // act
    const next = closeRound(loop, 'exec-1', 0);

    // assess
    expect(next).toEqual({ ...loop, historyEvents: HISTORY_EVENTS_PER_ROUND });
  });

  it('does not hand over while one more round still fits the budget', () => {
    // prepare
    const budget = 10 * HISTORY_EVENTS_PER_ROUND;
    const loop = loopState({ historyEvents: budget - 2 * HISTORY_EVENTS_PER_ROUND, historyBudget: budget });

    // act
    const next = closeRound(loop, 'exec-1', 0);

    // assess
    expect(next.historyEvents).toBe(budget - HISTORY_EVENTS_PER_ROUND);
    expect(handOverDue(next, next.executionId)).toBe(false);
  });

  it('hands over when one more round would cross the budget', () => {
    // prepare
    const budget = 10 * HISTORY_EVENTS_PER_ROUND;
    const loop = loopState({
      historyEvents: budget - 2 * HISTORY_EVENTS_PER_ROUND + 1,
      historyBudget: budget,
    });

    // act
    const next = closeRound(loop, 'exec-1', 0);

    // assess
    expect(handOverDue(next, next.executionId)).toBe(true);
  });

  it('hands over when the failed-round events push it over the budget', () => {
    // prepare
    const budget = 10 * HISTORY_EVENTS_PER_ROUND;
    const loop = loopState({ historyEvents: budget - 3 * HISTORY_EVENTS_PER_ROUND, historyBudget: budget });

    // act
    const healthy = closeRound(loop, 'exec-1', 0);
    const afterFailure = closeRound(loop, 'exec-1', HISTORY_EVENTS_PER_FAILED_ROUND);

    // assess
    expect(handOverDue(healthy, loop.executionId)).toBe(false);
    expect(handOverDue(afterFailure, loop.executionId)).toBe(true);
  });
});

describe('handOverDue', () => {
  it('ignores the history of another execution when deciding a hand-over', () => {
    // prepare
    const loop = loopState({ historyEvents: 19_999, historyBudget: 20_000, executionId: 'exec-1' });

    // act / assess
    expect(handOverDue(loop, 'exec-1')).toBe(true);
    expect(handOverDue(loop, 'exec-2')).toBe(false);
  });

  it('counts the events spent on the way to this round before deciding', () => {
    // prepare
    const budget = 100 * HISTORY_EVENTS_PER_ROUND;
    const loop = loopState({ historyEvents: budget - 2 * HISTORY_EVENTS_PER_ROUND, historyBudget: budget });

    // act / assess
    expect(handOverDue(loop, 'exec-1', HISTORY_EVENTS_PER_ROUND)).toBe(false);
    expect(handOverDue(loop, 'exec-1', HISTORY_EVENTS_PER_ROUND + 1)).toBe(true);
  });
});

describe('planTick: history across executions', () => {
  it('resets historyEvents on a new executionId and carries seq, anchor and claim on', () => {
    // prepare
    const loop = loopState({
      nextSeq: 5,
      historyEvents: 19_990,
      executionId: 'exec-1',
      claimedThroughSeq: 9,
    });

    // act
    const plan = expectFire(planTick(continuing(loop, T0 + 8_000, { executionId: 'exec-2' })));

    // assess
    expect(plan.seq).toBe(5);
    expect(plan.dueAt).toBe(T0 + 8_000);
    expect(plan.claimThrough).toBeUndefined();
    expect(plan.next).toMatchObject({
      executionId: 'exec-2',
      historyEvents: 0,
      anchorAt: T0,
      anchorSeq: 1,
      nextSeq: 6,
      claimedThroughSeq: 9,
    });
  });

  it('keeps counting historyEvents within the same execution', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, historyEvents: 90, executionId: 'exec-1' });

    // act
    const plan = expectFire(planTick(continuing(loop, T0 + 8_000, { executionId: 'exec-1' })));

    // assess
    expect(plan.next.historyEvents).toBe(90);
  });

  it('resets historyEvents on an early plan in a new execution too', () => {
    // prepare
    const loop = loopState({ nextSeq: 2, historyEvents: 19_990, config: config(60_000) });

    // act
    const plan = expectEarly(planTick(continuing(loop, T0 + 1_000, { executionId: 'exec-2' })));

    // assess
    expect(plan.next).toMatchObject({ executionId: 'exec-2', historyEvents: 0 });
  });
});
