/**
 * A Standard execution fails outright at 25,000 history events, so the loop hands over to a fresh execution of
 * itself well before that. The controller counts what each round adds rather than guessing a round limit.
 */
export const HISTORY_EVENT_CAP = 25_000;

/**
 * Events one healthy round adds: the controller Task (TaskStateEntered, LambdaFunctionScheduled,
 * LambdaFunctionStarted, LambdaFunctionSucceeded, TaskStateExited) and the Wait (entered, exited).
 * test/infra/state-machine-definition.test.ts checks this against the definition.
 */
export const HISTORY_EVENTS_PER_ROUND = 7;

/** Controller Task retry attempts after the first (the ASL's Retry MaxAttempts for transient errors). */
export const CONTROLLER_MAX_RETRIES = 4;

/**
 * A round that ended in the Catch path: every attempt adds LambdaFunctionScheduled/Started/Failed (3), then the
 * task's entered/exited pair and the recovery Wait's pair.
 */
export const HISTORY_EVENTS_PER_FAILED_ROUND = (CONTROLLER_MAX_RETRIES + 1) * 3 + 4;

/**
 * Hand over with room to spare: retries inside rounds that then succeed are invisible to the controller, and
 * the hand-over itself (restart Task, its retries, ExecutionSucceeded) needs events too.
 */
export const DEFAULT_HISTORY_BUDGET = 20_000;
