import { describe, expect, it } from 'vitest';
import { parseControllerInput } from '../../../functions/controller/parse-input';
import {
  CONTROLLER_MAX_RETRIES,
  DEFAULT_HISTORY_BUDGET,
  failedRoundsSince,
  HAND_OVER_MAX_RETRIES,
  HISTORY_EVENT_CAP,
  HISTORY_EVENTS_PER_FAILED_ATTEMPT,
  HISTORY_EVENTS_PER_FAILED_HAND_OVER,
  HISTORY_EVENTS_PER_FAILED_ROUND,
  historyEventsBeforeRound,
  RECOVERY_PAUSE_SECONDS,
  type RoundPath,
} from '../../../functions/scheduling/history-budget';
import { closeRound, handOverDue } from '../../../functions/scheduling/plan-round';
import type { LoopState } from '../../../functions/shared/contract';
import { config, T0 } from './loop-simulator';

const PAUSE_MS = RECOVERY_PAUSE_SECONDS * 1000;

const healthyPath: RoundPath = {
  retryCount: 0,
  previousRoundFailed: false,
  failuresSinceMs: undefined,
  handOverFailed: false,
};

describe('failedRoundsSince', () => {
  it.each([
    { label: 'no reference time', sinceMs: undefined, nowMs: T0, rounds: 1 },
    { label: 'no time at all', sinceMs: T0, nowMs: T0, rounds: 1 },
    { label: 'one recovery pause', sinceMs: T0, nowMs: T0 + PAUSE_MS, rounds: 1 },
    { label: 'just over one pause', sinceMs: T0, nowMs: T0 + PAUSE_MS + 1, rounds: 2 },
    { label: 'a minute', sinceMs: T0, nowMs: T0 + 60_000, rounds: 12 },
    { label: 'a clock that runs behind', sinceMs: T0, nowMs: T0 - 3_000, rounds: 1 },
  ])(
    'counts at most one failed round per recovery pause, at least one: $label',
    ({ sinceMs, nowMs, rounds }) => {
      expect(failedRoundsSince(sinceMs, nowMs)).toBe(rounds);
    },
  );
});

describe('historyEventsBeforeRound', () => {
  it('is zero for a round whose first attempt runs after a healthy round', () => {
    expect(historyEventsBeforeRound(healthyPath, T0)).toBe(0);
  });

  it("counts this round's retried attempts", () => {
    expect(historyEventsBeforeRound({ ...healthyPath, retryCount: 2 }, T0)).toBe(
      2 * HISTORY_EVENTS_PER_FAILED_ATTEMPT,
    );
  });

  it('counts every failed round that fits between the reference time and now, not just one', () => {
    // prepare
    const path = { ...healthyPath, previousRoundFailed: true, failuresSinceMs: T0 };

    // act
    const afterAMinute = historyEventsBeforeRound(path, T0 + 60_000);
    const afterAnHour = historyEventsBeforeRound(path, T0 + 3_600_000);

    // assess
    expect(afterAMinute).toBe(12 * HISTORY_EVENTS_PER_FAILED_ROUND);
    expect(afterAnHour).toBe(720 * HISTORY_EVENTS_PER_FAILED_ROUND);
  });

  it('counts a failed hand-over at its largest, retries of the signalling round included', () => {
    // act
    const events = historyEventsBeforeRound({ ...healthyPath, handOverFailed: true }, T0);

    // assess
    expect(events).toBe(HISTORY_EVENTS_PER_FAILED_HAND_OVER);
    expect(HISTORY_EVENTS_PER_FAILED_HAND_OVER).toBe(
      2 + (CONTROLLER_MAX_RETRIES + 1) * 3 + 2 + (HAND_OVER_MAX_RETRIES + 1) * 3,
    );
  });

  it('counts up to one failed hand-over more than failed rounds, as a round attempt comes between two', () => {
    // prepare
    const path = { retryCount: 1, previousRoundFailed: true, failuresSinceMs: T0, handOverFailed: true };

    // act
    const events = historyEventsBeforeRound(path, T0 + 2 * PAUSE_MS);

    // assess
    expect(events).toBe(
      HISTORY_EVENTS_PER_FAILED_ATTEMPT +
        2 * HISTORY_EVENTS_PER_FAILED_ROUND +
        3 * HISTORY_EVENTS_PER_FAILED_HAND_OVER,
    );
  });
});

/**
 * Step Functions running the poller definition, as far as its history is concerned: every event a Standard
 * execution records for our states (test/infra/state-machine-definition.test.ts checks these counts against the
 * event log of a real local execution). The controller is reduced to its history decisions, fed exactly what
 * the definition passes it: `{ state, executionId, executionStartTime, retryCount }`.
 */
interface Scenario {
  readonly seed: number;
  readonly durationMs: number;
  readonly budget: number;
  /** Gap between healthy rounds (a Wait-state cadence). */
  readonly roundGapMs: number;
  /** Controller attempts fail throughout these windows (the table unreachable): every round is caught. */
  readonly outages: readonly { readonly fromMs: number; readonly toMs: number }[];
  /** Chance that a healthy attempt is throttled (retried by the Task's Retry). */
  readonly throttleChance: number;
  /** Chance that a hand-over fails for good (its StartExecution refused after every retry). */
  readonly handOverFailureChance: number;
}

interface Execution {
  readonly id: string;
  readonly startedAt: number;
  readonly events: string[];
  failedHandOvers: number;
}

interface ScenarioResult {
  readonly executions: readonly Execution[];
  /** Per healthy round: the events the execution had used once the round's Wait ended, and what was counted. */
  readonly rounds: readonly { readonly used: number; readonly counted: number }[];
  readonly handOvers: number;
  readonly handOversDuringOutages: number;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function runScenario(scenario: Scenario): ScenarioResult {
  const random = mulberry32(scenario.seed);
  const executions: Execution[] = [];
  const rounds: { used: number; counted: number }[] = [];
  let handOvers = 0;
  let handOversDuringOutages = 0;
  let nowMs = T0;
  const inOutage = () => scenario.outages.some((outage) => nowMs >= outage.fromMs && nowMs < outage.toMs);

  const startExecution = (state: Record<string, unknown>) => {
    const execution: Execution = {
      id: `exec-${executions.length + 1}`,
      startedAt: nowMs,
      events: ['ExecutionStarted'],
      failedHandOvers: 0,
    };
    executions.push(execution);
    return { execution, state };
  };
  const firstLoop: LoopState = {
    nextSeq: 1,
    anchorAt: T0,
    anchorSeq: 1,
    generation: 1,
    claimedThroughSeq: 0,
    config: config(scenario.roundGapMs),
    executionId: 'none',
    historyEvents: 0,
    historyBudget: scenario.budget,
    skippedTicks: 0,
  };
  let { execution, state } = startExecution({ pollerId: 'orders', loop: firstLoop });

  while (nowMs < T0 + scenario.durationMs) {
    const events = execution.events;
    events.push('TaskStateEntered');
    let outcome: 'succeeded' | 'caught' | 'hand-over' = 'caught';
    for (let retryCount = 0; retryCount <= CONTROLLER_MAX_RETRIES; retryCount += 1) {
      events.push('LambdaFunctionScheduled', 'LambdaFunctionStarted');
      const input = parseControllerInput({
        state,
        executionId: execution.id,
        executionStartTime: new Date(execution.startedAt).toISOString(),
        retryCount,
      });
      const spent = historyEventsBeforeRound(input, nowMs);
      nowMs += 40;
      if (
        input.loop !== undefined &&
        !input.handOverJustFailed &&
        handOverDue(input.loop, execution.id, spent)
      ) {
        events.push('LambdaFunctionFailed');
        outcome = 'hand-over';
        break;
      }
      if (inOutage() || random() < scenario.throttleChance) {
        events.push('LambdaFunctionFailed');
        // The Task's Retry: IntervalSeconds 1, BackoffRate 2, full jitter.
        if (retryCount < CONTROLLER_MAX_RETRIES) nowMs += Math.floor(random() * 1000 * 2 ** retryCount);
        continue;
      }
      events.push('LambdaFunctionSucceeded', 'TaskStateExited');
      const loop = closeRound(input.loop ?? firstLoop, execution.id, spent);
      const wakeAt = Math.floor((nowMs + scenario.roundGapMs) / 1000) * 1000;
      state = { pollerId: 'orders', wakeAt: new Date(wakeAt).toISOString(), loop };
      events.push('WaitStateEntered');
      nowMs = Math.max(nowMs, wakeAt);
      events.push('WaitStateExited');
      rounds.push({ used: events.length - 1, counted: loop.historyEvents });
      outcome = 'succeeded';
      break;
    }
    if (outcome === 'caught') {
      events.push('TaskStateExited', 'WaitStateEntered', 'WaitStateExited');
      state = { ...state, lastFailure: { Error: 'ControlTableUnavailableError', Cause: '{}' } };
      nowMs += PAUSE_MS;
    } else if (outcome === 'hand-over') {
      events.push('TaskStateExited', 'TaskStateEntered');
      state = { ...state, lastFailure: { Error: 'HandOverRequested', Cause: '{}' } };
      const fails = random() < scenario.handOverFailureChance;
      for (let attempt = 0; attempt <= HAND_OVER_MAX_RETRIES; attempt += 1) {
        events.push('TaskScheduled', 'TaskStarted', fails ? 'TaskFailed' : 'TaskSucceeded');
        if (!fails) break;
        nowMs += Math.floor(random() * 1000 * 2 ** attempt);
      }
      events.push('TaskStateExited');
      if (fails) {
        execution.failedHandOvers += 1;
        state = { ...state, handOverFailure: { Error: 'StepFunctions.ExecutionLimitExceededException' } };
      } else {
        events.push('SucceedStateEntered', 'SucceedStateExited', 'ExecutionSucceeded');
        handOvers += 1;
        if (inOutage()) handOversDuringOutages += 1;
        const carried = state as { pollerId: string; loop: LoopState };
        ({ execution, state } = startExecution({ pollerId: carried.pollerId, loop: carried.loop }));
      }
    }
  }
  return { executions, rounds, handOvers, handOversDuringOutages };
}

describe('the history budget against a model of Step Functions history', () => {
  it('hands over during a 1.5 h table outage that starts near the budget, never nearing the 25,000 cap', () => {
    // prepare: rounds every 30 s fill the execution to ~19,000 events in about 22 hours, then the table goes away.
    const roundGapMs = 30_000;
    const outageFromMs = T0 + Math.ceil(19_000 / 7) * roundGapMs;
    const scenario: Scenario = {
      seed: 7,
      durationMs: outageFromMs - T0 + 2 * 3_600_000,
      budget: DEFAULT_HISTORY_BUDGET,
      roundGapMs,
      outages: [{ fromMs: outageFromMs, toMs: outageFromMs + 5_400_000 }],
      throttleChance: 0,
      handOverFailureChance: 0,
    };

    // act
    const result = runScenario(scenario);

    // assess
    const largest = Math.max(...result.executions.map((execution) => execution.events.length));
    expect(result.handOversDuringOutages).toBeGreaterThanOrEqual(1);
    expect(largest).toBeLessThanOrEqual(DEFAULT_HISTORY_BUDGET + HISTORY_EVENTS_PER_FAILED_ROUND + 10);
    expect(largest).toBeLessThan(HISTORY_EVENT_CAP);
  });

  it.each([1, 2, 3])(
    'counts at least the events each execution used, through throttling, outages and failed hand-overs (seed %i)',
    (seed) => {
      // prepare: a small budget, so many executions run; outages of 2 min to 20 min.
      const budget = 600;
      const outages = [0.2, 0.45, 0.7].map((at, index) => ({
        fromMs: T0 + at * 86_400_000,
        toMs: T0 + at * 86_400_000 + (index + 1) * 400_000 * seed,
      }));
      const scenario: Scenario = {
        seed,
        durationMs: 86_400_000,
        budget,
        roundGapMs: 20_000,
        outages,
        throttleChance: 0.2,
        handOverFailureChance: 0.3,
      };

      // act
      const result = runScenario(scenario);

      // assess: ExecutionStarted is left to the reserve, every other event is counted by the round after it.
      // An execution passes its budget by one failed round at most, and by what each failed hand-over costs.
      const undercounted = result.rounds.filter((round) => round.used > round.counted);
      const overBudget = result.executions.filter(
        (execution) =>
          execution.events.length >
          budget +
            HISTORY_EVENTS_PER_FAILED_ROUND +
            execution.failedHandOvers *
              (HISTORY_EVENTS_PER_FAILED_HAND_OVER + HISTORY_EVENTS_PER_FAILED_ROUND),
      );
      expect(result.rounds.length).toBeGreaterThan(1_000);
      expect(result.handOvers).toBeGreaterThan(10);
      expect(result.executions.some((execution) => execution.failedHandOvers > 0)).toBe(true);
      expect(undercounted).toEqual([]);
      expect(overBudget.map((execution) => [execution.events.length, execution.failedHandOvers])).toEqual([]);
    },
  );
});
