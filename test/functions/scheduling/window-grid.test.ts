import { describe, expect, it } from 'vitest';
import { CONTROLLER_SIZE } from '../../../functions/scheduling/cost-model';
import { DEFAULT_TIMING, nextDueAt, planTick } from '../../../functions/scheduling/plan-round';
import { cadenceWarning } from '../../../functions/scheduling/round-step';
import { settleOnWindows } from '../../../functions/scheduling/window-grid';
import { cadenceAt, parseWindowRules, type WindowRule } from '../../../functions/scheduling/windows';
import { FIELD, type LoopState } from '../../../functions/shared/contract';
import { type RawItem, readConfig } from '../../../functions/shared/control-item';
import { InvalidWindowRuleError } from '../../../functions/shared/errors';
import { config, type FiredTick, simulateLoop } from './loop-simulator';

const SECOND = 1_000;
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

const windowsItem = (zone: string, ...rules: string[]): RawItem => ({
  [FIELD.timezone]: { S: zone },
  [FIELD.windows]: { L: rules.map((rule) => ({ S: rule })) },
});

/** Runs the loop on the simulated clock from `startIso` until `untilIso`, the item carrying the zone and rules. */
async function runLoop(options: {
  readonly zone: string;
  readonly rules: readonly string[];
  readonly intervalMs: number;
  readonly startIso: string;
  readonly untilIso: string;
  readonly itemEdits?: readonly { readonly fromMs: number; readonly fields: RawItem }[];
}) {
  const startMs = at(options.startIso);
  const untilMs = at(options.untilIso);
  const result = await simulateLoop({
    intervalMs: options.intervalMs,
    // Run until `until`, whatever fires.
    ticks: 1_000_000,
    untilMs,
    seed: 7,
    maxWakeLateMs: 300,
    maxIoMs: 20,
    invocationMs: () => 900_000,
    startMs,
    itemFields: windowsItem(options.zone, ...options.rules),
    ...(options.itemEdits ? { itemEdits: options.itemEdits } : {}),
    throughJson: true,
  });
  return { ...result, fired: result.fired.filter((tick) => tick.dueAt < untilMs) };
}

function gaps(fired: readonly FiredTick[]): number[] {
  return fired.slice(1).map((tick, i) => tick.dueAt - (fired[i]?.dueAt ?? 0));
}

function expectSeqWithoutGaps(fired: readonly FiredTick[]): void {
  expect(fired.map((tick) => tick.seq)).toEqual(fired.map((_, i) => (fired[0]?.seq ?? 0) + i));
}

/**
 * 2026 transitions: New York 03-08 02:00 EST → 03:00 EDT (07:00Z), 11-01 02:00 EDT → 01:00 EST (06:00Z); Berlin
 * 03-29 02:00 CET → 03:00 CEST (01:00Z); Lord Howe 04-05 02:00 +11 → 01:30 +10:30 (04-04 15:00Z); Kolkata +05:30.
 */
describe('the first tick of a window lands exactly on its edge', () => {
  it.each([
    {
      case: 'UTC, Monday 06:00',
      zone: 'UTC',
      startIso: '2026-03-09T05:50:00.250Z',
      edgeIso: '2026-03-09T06:00:00.000Z',
    },
    {
      case: 'New York 06:00 EDT on the day the clocks go forward, the loop running through the transition',
      zone: 'America/New_York',
      startIso: '2026-03-08T06:30:00.250Z',
      edgeIso: '2026-03-08T10:00:00.000Z',
    },
    {
      case: 'New York 06:00 EST on the day the clocks go back, the loop running through the repeated hour',
      zone: 'America/New_York',
      startIso: '2026-11-01T05:30:00.250Z',
      edgeIso: '2026-11-01T11:00:00.000Z',
    },
    {
      case: 'Berlin 06:00 CEST on the day the clocks go forward',
      zone: 'Europe/Berlin',
      startIso: '2026-03-29T00:30:00.250Z',
      edgeIso: '2026-03-29T04:00:00.000Z',
    },
    {
      case: 'Kolkata 06:00 (+05:30)',
      zone: 'Asia/Kolkata',
      startIso: '2026-03-09T00:20:00.250Z',
      edgeIso: '2026-03-09T00:30:00.000Z',
    },
    {
      case: 'Lord Howe 06:00 (+10:30) after its half-hour fall-back',
      zone: 'Australia/Lord_Howe',
      startIso: '2026-04-04T14:30:00.250Z',
      edgeIso: '2026-04-04T19:30:00.000Z',
    },
  ])('$case', async ({ zone, startIso, edgeIso }) => {
    // prepare
    const edgeMs = at(edgeIso);

    // act
    const { fired } = await runLoop({
      zone,
      rules: ['daily 06:00-20:00 every 2'],
      intervalMs: 30 * SECOND,
      startIso,
      untilIso: iso(edgeMs + 10 * SECOND),
    });

    // assess: 30 s ticks before the edge, none of them at or after it; 2 s ticks from the edge on
    const before = fired.filter((tick) => tick.dueAt < edgeMs);
    const after = fired.filter((tick) => tick.dueAt >= edgeMs);
    expect(gaps(before).every((gap) => gap === 30 * SECOND)).toBe(true);
    expect(after.map((tick) => iso(tick.dueAt))).toEqual(
      [0, 2, 4, 6, 8].map((s) => iso(edgeMs + s * SECOND)),
    );
    expectSeqWithoutGaps(fired);
    expect(fired.every((tick) => tick.skipped === 0)).toBe(true);
  });

  it('goes back to the default cadence exactly at the end of the window', async () => {
    // act
    const { fired } = await runLoop({
      zone: 'Europe/Berlin',
      rules: ['Mon-Fri 06:00-20:00 every 2'],
      intervalMs: 30 * SECOND,
      startIso: '2026-03-09T18:59:50.250Z',
      untilIso: '2026-03-09T19:01:05.000Z',
    });

    // assess: 20:00 CET is 19:00Z
    const edgeMs = at('2026-03-09T19:00:00.000Z');
    expect(fired.filter((tick) => tick.dueAt >= edgeMs).map((tick) => iso(tick.dueAt))).toEqual([
      '2026-03-09T19:00:00.000Z',
      '2026-03-09T19:00:30.000Z',
      '2026-03-09T19:01:00.000Z',
    ]);
    expect(gaps(fired.filter((tick) => tick.dueAt < edgeMs)).every((gap) => gap === 2 * SECOND)).toBe(true);
    expectSeqWithoutGaps(fired);
  });
});

describe('daylight saving time on the running loop (New York, 2026)', () => {
  it.each([
    {
      case: 'a window starting at 02:30, which does not exist on spring-forward day, opens at 03:00 EDT',
      rule: 'Sun 02:30-04:00 every 5',
      startIso: '2026-03-08T06:50:00.250Z',
      untilIso: '2026-03-08T08:10:00.000Z',
      windows: [['2026-03-08T07:00:00.000Z', '2026-03-08T08:00:00.000Z']],
      fastTicks: 720,
    },
    {
      case: 'a window in the hour repeated on fall-back day runs once, in EDT',
      rule: 'Sun 01:00-01:30 every 5',
      startIso: '2026-11-01T04:50:00.250Z',
      untilIso: '2026-11-01T06:40:00.000Z',
      windows: [['2026-11-01T05:00:00.000Z', '2026-11-01T05:30:00.000Z']],
      fastTicks: 360,
    },
    {
      case: 'a window ending as the clock falls back before its start runs once, in EDT, and closes at the fall-back',
      rule: 'Sun 01:30-02:00 every 5',
      startIso: '2026-11-01T05:20:00.250Z',
      untilIso: '2026-11-01T07:10:00.000Z',
      windows: [['2026-11-01T05:30:00.000Z', '2026-11-01T06:00:00.000Z']],
      fastTicks: 360,
    },
  ])('$case', async ({ rule, startIso, untilIso, windows, fastTicks }) => {
    // act
    const { fired } = await runLoop({
      zone: 'America/New_York',
      rules: [rule],
      intervalMs: 30 * SECOND,
      startIso,
      untilIso,
    });

    // assess: 5 s ticks exactly within the window, from its edge; 30 s ticks everywhere else
    const inWindow = (tick: FiredTick) =>
      windows.some(([from, to]) => tick.dueAt >= at(from ?? '') && tick.dueAt < at(to ?? ''));
    const fast = fired.filter(inWindow);
    expect(iso(fast[0]?.dueAt ?? 0)).toBe(windows[0]?.[0]);
    expect(fast).toHaveLength(fastTicks);
    expect(gaps(fast).every((gap) => gap === 5 * SECOND)).toBe(true);
    const slowAfter = fired.filter((tick) => tick.dueAt >= at(windows[0]?.[1] ?? ''));
    expect(iso(slowAfter[0]?.dueAt ?? 0)).toBe(windows[0]?.[1]);
    expect(gaps(slowAfter).every((gap) => gap === 30 * SECOND)).toBe(true);
    expectSeqWithoutGaps(fired);
  });
});

describe('a pause window', () => {
  it('fires nothing, checks in at least every minute, and resumes exactly at its end', async () => {
    // prepare: 2026-03-15 is a Sunday
    const pauseFrom = at('2026-03-15T01:00:00.000Z');
    const pauseUntil = at('2026-03-15T05:00:00.000Z');

    // act
    const { fired, handBacks } = await runLoop({
      zone: 'UTC',
      rules: ['Sun 01:00-05:00 pause'],
      intervalMs: 2 * SECOND,
      startIso: '2026-03-15T00:59:50.250Z',
      untilIso: '2026-03-15T05:00:05.000Z',
    });

    // assess
    expect(fired.filter((tick) => tick.dueAt >= pauseFrom && tick.dueAt < pauseUntil)).toEqual([]);
    const resumed = fired.filter((tick) => tick.dueAt >= pauseUntil).map((tick) => iso(tick.dueAt));
    expect(resumed).toEqual([0, 2, 4].map((s) => iso(pauseUntil + s * SECOND)));
    expectSeqWithoutGaps(fired);
    // Paused ticks are not skipped ticks.
    expect(fired.every((tick) => tick.skipped === 0)).toBe(true);
    const checkIns = handBacks.filter((back) => back.atMs >= pauseFrom && back.atMs < pauseUntil);
    expect(checkIns.length).toBeGreaterThanOrEqual(239);
    const wakeGaps = checkIns.slice(1).map((back, i) => back.atMs - (checkIns[i]?.atMs ?? 0));
    expect(Math.max(...wakeGaps)).toBeLessThanOrEqual(DEFAULT_TIMING.pauseCheckInMs + SECOND);
  });

  it('is lifted at the next check-in when the operator removes it', async () => {
    // prepare
    const editAt = at('2026-03-15T02:00:00.000Z');

    // act
    const { fired } = await runLoop({
      zone: 'UTC',
      rules: ['Sun 01:00-05:00 pause'],
      intervalMs: 2 * SECOND,
      startIso: '2026-03-15T00:59:50.250Z',
      untilIso: '2026-03-15T02:01:10.000Z',
      itemEdits: [{ fromMs: editAt, fields: { [FIELD.windows]: { NULL: true } } }],
    });

    // assess: fired again within a check-in of the edit, every 2 s from there
    const resumed = fired.filter((tick) => tick.dueAt >= editAt);
    expect(resumed[0]?.dueAt).toBeLessThanOrEqual(editAt + DEFAULT_TIMING.pauseCheckInMs + 2 * SECOND);
    expect(gaps(resumed).every((gap) => gap === 2 * SECOND)).toBe(true);
    expectSeqWithoutGaps(fired);
  });
});

describe('a rules edit', () => {
  it('applies at the next tick: the tick already announced keeps its time, the next follow the new rule', async () => {
    // prepare: every 10 s inside the window; the edit makes it every 3 s at 06:00:25
    const editAt = at('2026-03-09T06:00:25.000Z');

    // act
    const { fired } = await runLoop({
      zone: 'UTC',
      rules: ['daily 06:00-20:00 every 10'],
      intervalMs: 30 * SECOND,
      startIso: '2026-03-09T05:59:00.250Z',
      untilIso: '2026-03-09T06:00:41.000Z',
      itemEdits: [
        {
          fromMs: editAt,
          fields: { [FIELD.windows]: { S: 'daily 06:00-20:00 every 3' } },
        },
      ],
    });

    // assess
    expect(fired.filter((tick) => tick.dueAt >= at('2026-03-09T06:00:00Z')).map((t) => iso(t.dueAt))).toEqual(
      [
        '2026-03-09T06:00:00.000Z',
        '2026-03-09T06:00:10.000Z',
        '2026-03-09T06:00:20.000Z',
        '2026-03-09T06:00:30.000Z',
        '2026-03-09T06:00:33.000Z',
        '2026-03-09T06:00:36.000Z',
        '2026-03-09T06:00:39.000Z',
      ],
    );
    expectSeqWithoutGaps(fired);
  });

  it('keeps the last valid rules and reports the bad rule by its text and value', () => {
    // prepare
    const loop = windowLoop(['daily 06:00-20:00 every 10'], 'UTC', {
      anchorAt: at('2026-03-09T06:00:00Z'),
      nextSeq: 3,
      windowIntervalMs: 10 * SECOND,
    });
    const badItem: RawItem = {
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '30' },
      [FIELD.windows]: { S: 'daily 06:00-20:00 every 3; Sun 01:00-05:00 nap' },
    };

    // act
    const reading = readConfig('orders', badItem, loop.config);
    const plan = planTick({
      pollerId: 'orders',
      loop,
      reading,
      lastSeqOnItem: 0,
      generation: 1,
      executionId: 'exec-1',
      historyBudget: 20_000,
      claimRequired: false,
      nowMs: at('2026-03-09T06:00:19.700Z'),
      timing: DEFAULT_TIMING,
    });

    // assess
    expect(reading.problems.map((problem) => problem.message)).toEqual([
      `poller 'orders': windows[1] "Sun 01:00-05:00 nap": action must be "every <seconds>" or "pause"; got "nap"`,
    ]);
    expect(plan.kind).toBe('fire');
    expect(plan.kind === 'fire' && iso(plan.dueAt)).toBe('2026-03-09T06:00:20.000Z');
    expect(plan.kind === 'fire' && plan.config.windows?.map((rule) => rule.text)).toEqual([
      'daily 06:00-20:00 every 10',
    ]);
  });
});

describe('settleOnWindows: late ticks never cross an edge', () => {
  it('skips the late ticks up to the edge and starts the new run on it', () => {
    // prepare: 30 s ticks; the loop wakes 50 s late, 5 s after a 2 s window opened at 06:00
    const loop = windowLoop(['daily 06:00-20:00 every 2'], 'UTC', {
      anchorAt: at('2026-03-09T05:59:10Z'),
      windowIntervalMs: undefined,
    });

    // act
    const settled = settleOnWindows(loop, at('2026-03-09T06:00:05Z'));

    // assess: 05:59:10 and 05:59:40 were missed; the 2 s run from 06:00 goes on at 06:00:06 after skipping 3 of it
    expect(settled.skipped).toBe(2 + 3);
    expect(iso(settled.loop.anchorAt)).toBe('2026-03-09T06:00:06.000Z');
    expect(settled.loop).toMatchObject({ nextSeq: 1, anchorSeq: 1, windowIntervalMs: 2 * SECOND });
  });

  it('counts no skipped ticks for a pause slept through', () => {
    // prepare: the loop wakes at 05:00:00.1 after a pause from 01:00
    const loop = windowLoop(['Sun 01:00-05:00 pause'], 'UTC', {
      anchorAt: at('2026-03-15T00:59:30Z'),
      nextSeq: 2,
    });

    // act
    const settled = settleOnWindows(loop, at('2026-03-15T05:00:00.100Z'));

    // assess
    expect(settled.skipped).toBe(0);
    expect(iso(settled.loop.anchorAt)).toBe('2026-03-15T05:00:00.000Z');
    expect(settled.loop).toMatchObject({ nextSeq: 2, anchorSeq: 2, paused: true });
  });
});

function rulesOf(texts: readonly string[]): readonly WindowRule[] {
  const rules = parseWindowRules(texts);
  if (rules instanceof InvalidWindowRuleError) throw rules;
  return rules;
}

function windowLoop(texts: readonly string[], zone: string, overrides: Partial<LoopState>): LoopState {
  return {
    nextSeq: 1,
    anchorAt: 0,
    anchorSeq: 1,
    generation: 1,
    claimedThroughSeq: 1_000,
    config: config(30 * SECOND, { timeZone: zone, windows: rulesOf(texts) }),
    executionId: 'exec-1',
    historyEvents: 0,
    historyBudget: 20_000,
    skippedTicks: 0,
    ...overrides,
  };
}

describe('cadenceWarning with window rules', () => {
  it('names the fastest cadence a window runs when the controller cannot sustain it', () => {
    // prepare
    const fast = config(30 * SECOND, {
      windows: rulesOf(['Sun 01:00-05:00 pause', 'Mon-Fri 06:00-20:00 every 0.25']),
    });
    const slow = config(30 * SECOND, { windows: rulesOf(['Mon-Fri 06:00-20:00 every 2']) });

    // act
    const warnings = [fast, slow].map((each) => cadenceWarning('orders', each, CONTROLLER_SIZE));

    // assess
    expect(warnings).toEqual([
      `poller 'orders': windows rule "Mon-Fri 06:00-20:00 every 0.25" 0.25 is below the 1 s a 128 MB controller sustains; ticks may come late or be skipped (raise the stack's ControllerMemory parameter)`,
      undefined,
    ]);
  });
});

describe('no two fires closer than half an interval at an edge', () => {
  it.each([
    {
      case: 'a window opening 100 ms after a default tick: the default tick is skipped',
      rules: ['daily 06:00-20:00 every 2'],
      intervalMs: 10 * SECOND,
      firstTickIso: '2026-03-09T05:58:59.900Z',
      edgeIso: '2026-03-09T06:00:00.000Z',
      crowdedIso: '2026-03-09T05:59:59.900Z',
    },
    {
      case: 'a window opening 999 ms after a default tick (half of 2 s less 1 ms): skipped',
      rules: ['daily 06:00-20:00 every 2'],
      intervalMs: 10 * SECOND,
      firstTickIso: '2026-03-09T05:58:59.001Z',
      edgeIso: '2026-03-09T06:00:00.000Z',
      crowdedIso: '2026-03-09T05:59:59.001Z',
    },
    {
      case: 'a window opening exactly half its 2 s cadence after a default tick: it fires',
      rules: ['daily 06:00-20:00 every 2'],
      intervalMs: 10 * SECOND,
      firstTickIso: '2026-03-09T05:58:59.000Z',
      edgeIso: '2026-03-09T06:00:00.000Z',
      crowdedIso: undefined,
    },
    {
      case: 'a window closing 100 ms after its own tick (every 4.9 on a 5 s window): the window tick is skipped',
      rules: ['daily 06:00:00-06:00:05 every 4.9'],
      intervalMs: 10 * SECOND,
      firstTickIso: '2026-03-09T05:59:50.000Z',
      edgeIso: '2026-03-09T06:00:05.000Z',
      crowdedIso: '2026-03-09T06:00:04.900Z',
    },
    {
      case: 'a window closing exactly half the default cadence after its tick (every 4 on a 6 s window): it fires',
      rules: ['daily 06:00:00-06:00:06 every 4'],
      intervalMs: 4 * SECOND,
      firstTickIso: '2026-03-09T05:59:52.000Z',
      edgeIso: '2026-03-09T06:00:06.000Z',
      crowdedIso: undefined,
    },
  ])('$case', async ({ rules, intervalMs, firstTickIso, edgeIso, crowdedIso }) => {
    // prepare: a loop's first tick is due a second after its start
    const startIso = iso(at(firstTickIso) - SECOND);

    // act
    const { fired } = await runLoop({
      zone: 'UTC',
      rules,
      intervalMs,
      startIso,
      untilIso: iso(at(edgeIso) + 30 * SECOND),
    });

    // assess: the edge's tick fires exactly on it; the tick crowding it is not fired but counted as skipped
    const dueTimes = fired.map((tick) => iso(tick.dueAt));
    const edgeTick = fired.find((tick) => iso(tick.dueAt) === edgeIso);
    expect(edgeTick).toBeDefined();
    if (crowdedIso === undefined) {
      expect(edgeTick?.skipped).toBe(0);
    } else {
      expect(dueTimes).not.toContain(crowdedIso);
      expect(edgeTick?.skipped).toBe(1);
    }
    expectSeqWithoutGaps(fired);
  });

  it('keeps every gap at or above half the smaller cadence over a day of edges', async () => {
    // prepare: edges that fall between default ticks at awkward offsets (a 30 s default grid from 00:00:01)
    const rules = [
      'daily 06:00:00-06:00:59 every 7',
      'daily 08:00:29-08:10 every 13',
      'daily 12:00:00-12:00:14 every 4.9',
      'daily 12:00:14-18:00:00 every 17',
      'daily 18:00:05-18:00:13 every 2.5',
      'daily 21:00:00-21:00:20 pause',
    ];
    const zone = 'Europe/Berlin';
    const parsed = rulesOf(rules);

    // act
    const { fired } = await runLoop({
      zone,
      rules,
      intervalMs: 30 * SECOND,
      startIso: '2026-03-09T00:00:00.000Z',
      untilIso: '2026-03-10T00:00:00.000Z',
    });

    // assess: each gap against half the smaller of the cadences in force at its two fires
    const cadenceOf = (instantMs: number) => {
      const cadence = cadenceAt(parsed, zone, 30 * SECOND, instantMs);
      return cadence.kind === 'every' ? cadence.intervalMs : Number.POSITIVE_INFINITY;
    };
    const tooClose = fired.slice(1).flatMap((tick, i) => {
      const previous = fired[i];
      if (previous === undefined) return [];
      const floorMs = Math.min(cadenceOf(previous.dueAt), cadenceOf(tick.dueAt)) / 2;
      return tick.dueAt - previous.dueAt < floorMs ? [`${iso(previous.dueAt)} → ${iso(tick.dueAt)}`] : [];
    });
    expect(tooClose).toEqual([]);
    expect(fired.reduce((sum, tick) => sum + tick.skipped, 0)).toBeGreaterThan(0);
    expectSeqWithoutGaps(fired);
  });
});

describe('a pause reports the same next tick at every check-in', () => {
  it.each([
    {
      case: 'paused every instant of the week: a week after the first tick it would have fired',
      rules: ['daily 00:00-24:00 pause'],
      startIso: '2026-03-09T12:00:00.000Z',
      nextTickIso: '2026-03-16T12:00:01.000Z',
    },
    {
      case: 'a pause ending in 3 days: its end',
      rules: ['Mon-Wed 00:00-24:00 pause'],
      startIso: '2026-03-09T00:00:00.000Z',
      nextTickIso: '2026-03-12T00:00:00.000Z',
    },
  ])('$case', ({ rules, startIso, nextTickIso }) => {
    // prepare
    const loopConfig = config(30 * SECOND, { windows: rulesOf(rules) });
    let loop: LoopState | undefined;

    // act: a start, then ten check-ins a minute apart, each carrying on from the loop the previous one left
    const nextTicks: string[] = [];
    for (let checkIn = 0; checkIn <= 10; checkIn++) {
      const plan = planTick({
        pollerId: 'orders',
        loop,
        reading: { config: loopConfig, problems: [] },
        lastSeqOnItem: 0,
        generation: 1,
        executionId: 'exec-1',
        historyBudget: 20_000,
        claimRequired: false,
        nowMs: at(startIso) + checkIn * DEFAULT_TIMING.pauseCheckInMs,
        timing: DEFAULT_TIMING,
      });
      if (plan.kind !== 'early') throw new Error(`expected a paused loop, got ${plan.kind}`);
      loop = plan.next;
      nextTicks.push(iso(nextDueAt(plan.next)));
    }

    // assess
    expect(nextTicks).toEqual(Array.from({ length: 11 }, () => nextTickIso));
  });
});
