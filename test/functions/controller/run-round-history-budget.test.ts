import { describe, expect, it } from 'vitest';
import { type ControllerDeps, runRound } from '../../../functions/controller/run-round';
import {
  HISTORY_EVENTS_PER_FAILED_ROUND,
  HISTORY_EVENTS_PER_ROUND,
} from '../../../functions/scheduling/history-budget';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import { type LoopState, SIGNAL } from '../../../functions/shared/contract';
import { ControlTableUnavailableError, HandOverRequestedSignal } from '../../../functions/shared/errors';
import { silentLogger } from '../../../functions/shared/logger';
import { InMemoryControlStore } from '../../support/in-memory-control-store';
import { InMemoryWorkerInvoker } from '../../support/in-memory-worker-invoker';
import { simulatedClock } from '../../support/simulated-clock';

/**
 * The hand-over check runs before the control item is read, so a loop whose rounds keep failing while the
 * controller itself runs (the table unreachable, access denied) hands over before the history cap. The table
 * here is unreachable (an in-memory store told to fail): a round that reads it fails with ControlTableUnavailableError.
 */
const EXECUTION_ID = 'arn:aws:states:us-east-1:000000000000:execution:loop:default-g1';
const BUDGET = 2_000;

/** Starts at the real time: the events below date the failed rounds by Date.now(). It never moves: no round sleeps. */
const clock = simulatedClock({ startMs: Date.now() });
const unreachableTable = new InMemoryControlStore('pollers');
unreachableTable.unreachable = true;

const deps: ControllerDeps = {
  table: unreachableTable,
  invoker: new InMemoryWorkerInvoker(clock),
  defaultTarget: 'worker',
  clock,
  log: silentLogger,
  timing: DEFAULT_TIMING,
};

const loop = (historyEvents: number): LoopState => ({
  nextSeq: 40,
  anchorAt: Date.now() - 60_000,
  anchorSeq: 1,
  generation: 1,
  claimedThroughSeq: 50,
  config: { running: true, intervalMs: 2_000 },
  executionId: EXECUTION_ID,
  historyEvents,
  historyBudget: BUDGET,
  skippedTicks: 0,
});

/** What Step Functions passes after failed rounds: the last healthy output plus the Catch's lastFailure. */
function afterFailedRounds(sinceMs: number, historyEvents: number, extra: Record<string, unknown> = {}) {
  return {
    state: {
      pollerId: 'default',
      wakeAt: new Date(sinceMs).toISOString(),
      loop: loop(historyEvents),
      lastFailure: { Error: 'ControlTableUnavailableError', Cause: '{"errorMessage":"unreachable"}' },
      ...extra,
    },
    executionId: EXECUTION_ID,
    executionStartTime: new Date(sinceMs - 3_600_000).toISOString(),
    retryCount: 0,
  };
}

const run = (event: unknown) => runRound(event, deps, () => clock.peek() + 60_000);

describe('runRound: the history budget after failed rounds', () => {
  it('hands over without reading the table once the failed rounds since the last wakeAt fill the budget', async () => {
    // prepare: 10 minutes of failed rounds are up to 120 of them; far more than the 1,000 events left.
    const event = afterFailedRounds(Date.now() - 600_000, BUDGET / 2);

    // act
    const round = run(event);

    // assess
    await expect(round).rejects.toBeInstanceOf(HandOverRequestedSignal);
    await expect(round).rejects.toMatchObject({ name: SIGNAL.handOver });
  });

  it('runs the round (and meets the unreachable table) while the failed rounds still fit the budget', async () => {
    // prepare: 20 s of failed rounds are up to 4 of them.
    const event = afterFailedRounds(
      Date.now() - 20_000,
      BUDGET - HISTORY_EVENTS_PER_ROUND - 5 * HISTORY_EVENTS_PER_FAILED_ROUND,
    );

    // act / assess
    await expect(run(event)).rejects.toBeInstanceOf(ControlTableUnavailableError);
  });

  it('runs a normal round first when the latest attempt was a hand-over that failed', async () => {
    // prepare: the hand-over request went into lastFailure, then the HandOver Task failed.
    const event = afterFailedRounds(Date.now() - 600_000, BUDGET / 2, {
      lastFailure: { Error: SIGNAL.handOver, Cause: '{"errorMessage":"history budget spent"}' },
      handOverFailure: { Error: 'StepFunctions.ExecutionLimitExceededException', Cause: 'too many' },
    });

    // act / assess
    await expect(run(event)).rejects.toBeInstanceOf(ControlTableUnavailableError);
  });

  it('asks for the hand-over again once a round failed after the failed hand-over', async () => {
    // prepare: that round's Catch overwrote lastFailure; handOverFailure is still in the state.
    const event = afterFailedRounds(Date.now() - 600_000, BUDGET / 2, {
      handOverFailure: { Error: 'StepFunctions.ExecutionLimitExceededException', Cause: 'too many' },
    });

    // act / assess
    await expect(run(event)).rejects.toBeInstanceOf(HandOverRequestedSignal);
  });
});
