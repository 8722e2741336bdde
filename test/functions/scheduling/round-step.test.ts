import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HISTORY_BUDGET } from '../../../functions/scheduling/history-budget';
import { DEFAULT_TIMING, nextDueAt } from '../../../functions/scheduling/plan-round';
import {
  afterClaim,
  afterFailedRead,
  afterOverlapSkip,
  afterStopRecord,
  afterTake,
  afterTick,
  checkOwnership,
  decideOnItem,
  decideStop,
  type ItemDecision,
  MAX_REFUSED_WRITES,
  openRound,
  overlapAllowsFire,
  type RoundState,
  releaseTick,
  type WriteResult,
  waitForAnswer,
} from '../../../functions/scheduling/round-step';
import { FIELD, type LoopState, STOP_REASON } from '../../../functions/shared/contract';
import { decodePollerItem, type PollerItem } from '../../../functions/shared/control-item';

const POLLER_ID = 'orders';
const T0 = Date.parse('2030-01-01T00:00:00.250Z');
const INTERVAL_MS = 2_000;
const SETTINGS = { timing: DEFAULT_TIMING };

const loopState = (overrides: Partial<LoopState> = {}): LoopState => ({
  nextSeq: 11,
  anchorAt: T0 + 500,
  anchorSeq: 11,
  generation: 1,
  claimedThroughSeq: 20,
  config: { running: true, intervalMs: INTERVAL_MS },
  executionId: 'exec-1',
  historyEvents: 0,
  historyBudget: DEFAULT_HISTORY_BUDGET,
  skippedTicks: 0,
  ...overrides,
});

/** A round continuing generation 1's loop in exec-1, nothing done yet. */
const roundState = (overrides: Partial<RoundState> = {}): RoundState => ({
  pollerId: POLLER_ID,
  executionId: 'exec-1',
  historyBudget: DEFAULT_HISTORY_BUDGET,
  loop: loopState(),
  owned: 1,
  claimedThisRound: false,
  firedThisRound: 0,
  refusedWrites: 0,
  ...overrides,
});

/** A round that starts an execution: no loop yet, no generation owned. */
const firstRound = (overrides: Partial<RoundState> = {}): RoundState =>
  roundState({ loop: undefined, owned: undefined, ...overrides });

/** The item as the loop of generation 1 in exec-1 left it, running, heartbeat fresh. */
const item = (fields: Record<string, AttributeValue | undefined> = {}): PollerItem => {
  const raw: Record<string, AttributeValue> = {};
  const all: Record<string, AttributeValue | undefined> = {
    [FIELD.id]: { S: POLLER_ID },
    [FIELD.running]: { BOOL: true },
    [FIELD.waitSeconds]: { N: String(INTERVAL_MS / 1000) },
    [FIELD.generation]: { N: '1' },
    [FIELD.executionArn]: { S: 'exec-1' },
    [FIELD.claimedSeq]: { N: '20' },
    [FIELD.seq]: { N: '10' },
    [FIELD.heartbeatAt]: { S: new Date(T0 - 1_000).toISOString() },
    ...fields,
  };
  for (const [name, value] of Object.entries(all)) if (value !== undefined) raw[name] = value;
  return decodePollerItem(POLLER_ID, raw);
};

/** What a decision says to do, without the state it carries. */
function actionOf(decision: ItemDecision): Record<string, unknown> {
  switch (decision.kind) {
    case 'stop':
      return { kind: 'stop', reason: decision.reason };
    case 'take':
      return { kind: 'take', generation: decision.generation };
    case 'claim':
      return { kind: 'claim', seq: decision.plan.seq, through: decision.plan.claimThrough };
    case 'fire':
      return { kind: 'fire', seq: decision.plan.seq };
    case 'not-due':
      return { kind: 'not-due', nextSeq: decision.loop.nextSeq };
  }
}

describe('decideOnItem: fencing', () => {
  const cases: ReadonlyArray<{
    readonly name: string;
    readonly state: RoundState;
    readonly item: PollerItem | undefined;
    readonly expected: Record<string, unknown>;
  }> = [
    {
      name: 'stops when the item is missing',
      state: roundState(),
      item: undefined,
      expected: { kind: 'stop', reason: STOP_REASON.itemMissing },
    },
    {
      name: 'claims and fires the next tick while the item says this loop owns the poller',
      state: roundState(),
      item: item(),
      expected: { kind: 'claim', seq: 11, through: 25 },
    },
    {
      name: 'fires without a claim once this round claimed and the claim still covers the tick',
      state: roundState({ claimedThisRound: true }),
      item: item(),
      expected: { kind: 'fire', seq: 11 },
    },
    {
      name: 'is superseded when the item names another execution',
      state: roundState(),
      item: item({ [FIELD.executionArn]: { S: 'exec-other' } }),
      expected: { kind: 'stop', reason: STOP_REASON.superseded },
    },
    {
      name: 'stays the owner when the item names the execution the loop handed over from',
      state: roundState({ executionId: 'exec-2' }),
      item: item(),
      expected: { kind: 'claim', seq: 11, through: 25 },
    },
    {
      name: 'is superseded when the generation moved on',
      state: roundState(),
      item: item({ [FIELD.generation]: { N: '2' } }),
      expected: { kind: 'stop', reason: STOP_REASON.superseded },
    },
    {
      name: 'is superseded when the claim on the item is below ours',
      state: roundState(),
      item: item({ [FIELD.claimedSeq]: { N: '15' } }),
      expected: { kind: 'stop', reason: STOP_REASON.superseded },
    },
    {
      name: 'is superseded when the claim on the item is above ours and this round claimed already',
      state: roundState({ claimedThisRound: true }),
      item: item({ [FIELD.claimedSeq]: { N: '25' } }),
      expected: { kind: 'stop', reason: STOP_REASON.superseded },
    },
    {
      name: 'skips past a claim above ours that an earlier attempt of this round made',
      state: roundState(),
      item: item({ [FIELD.claimedSeq]: { N: '25' } }),
      expected: { kind: 'claim', seq: 26, through: 40 },
    },
    {
      name: 'stops for running=false while it owns the poller',
      state: roundState(),
      item: item({ [FIELD.running]: { BOOL: false } }),
      expected: { kind: 'stop', reason: STOP_REASON.runningFalse },
    },
    {
      name: 'stops for running=false in a first round that owns nothing',
      state: firstRound(),
      item: item({ [FIELD.running]: { BOOL: false }, [FIELD.executionArn]: { S: 'exec-other' } }),
      expected: { kind: 'stop', reason: STOP_REASON.runningFalse },
    },
    {
      name: 'takes the generation the start wrote for this execution and claims above every seq on the item',
      state: firstRound(),
      item: item({ [FIELD.heartbeatAt]: undefined }),
      expected: { kind: 'claim', seq: 21, through: 35 },
    },
    {
      name: 'leaves a console start to a live loop',
      state: firstRound({ executionId: 'console-exec' }),
      item: item(),
      expected: {
        kind: 'stop',
        reason: `${STOP_REASON.alreadyRunning}: execution exec-1 (generation 1) owns poller '${POLLER_ID}'`,
      },
    },
    {
      name: 'lets a console start take the poller from a dead loop',
      state: firstRound({ executionId: 'console-exec' }),
      item: item({ [FIELD.heartbeatAt]: { S: new Date(T0 - 10 * 60_000).toISOString() } }),
      expected: { kind: 'take', generation: 2 },
    },
    {
      name: 'lets a console start take the poller from a stopped loop',
      state: firstRound({ executionId: 'console-exec' }),
      item: item({ [FIELD.stoppedReason]: { S: STOP_REASON.runningFalse } }),
      expected: { kind: 'take', generation: 2 },
    },
    {
      name: 'lets a console start take generation 1 of an item no loop ever ran',
      state: firstRound({ executionId: 'console-exec' }),
      item: item({ [FIELD.generation]: undefined, [FIELD.executionArn]: undefined }),
      expected: { kind: 'take', generation: 1 },
    },
  ];

  it.each(cases)('$name', ({ state, item: read, expected }) => {
    // act
    const decision = decideOnItem(state, read, T0, SETTINGS);

    // assess
    expect(actionOf(decision)).toEqual(expected);
  });

  it('records the generation a first round finds on the item as the one it owns', () => {
    // act
    const decision = decideOnItem(firstRound(), item({ [FIELD.generation]: { N: '3' } }), T0, SETTINGS);

    // assess
    expect(decision.state.owned).toBe(3);
  });

  it('moves the loop past the claim it skips, keeping the due time of the next tick', () => {
    // act
    const decision = decideOnItem(roundState(), item({ [FIELD.claimedSeq]: { N: '25' } }), T0, SETTINGS);

    // assess
    if (decision.kind !== 'claim') throw new Error(`expected a claim, got ${decision.kind}`);
    expect(decision.expectedClaim).toBe(25);
    expect(decision.plan.dueAt).toBe(T0 + 500);
  });

  it('waits without firing when the next tick is further away than an in-process sleep', () => {
    // act
    const decision = decideOnItem(roundState(), item(), T0 - 60_000, SETTINGS);

    // assess
    expect(actionOf(decision)).toEqual({ kind: 'not-due', nextSeq: 11 });
  });

  it('passes on the problems of an invalid field it falls back from', () => {
    // act
    const decision = decideOnItem(roundState(), item({ [FIELD.waitSeconds]: { S: 'abc' } }), T0, SETTINGS);

    // assess
    expect(decision.kind).toBe('claim');
    if (decision.kind === 'take') throw new Error('unexpected take');
    expect(decision.observed?.notes).toHaveLength(1);
    expect(decision.observed?.notes[0]).toContain(FIELD.waitSeconds);
  });
});

describe('checkOwnership', () => {
  it('keeps a first round (no loop yet) as owner of the generation named for it', () => {
    // act
    const ownership = checkOwnership(item(), 1, 'exec-1', undefined, false);

    // assess
    expect(ownership).toEqual({ kind: 'owner' });
  });
});

describe('after a write', () => {
  const refusals = Array.from({ length: MAX_REFUSED_WRITES }, (_, refusedBefore) => ({
    refusedBefore,
    expected: refusedBefore + 1 >= MAX_REFUSED_WRITES ? 'stop' : 'read-again',
  }));

  it.each(refusals)(
    'after $refusedBefore refused writes, a refused claim means $expected',
    ({ refusedBefore, expected }) => {
      // act
      const followUp = afterClaim(roundState({ refusedWrites: refusedBefore }), 'superseded');

      // assess
      expect(followUp.kind).toBe(expected);
      if (followUp.kind === 'stop') expect(followUp.reason).toBe(STOP_REASON.superseded);
    },
  );

  it.each(refusals)(
    'after $refusedBefore refused writes, a refused take means $expected',
    ({ refusedBefore, expected }) => {
      // act
      const followUp = afterTake(firstRound({ refusedWrites: refusedBefore }), 2, 'changed');

      // assess
      expect(followUp.kind).toBe(expected);
    },
  );

  it.each(refusals)(
    'after $refusedBefore refused writes, a refused stop record means $expected',
    ({ refusedBefore, expected }) => {
      // act
      const followUp = afterStopRecord(roundState({ refusedWrites: refusedBefore }), 'superseded');

      // assess
      expect(followUp.kind).toBe(expected === 'stop' ? 'end' : 'read-again');
    },
  );

  it('counts refused writes of every kind together', () => {
    // act
    const afterRefusedTake = afterTake(firstRound(), 2, 'changed');
    const afterRefusedClaim = afterClaim(afterRefusedTake.state, 'superseded');

    // assess
    expect(afterRefusedClaim.kind).toBe('read-again');
    if (afterRefusedClaim.kind !== 'read-again') return;
    expect(afterClaim(afterRefusedClaim.state, 'superseded').kind).toBe('stop');
  });

  const claims: ReadonlyArray<{
    readonly outcome: WriteResult;
    readonly when: string;
    readonly state: RoundState;
    readonly expected: Record<string, unknown>;
  }> = [
    { outcome: 'written', when: 'in a running loop', state: roundState(), expected: { kind: 'fire' } },
    {
      outcome: 'missing',
      when: 'in a running loop',
      state: roundState(),
      expected: { kind: 'stop', reason: STOP_REASON.itemMissing },
    },
    {
      outcome: 'failed',
      when: 'in a running loop',
      state: roundState(),
      expected: { kind: 'hand-back-now' },
    },
    {
      outcome: 'failed',
      when: 'before the loop fired at all',
      state: firstRound(),
      expected: { kind: 'table-unavailable', what: 'the first claim could not be written' },
    },
  ];

  it.each(claims)(
    'a claim that ends $outcome $when leads to $expected.kind',
    ({ outcome, state, expected }) => {
      // act
      const followUp = afterClaim(state, outcome);

      // assess
      expect(followUp).toMatchObject(expected);
    },
  );

  it('marks the round as having claimed once a claim is written', () => {
    // act
    const followUp = afterClaim(roundState(), 'written');

    // assess
    expect(followUp).toMatchObject({ kind: 'fire', state: { claimedThisRound: true } });
  });

  it('owns the generation a console start took, and reads again', () => {
    // act
    const followUp = afterTake(firstRound(), 4, 'taken');

    // assess
    expect(followUp).toMatchObject({ kind: 'read-again', state: { owned: 4 } });
  });

  it('stops a console start whose item vanished before the take', () => {
    // act
    const followUp = afterTake(firstRound(), 4, 'missing');

    // assess
    expect(followUp).toMatchObject({ kind: 'stop', reason: STOP_REASON.itemMissing });
  });

  it.each<[WriteResult, string]>([
    ['written', 'end'],
    ['missing', 'end'],
    ['failed', 'table-unavailable'],
  ])('a stop record that ends %s leads to %s', (outcome, expected) => {
    // act
    const followUp = afterStopRecord(roundState(), outcome);

    // assess
    expect(followUp.kind).toBe(expected);
  });
});

describe('decideStop', () => {
  it.each([
    {
      name: 'records running=false only while it holds',
      state: roundState(),
      reason: STOP_REASON.runningFalse,
      expected: { kind: 'record', whileNotRunning: true },
    },
    {
      name: 'records any other reason unconditionally',
      state: roundState(),
      reason: STOP_REASON.itemMissing,
      expected: { kind: 'record', whileNotRunning: false },
    },
    {
      name: 'never records superseded: the item is not ours',
      state: roundState(),
      reason: STOP_REASON.superseded,
      expected: { kind: 'end' },
    },
    {
      name: 'records nothing without a generation',
      state: firstRound(),
      reason: STOP_REASON.runningFalse,
      expected: { kind: 'end' },
    },
  ])('$name', ({ state, reason, expected }) => {
    // act
    const decision = decideStop(state, reason);

    // assess
    expect(decision).toEqual(expected);
  });
});

describe('afterFailedRead', () => {
  it('lets the round fail (and be retried) while nothing was fired', () => {
    expect(afterFailedRead(roundState())).toBeUndefined();
  });

  it('hands back once a tick was fired, so a retry cannot fire it again', () => {
    expect(afterFailedRead(roundState({ firedThisRound: 1 }))).toMatchObject({ kind: 'hand-back-now' });
  });
});

describe('openRound', () => {
  const start = {
    pollerId: POLLER_ID,
    executionId: 'exec-1',
    historyBudget: 100,
    handOverJustFailed: false,
    eventsBeforeRound: 0,
  };

  it('hands over before anything when one more round would cross the history budget', () => {
    // act
    const opening = openRound({ ...start, loop: loopState({ historyEvents: 98, historyBudget: 100 }) });

    // assess
    expect(opening).toMatchObject({ kind: 'hand-over', historyEvents: 98 });
  });

  it('runs a normal round right after a failed hand-over', () => {
    // act
    const opening = openRound({
      ...start,
      handOverJustFailed: true,
      loop: loopState({ historyEvents: 98, historyBudget: 100 }),
    });

    // assess
    expect(opening).toMatchObject({ kind: 'run', state: { owned: 1, refusedWrites: 0 } });
  });
});

describe('releasing a tick', () => {
  const planFor = (state: RoundState) => {
    const decision = decideOnItem(state, item(), T0, SETTINGS);
    if (decision.kind !== 'claim') throw new Error(`expected a claim, got ${decision.kind}`);
    return decision.plan;
  };

  it('sends a tick released on time and counts it as fired', () => {
    // prepare
    const plan = planFor(roundState());

    // act
    const settled = afterTick(roundState(), plan, releaseTick(plan, plan.dueAt, DEFAULT_TIMING));

    // assess
    expect(settled).toMatchObject({ fired: true, withheldSkips: 0, loop: { nextSeq: 12 } });
    expect(settled.state.firedThisRound).toBe(1);
  });

  it('withholds a tick released too late, keeping its seq for the next slot', () => {
    // prepare
    const plan = planFor(roundState());

    // act
    const withheld = releaseTick(plan, plan.dueAt + INTERVAL_MS, DEFAULT_TIMING);
    const settled = afterTick(roundState(), plan, withheld);

    // assess
    expect(settled.fired).toBe(false);
    expect(settled.withheldSkips).toBeGreaterThan(0);
    expect(settled.loop.nextSeq).toBe(plan.seq);
    expect(settled.state.firedThisRound).toBe(0);
  });
});

describe('the overlap policy at a tick', () => {
  const planFor = (state: RoundState, fields: Record<string, AttributeValue | undefined> = {}) => {
    const decision = decideOnItem(state, item(fields), T0, SETTINGS);
    if (decision.kind !== 'claim') throw new Error(`expected a claim, got ${decision.kind}`);
    return decision.plan;
  };

  it('skip holds a tick back while the previous fire runs, and lets it go once it answered', () => {
    // prepare
    const plan = planFor(roundState(), { [FIELD.overlap]: { S: 'skip' } });

    // act, assess
    expect(plan.config.overlap).toBe('skip');
    expect(overlapAllowsFire(plan.config, true)).toBe(false);
    expect(overlapAllowsFire(plan.config, false)).toBe(true);
  });

  it.each<[string, AttributeValue | undefined]>([
    ['absent', undefined],
    ['allow', { S: 'allow' }],
  ])('allow (%s) fires while the previous fire runs', (_, overlap) => {
    // prepare
    const plan = planFor(roundState(), { [FIELD.overlap]: overlap });

    // act, assess
    expect(overlapAllowsFire(plan.config, true)).toBe(true);
  });

  it('a bad policy keeps the last valid one (skip), with a note naming the value', () => {
    // prepare
    const state = roundState({
      loop: loopState({ config: { running: true, intervalMs: INTERVAL_MS, overlap: 'skip' } }),
    });

    // act
    const decision = decideOnItem(state, item({ [FIELD.overlap]: { S: 'sometimes' } }), T0, SETTINGS);

    // assess
    if (decision.kind !== 'claim') throw new Error(`expected a claim, got ${decision.kind}`);
    expect(decision.plan.config.overlap).toBe('skip');
    expect(decision.observed.notes.join()).toContain('S "sometimes"');
    expect(overlapAllowsFire(decision.plan.config, true)).toBe(false);
  });

  it('a skipped tick keeps its seq for the next slot, one interval on, and is not a late skip', () => {
    // prepare
    const plan = planFor(roundState(), { [FIELD.overlap]: { S: 'skip' } });

    // act
    const settled = afterOverlapSkip(roundState(), plan);

    // assess
    expect(settled.fired).toBe(false);
    expect(settled.withheldSkips).toBe(0);
    expect(settled.loop.nextSeq).toBe(plan.seq);
    expect(nextDueAt(settled.loop)).toBe(plan.dueAt + INTERVAL_MS);
    expect(settled.loop.skippedTicks).toBe(plan.at.skippedTicks);
    expect(settled.loop.claimedThroughSeq).toBe(plan.at.claimedThroughSeq);
    expect(settled.state.firedThisRound).toBe(0);
  });

  it('a skipped tick keeps the late skips an edge makes right after it (only the skipped tick is not one)', () => {
    // prepare: the tick due :00.750 is held back; the next default tick (:02.750) would come 250 ms before a
    // window opening at :03.000, less than half its 2 s cadence, so the edge skips it
    const plan = planFor(roundState(), {
      [FIELD.overlap]: { S: 'skip' },
      [FIELD.windows]: { L: [{ S: 'daily 00:00:03-23:00 every 2' }] },
    });

    // act
    const settled = afterOverlapSkip(roundState(), plan);

    // assess
    expect(nextDueAt(settled.loop)).toBe(Date.parse('2030-01-01T00:00:03.000Z'));
    expect(settled.loop.nextSeq).toBe(plan.seq);
    expect(settled.loop.skippedTicks).toBe(plan.at.skippedTicks + 1);
    expect(settled.withheldSkips).toBe(1);
  });

  it('every other tick fires when each fire runs 1.5 intervals (the fire after the answer goes out)', () => {
    // prepare: a worker that answers 1.5 intervals after its fire
    const runMs = 1.5 * INTERVAL_MS;
    let state = roundState({
      loop: loopState({ config: { running: true, intervalMs: INTERVAL_MS, overlap: 'skip' } }),
      claimedThisRound: true,
    });
    let runningUntil = Number.NEGATIVE_INFINITY;
    const fired: number[] = [];
    let overlapSkips = 0;

    // act: six ticks, each decided at its due time
    for (let tick = 0; tick < 6; tick++) {
      const loop = state.loop ?? loopState();
      const dueAt = nextDueAt(loop);
      const decision = decideOnItem(
        state,
        item({ [FIELD.overlap]: { S: 'skip' }, [FIELD.claimedSeq]: { N: String(loop.claimedThroughSeq) } }),
        dueAt - 300,
        SETTINGS,
      );
      if (decision.kind !== 'fire' && decision.kind !== 'claim') throw new Error(decision.kind);
      const plan = decision.plan;
      if (overlapAllowsFire(plan.config, runningUntil > plan.dueAt)) {
        fired.push(plan.seq);
        runningUntil = plan.dueAt + runMs;
        state = afterTick(decision.state, plan, undefined).state;
      } else {
        overlapSkips += 1;
        state = afterOverlapSkip(decision.state, plan).state;
      }
      state = { ...state, claimedThisRound: true };
    }

    // assess: seqs stay consecutive, every other slot is skipped
    expect(fired).toEqual([11, 12, 13]);
    expect(overlapSkips).toBe(3);
  });
});

describe('waitForAnswer', () => {
  const DEADLINE = T0 + 60_000;
  const HAND_BACK_BY = DEADLINE - DEFAULT_TIMING.handBackMarginMs;

  it.each([
    {
      name: 'leaves at once with no fire running',
      running: false,
      nextDueAt: T0 + 2_000,
      now: T0,
      expected: { kind: 'leave' },
    },
    {
      name: 'waits until the read of a tick due by the hand-back point, then reads again',
      running: true,
      nextDueAt: HAND_BACK_BY,
      now: T0,
      expected: {
        kind: 'wait',
        untilMs: HAND_BACK_BY - DEFAULT_TIMING.readAheadMs,
        unanswered: 'read-again',
      },
    },
    {
      name: 'waits only until the hand-back point for a tick due after it, and does not read for that tick',
      running: true,
      nextDueAt: HAND_BACK_BY + 1,
      now: T0,
      expected: { kind: 'wait', untilMs: HAND_BACK_BY, unanswered: 'leave' },
    },
    {
      name: 'waits until the hand-back point on an exit with no next tick (a stop, a failed read)',
      running: true,
      nextDueAt: undefined,
      now: T0,
      expected: { kind: 'wait', untilMs: HAND_BACK_BY, unanswered: 'leave' },
    },
    {
      name: 'leaves at the hand-back point',
      running: true,
      nextDueAt: undefined,
      now: HAND_BACK_BY,
      expected: { kind: 'leave' },
    },
  ])('$name', ({ running, nextDueAt, now, expected }) => {
    expect(waitForAnswer(running, nextDueAt, now, DEADLINE, DEFAULT_TIMING)).toEqual(expected);
  });
});
