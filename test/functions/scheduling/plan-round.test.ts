import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HISTORY_BUDGET,
  HISTORY_EVENTS_PER_FAILED_ROUND,
  HISTORY_EVENTS_PER_ROUND,
} from '../../../functions/scheduling/history-budget';
import {
  DEFAULT_TIMING,
  planRound,
  type RoundInputs,
  type RoundPlan,
} from '../../../functions/scheduling/plan-round';
import { FIELD, type LoopState, type PollerConfig, STOP_REASON } from '../../../functions/shared/contract';
import { readConfig } from '../../../functions/shared/control-item';

const POLLER_ID = 'orders';
/** Deliberately not on a whole second, so whole-second wake-ups are visible. */
const T0 = Date.parse('2030-01-01T00:00:00.250Z');

const config = (intervalMs: number, overrides: Partial<PollerConfig> = {}): PollerConfig => ({
  running: true,
  intervalMs,
  ...overrides,
});

const loopState = (overrides: Partial<LoopState> = {}): LoopState => ({
  nextSeq: 1,
  anchorAt: T0,
  anchorSeq: 1,
  config: config(2_000),
  executionId: 'exec-1',
  historyEvents: 0,
  historyBudget: DEFAULT_HISTORY_BUDGET,
  skippedTicks: 0,
  ...overrides,
});

const inputs = (overrides: Partial<RoundInputs> = {}): RoundInputs => ({
  pollerId: POLLER_ID,
  loop: undefined,
  reading: { config: config(2_000), problems: [] },
  lastSeqOnItem: 0,
  executionId: 'exec-1',
  historyBudget: DEFAULT_HISTORY_BUDGET,
  previousRoundFailed: false,
  nowMs: T0,
  timing: DEFAULT_TIMING,
  ...overrides,
});

type FirePlan = Extract<RoundPlan, { kind: 'fire' }>;
type WaitPlan = Extract<RoundPlan, { kind: 'wait' }>;
type StopPlan = Extract<RoundPlan, { kind: 'stop' }>;

function expectFire(plan: RoundPlan): FirePlan {
  if (plan.kind !== 'fire') throw new Error(`expected a fire plan, got ${JSON.stringify(plan)}`);
  return plan;
}
function expectWait(plan: RoundPlan): WaitPlan {
  if (plan.kind !== 'wait') throw new Error(`expected a wait plan, got ${JSON.stringify(plan)}`);
  return plan;
}
function expectStop(plan: RoundPlan): StopPlan {
  if (plan.kind !== 'stop') throw new Error(`expected a stop plan, got ${JSON.stringify(plan)}`);
  return plan;
}

/** Small seeded PRNG (mulberry32) so the simulated lateness is random yet reproducible. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface FiredTick {
  readonly seq: number;
  readonly dueAt: number;
  readonly firedAt: number;
  readonly skipped: number;
  readonly executionId: string;
}

/**
 * Drives planRound the way the state machine and controller do: fire plans sleep in-process until `dueAt`, then
 * Step Functions waits until `wakeAt` (immediately if that has passed) and the next round starts up to
 * `maxLateMs` late. A restart hands the loop to a fresh execution that starts right away.
 */
function simulate(options: {
  readonly intervalMs: number;
  readonly ticks: number;
  readonly seed: number;
  readonly maxLateMs: number;
  readonly historyBudget?: number;
  readonly lastSeqOnItem?: number;
}): { fired: FiredTick[]; waits: number; restarts: number; last: LoopState } {
  const random = seededRandom(options.seed);
  const late = () => Math.floor(random() * (options.maxLateMs + 1));
  const historyBudget = options.historyBudget ?? DEFAULT_HISTORY_BUDGET;
  const fired: FiredTick[] = [];
  let loop: LoopState | undefined;
  let executionNumber = 1;
  let nowMs = T0;
  let waits = 0;
  let restarts = 0;
  for (let round = 0; fired.length < options.ticks; round += 1) {
    if (round > options.ticks * 3) throw new Error('simulation is not making progress');
    const executionId = `exec-${executionNumber}`;
    const plan = planRound(
      inputs({
        loop,
        reading: { config: config(options.intervalMs), problems: [] },
        lastSeqOnItem: options.lastSeqOnItem ?? 0,
        executionId,
        historyBudget,
        nowMs,
      }),
    );
    if (plan.kind === 'stop') throw new Error(`unexpected stop: ${plan.reason}`);
    let doneAt = nowMs;
    if (plan.kind === 'fire') {
      doneAt = Math.max(nowMs, plan.dueAt);
      fired.push({ seq: plan.seq, dueAt: plan.dueAt, firedAt: doneAt, skipped: plan.skipped, executionId });
    } else {
      waits += 1;
    }
    loop = plan.next;
    if (plan.restart) {
      restarts += 1;
      executionNumber += 1;
      nowMs = doneAt + late();
    } else {
      nowMs = Math.max(plan.wakeAt, doneAt) + late();
    }
  }
  if (loop === undefined) throw new Error('no round ran');
  return { fired, waits, restarts, last: loop };
}

describe('planRound: anchoring', () => {
  it('fires the first round immediately, continuing the seq found on the item', () => {
    // prepare
    const round = inputs({ lastSeqOnItem: 41, nowMs: T0 });

    // act
    const plan = expectFire(planRound(round));

    // assess
    expect(plan.seq).toBe(42);
    expect(plan.dueAt).toBe(T0);
    expect(plan.skipped).toBe(0);
    expect(plan.next).toMatchObject({
      nextSeq: 43,
      anchorAt: T0,
      anchorSeq: 42,
      skippedTicks: 0,
      executionId: 'exec-1',
    });
  });

  it('starts a loop with seq 1 when the item has no seq yet', () => {
    // act
    const plan = expectFire(planRound(inputs({ lastSeqOnItem: 0 })));

    // assess
    expect(plan.seq).toBe(1);
  });

  it('fires tick k at anchorAt + (k - anchorSeq) × interval', () => {
    // prepare
    const loop = loopState({ nextSeq: 13, anchorAt: T0, anchorSeq: 10, config: config(1_500) });
    const dueAt = T0 + 3 * 1_500;

    // act
    const plan = expectFire(
      planRound(inputs({ loop, reading: { config: config(1_500), problems: [] }, nowMs: dueAt - 700 })),
    );

    // assess
    expect(plan.seq).toBe(13);
    expect(plan.dueAt).toBe(dueAt);
    expect(plan.next).toMatchObject({ nextSeq: 14, anchorAt: T0, anchorSeq: 10 });
  });

  it('wakes on a whole second at least wakeLeadMs before the next tick', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, config: config(2_000) });
    const dueAt = T0 + 4 * 2_000;
    const nextDueAt = dueAt + 2_000;

    // act
    const plan = expectFire(planRound(inputs({ loop, nowMs: dueAt - 300 })));

    // assess
    expect(plan.wakeAt % 1_000).toBe(0);
    expect(nextDueAt - plan.wakeAt).toBeGreaterThanOrEqual(DEFAULT_TIMING.wakeLeadMs);
    expect(nextDueAt - plan.wakeAt).toBeLessThan(DEFAULT_TIMING.wakeLeadMs + 1_000);
    expect(plan.wakeAt).toBe(nextDueAt - 1_250);
  });

  it('honours a custom wake lead', () => {
    // prepare
    const timing = { wakeLeadMs: 1_500, maxInProcessSleepMs: 3_000 };

    // act
    const plan = expectFire(planRound(inputs({ nowMs: T0, timing })));

    // assess
    expect(plan.wakeAt).toBe(T0 + 2_000 - 2_250);
  });

  it('keeps every fired tick exactly on the grid over 1,000 rounds woken 0-300 ms late', () => {
    // prepare
    const intervalMs = 1_700;

    // act
    const { fired, waits, restarts } = simulate({
      intervalMs,
      ticks: 1_000,
      seed: 7,
      maxLateMs: 300,
      lastSeqOnItem: 99,
    });

    // assess
    expect(fired).toHaveLength(1_000);
    expect(waits).toBe(0);
    expect(restarts).toBe(0);
    fired.forEach((tick, i) => {
      expect(tick.seq).toBe(100 + i);
      expect(tick.dueAt).toBe(T0 + i * intervalMs);
      expect(tick.skipped).toBe(0);
    });
    expect(fired.at(-1)?.dueAt).toBe(T0 + 999 * intervalMs);
  });

  it.each([1_000, 1_001, 2_500, 59_999, 3_600_000])(
    'does not drift at an interval of %i ms',
    (intervalMs) => {
      // act
      const { fired } = simulate({ intervalMs, ticks: 1_000, seed: intervalMs, maxLateMs: 300 });

      // assess
      const offGrid = fired.filter((tick, i) => tick.dueAt !== T0 + i * intervalMs || tick.seq !== i + 1);
      expect(offGrid).toEqual([]);
      expect(fired.every((tick) => tick.firedAt === tick.dueAt)).toBe(true);
    },
  );
});

describe('planRound: waking too early', () => {
  it('waits without firing when the next tick is more than maxInProcessSleepMs away', () => {
    // prepare
    const loop = loopState({ nextSeq: 2, config: config(60_000) });
    const dueAt = T0 + 60_000;
    const nowMs = dueAt - DEFAULT_TIMING.maxInProcessSleepMs - 1;

    // act
    const plan = expectWait(
      planRound(inputs({ loop, reading: { config: config(60_000), problems: [] }, nowMs })),
    );

    // assess
    expect(plan.next).toMatchObject({ nextSeq: 2, anchorAt: T0, anchorSeq: 1, skippedTicks: 0 });
    expect(plan.wakeAt).toBe(dueAt - 1_250);
    expect(plan.restart).toBe(false);
  });

  it('fires (sleeping in-process) when the next tick is exactly maxInProcessSleepMs away', () => {
    // prepare
    const loop = loopState({ nextSeq: 2, config: config(60_000) });
    const dueAt = T0 + 60_000;

    // act
    const plan = expectFire(
      planRound(
        inputs({
          loop,
          reading: { config: config(60_000), problems: [] },
          nowMs: dueAt - DEFAULT_TIMING.maxInProcessSleepMs,
        }),
      ),
    );

    // assess
    expect(plan.seq).toBe(2);
    expect(plan.dueAt).toBe(dueAt);
  });
});

describe('planRound: falling behind', () => {
  it('skips the ticks it missed when behind by more than one interval, keeping the grid phase', () => {
    // prepare
    const intervalMs = 2_000;
    const loop = loopState({ nextSeq: 5, config: config(intervalMs), skippedTicks: 4 });
    const dueAt = T0 + 4 * intervalMs;
    const nowMs = dueAt + 3 * intervalMs + 700;

    // act
    const plan = expectFire(planRound(inputs({ loop, nowMs })));

    // assess
    expect(plan.skipped).toBe(3);
    expect(plan.seq).toBe(5);
    expect(plan.dueAt).toBe(dueAt + 3 * intervalMs);
    expect((plan.dueAt - T0) % intervalMs).toBe(0);
    expect(nowMs - plan.dueAt).toBeLessThan(intervalMs);
    expect(plan.next).toMatchObject({ nextSeq: 6, skippedTicks: 7 });
  });

  it('schedules the tick after a skip one interval after the tick it fired', () => {
    // prepare
    const intervalMs = 2_000;
    const loop = loopState({ nextSeq: 5, config: config(intervalMs) });
    const nowMs = T0 + 4 * intervalMs + 10 * intervalMs + 1;

    // act
    const skipping = expectFire(planRound(inputs({ loop, nowMs })));
    const following = expectFire(
      planRound(inputs({ loop: skipping.next, nowMs: skipping.dueAt + intervalMs - 400 })),
    );

    // assess
    expect(skipping.skipped).toBe(10);
    expect(following.seq).toBe(6);
    expect(following.skipped).toBe(0);
    expect(following.dueAt).toBe(skipping.dueAt + intervalMs);
  });

  it('fires late without skipping when behind by less than one interval', () => {
    // prepare
    const intervalMs = 2_000;
    const loop = loopState({ nextSeq: 5, config: config(intervalMs), skippedTicks: 2 });
    const dueAt = T0 + 4 * intervalMs;

    // act
    const plan = expectFire(planRound(inputs({ loop, nowMs: dueAt + intervalMs - 1 })));

    // assess
    expect(plan.skipped).toBe(0);
    expect(plan.seq).toBe(5);
    expect(plan.dueAt).toBe(dueAt);
    expect(plan.next).toMatchObject({ nextSeq: 6, anchorAt: T0, anchorSeq: 1, skippedTicks: 2 });
  });
});

describe('planRound: cadence change', () => {
  it('keeps the due time of the tick about to fire and spaces later ticks by the new interval', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, config: config(2_000) });
    const announcedDueAt = T0 + 4 * 2_000;

    // act
    const plan = expectFire(
      planRound(
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
    expect(plan.wakeAt).toBe(announcedDueAt + 5_000 - 1_250);
  });

  it('follows the new interval on every later round', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, config: config(2_000) });
    const announcedDueAt = T0 + 4 * 2_000;
    const reading = { config: config(1_250), problems: [] };

    // act
    const dueTimes: number[] = [];
    let current: LoopState = loop;
    let nowMs = announcedDueAt - 600;
    for (let i = 0; i < 5; i += 1) {
      const plan = expectFire(planRound(inputs({ loop: current, reading, nowMs })));
      dueTimes.push(plan.dueAt);
      current = plan.next;
      nowMs = Math.max(plan.wakeAt, plan.dueAt) + 100;
    }

    // assess
    expect(dueTimes).toEqual([0, 1, 2, 3, 4].map((i) => announcedDueAt + i * 1_250));
  });

  it('re-anchors while waiting, too, so the announced tick keeps its time', () => {
    // prepare
    const loop = loopState({ nextSeq: 2, config: config(60_000) });
    const announcedDueAt = T0 + 60_000;

    // act
    const plan = expectWait(
      planRound(inputs({ loop, reading: { config: config(10_000), problems: [] }, nowMs: T0 + 5_000 })),
    );

    // assess
    expect(plan.next).toMatchObject({
      nextSeq: 2,
      anchorAt: announcedDueAt,
      anchorSeq: 2,
      config: { intervalMs: 10_000 },
    });
  });

  it('does not re-anchor when the interval is unchanged', () => {
    // prepare
    const loop = loopState({
      nextSeq: 5,
      anchorAt: T0,
      anchorSeq: 1,
      config: config(2_000, { target: 'old' }),
    });

    // act
    const plan = expectFire(
      planRound(
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

describe('planRound: stopping', () => {
  it('stops with STOP_REASON.runningFalse when running is false', () => {
    // act
    const plan = expectStop(
      planRound(
        inputs({ loop: loopState(), reading: { config: config(2_000, { running: false }), problems: [] } }),
      ),
    );

    // assess
    expect(plan.reason).toBe(STOP_REASON.runningFalse);
  });

  it('stops with STOP_REASON.itemMissing when the control item is gone', () => {
    // act
    const plan = expectStop(planRound(inputs({ loop: loopState(), reading: 'missing' })));

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
    const plan = expectStop(planRound(inputs({ reading })));

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
    const plan = expectFire(planRound(inputs({ loop, reading, nowMs: T0 + 4 * 2_000 - 500 })));

    // assess
    expect(reading.problems.map((problem) => problem.field)).toEqual(['waitseconds']);
    expect(plan.config.intervalMs).toBe(2_000);
    expect(plan.dueAt).toBe(T0 + 4 * 2_000);
    expect(plan.next).toMatchObject({ anchorAt: T0, anchorSeq: 1 });
  });
});

describe('planRound: history budget', () => {
  it('adds HISTORY_EVENTS_PER_ROUND to historyEvents each round', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, historyEvents: 90 });

    // act
    const plan = expectFire(planRound(inputs({ loop, nowMs: T0 + 8_000 })));

    // assess
    expect(plan.next.historyEvents).toBe(90 + HISTORY_EVENTS_PER_ROUND);
  });

  it('counts a waiting round like any other round', () => {
    // prepare
    const loop = loopState({ nextSeq: 2, config: config(60_000), historyEvents: 90 });

    // act
    const plan = expectWait(planRound(inputs({ loop, reading: { config: config(60_000), problems: [] } })));

    // assess
    expect(plan.next.historyEvents).toBe(90 + HISTORY_EVENTS_PER_ROUND);
  });

  it('adds HISTORY_EVENTS_PER_FAILED_ROUND as well after a caught failure', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, historyEvents: 90 });

    // act
    const plan = expectFire(planRound(inputs({ loop, previousRoundFailed: true, nowMs: T0 + 8_000 })));

    // assess
    expect(plan.next.historyEvents).toBe(90 + HISTORY_EVENTS_PER_ROUND + HISTORY_EVENTS_PER_FAILED_ROUND);
  });

  it('counts the first round of a new loop from zero', () => {
    // act
    const plan = expectFire(planRound(inputs({ historyBudget: 500 })));

    // assess
    expect(plan.next.historyEvents).toBe(HISTORY_EVENTS_PER_ROUND);
    expect(plan.next.historyBudget).toBe(500);
  });

  it('does not ask for a restart while one more round still fits the budget', () => {
    // prepare
    const budget = 10 * HISTORY_EVENTS_PER_ROUND;
    const loop = loopState({
      nextSeq: 5,
      historyEvents: budget - 2 * HISTORY_EVENTS_PER_ROUND,
      historyBudget: budget,
    });

    // act
    const plan = expectFire(planRound(inputs({ loop, nowMs: T0 + 8_000 })));

    // assess
    expect(plan.next.historyEvents).toBe(budget - HISTORY_EVENTS_PER_ROUND);
    expect(plan.restart).toBe(false);
  });

  it('asks for a restart when one more round would exceed the budget', () => {
    // prepare
    const budget = 10 * HISTORY_EVENTS_PER_ROUND;
    const loop = loopState({
      nextSeq: 5,
      historyEvents: budget - 2 * HISTORY_EVENTS_PER_ROUND + 1,
      historyBudget: budget,
    });

    // act
    const plan = expectFire(planRound(inputs({ loop, nowMs: T0 + 8_000 })));

    // assess
    expect(plan.seq).toBe(5);
    expect(plan.restart).toBe(true);
  });

  it('asks for a restart when the failed-round events push it over the budget', () => {
    // prepare
    const budget = 10 * HISTORY_EVENTS_PER_ROUND;
    const loop = loopState({
      nextSeq: 5,
      historyEvents: budget - 3 * HISTORY_EVENTS_PER_ROUND,
      historyBudget: budget,
    });

    // act
    const healthy = expectFire(planRound(inputs({ loop, nowMs: T0 + 8_000 })));
    const afterFailure = expectFire(
      planRound(inputs({ loop, previousRoundFailed: true, nowMs: T0 + 8_000 })),
    );

    // assess
    expect(healthy.restart).toBe(false);
    expect(afterFailure.restart).toBe(true);
  });

  it('resets historyEvents on a new executionId and carries seq and anchor on', () => {
    // prepare
    const loop = loopState({ nextSeq: 5, historyEvents: 19_990, executionId: 'exec-1' });

    // act
    const plan = expectFire(planRound(inputs({ loop, executionId: 'exec-2', nowMs: T0 + 8_000 })));

    // assess
    expect(plan.seq).toBe(5);
    expect(plan.dueAt).toBe(T0 + 8_000);
    expect(plan.next).toMatchObject({
      executionId: 'exec-2',
      historyEvents: HISTORY_EVENTS_PER_ROUND,
      anchorAt: T0,
      anchorSeq: 1,
      nextSeq: 6,
    });
    expect(plan.restart).toBe(false);
  });

  it('hands over repeatedly with no gap, duplicate or drift in the ticks', () => {
    // prepare
    const intervalMs = 7_300;
    const historyBudget = 10 * HISTORY_EVENTS_PER_ROUND;

    // act
    const { fired, waits, restarts, last } = simulate({
      intervalMs,
      ticks: 300,
      seed: 42,
      maxLateMs: 300,
      historyBudget,
      lastSeqOnItem: 10,
    });

    // assess
    expect(restarts).toBeGreaterThan(20);
    expect(waits).toBe(restarts);
    expect(fired.map((tick) => tick.seq)).toEqual(Array.from({ length: 300 }, (_, i) => 11 + i));
    expect(fired.every((tick, i) => tick.dueAt === T0 + i * intervalMs)).toBe(true);
    expect(new Set(fired.map((tick) => tick.executionId)).size).toBe(restarts + 1);
    expect(last.historyEvents).toBeLessThanOrEqual(historyBudget);
  });
});
