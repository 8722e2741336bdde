/**
 * A Standard execution fails outright at 25,000 history events, so the loop hands over to a fresh execution of
 * itself well before that. The controller counts what each round adds rather than guessing a round limit, and
 * the count is an upper bound: every path that adds events (retried attempts, failed rounds, failed hand-overs)
 * is counted at its largest.
 */
export const HISTORY_EVENT_CAP = 25_000;

/**
 * Events one healthy round adds: the controller Task (TaskStateEntered, LambdaFunctionScheduled,
 * LambdaFunctionStarted, LambdaFunctionSucceeded, TaskStateExited) and the Wait (entered, exited).
 * test/infra/state-machine-definition.test.ts checks this against a real local execution's history.
 */
export const HISTORY_EVENTS_PER_ROUND = 7;

/** A Lambda attempt that failed: LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionFailed. */
export const HISTORY_EVENTS_PER_FAILED_ATTEMPT = 3;

/** Controller Task retry attempts after the first (the ASL's Retry MaxAttempts for transient errors). */
export const CONTROLLER_MAX_RETRIES = 4;

/** HandOver (StartExecution) retry attempts after the first. */
export const HAND_OVER_MAX_RETRIES = 3;

/** After an uncaught controller failure the state machine pauses this long before the next attempt. */
export const RECOVERY_PAUSE_SECONDS = 5;

/**
 * A round that ended in the Catch path: every attempt adds LambdaFunctionScheduled/Started/Failed (3), then the
 * task's entered/exited pair and the recovery Wait's pair.
 */
export const HISTORY_EVENTS_PER_FAILED_ROUND =
  (CONTROLLER_MAX_RETRIES + 1) * HISTORY_EVENTS_PER_FAILED_ATTEMPT + 4;

/**
 * A hand-over that failed for good: the controller Task that signalled it (entered, exited, and every attempt
 * it may have retried before the signal, which no round counts) and the HandOver Task's entered/exited pair
 * around its failed attempts.
 */
export const HISTORY_EVENTS_PER_FAILED_HAND_OVER =
  2 +
  (CONTROLLER_MAX_RETRIES + 1) * HISTORY_EVENTS_PER_FAILED_ATTEMPT +
  2 +
  (HAND_OVER_MAX_RETRIES + 1) * HISTORY_EVENTS_PER_FAILED_ATTEMPT;

/**
 * Hand over with room to spare: the hand-over itself (the signalling Task, the StartExecution Task and its
 * retries, the Succeed state, ExecutionSucceeded) needs events, and while the controller cannot run at all (a
 * Lambda outage) failed rounds keep adding events that no round can count yet.
 */
export const DEFAULT_HISTORY_BUDGET = 20_000;

/** What Step Functions tells a controller invocation about the path that led to it. */
export interface RoundPath {
  /** Failed attempts of this very round that the Task's Retry retried (`$$.State.RetryCount`). */
  readonly retryCount: number;
  /** An attempt since the previous healthy round was caught (`$.lastFailure`): failed rounds may have led here. */
  readonly previousRoundFailed: boolean;
  /** The earliest time the failed rounds can have started (epoch ms); undefined when unknown. */
  readonly failuresSinceMs: number | undefined;
  /** A hand-over failed for good (`$.handOverFailure`) since the previous healthy round. */
  readonly handOverFailed: boolean;
}

/**
 * Failed rounds since `sinceMs`, at most: each one passes through the RecoverAfterFailure Wait, so it lasts at
 * least RECOVERY_PAUSE_SECONDS. The Catch overwrites `$.lastFailure`, so this is all the state can tell. Rounded
 * up, so a skew between the Step Functions and Lambda clocks only over-counts; at least one, as one was caught.
 */
export function failedRoundsSince(sinceMs: number | undefined, nowMs: number): number {
  if (sinceMs === undefined) return 1;
  return Math.max(1, Math.ceil((nowMs - sinceMs) / (RECOVERY_PAUSE_SECONDS * 1000)));
}

/**
 * History events the execution has spent since the previous healthy round that no round has counted yet: this
 * round's own retried attempts, the failed rounds before it and failed hand-overs. The controller asks for a
 * hand-over again only after a round attempt that failed, so failed hand-overs are at most one more than failed
 * rounds. Over-counting only makes the hand-over come earlier; under-counting could let the execution reach
 * the hard cap.
 */
export function historyEventsBeforeRound(path: RoundPath, nowMs: number): number {
  const failedRounds = path.previousRoundFailed ? failedRoundsSince(path.failuresSinceMs, nowMs) : 0;
  const failedHandOvers = path.handOverFailed ? failedRounds + 1 : 0;
  return (
    path.retryCount * HISTORY_EVENTS_PER_FAILED_ATTEMPT +
    failedRounds * HISTORY_EVENTS_PER_FAILED_ROUND +
    failedHandOvers * HISTORY_EVENTS_PER_FAILED_HAND_OVER
  );
}
