import {
  CONTROLLER_MAX_RETRIES,
  DEFAULT_HISTORY_BUDGET,
  HISTORY_EVENT_CAP,
  HISTORY_EVENTS_PER_ROUND,
  type RoundPath,
} from '../scheduling/history-budget';
import {
  DEFAULT_POLLER_ID,
  type LoopState,
  MAX_PAYLOAD_BYTES,
  POLLER_ID_PATTERN,
  type PollerConfig,
  SIGNAL,
  WAIT_SECONDS_LIMITS,
} from '../shared/contract';
import { InvalidControllerInputError, renderJson } from '../shared/errors';

export interface ParsedInput extends RoundPath {
  readonly pollerId: string;
  readonly executionId: string;
  readonly loop: LoopState | undefined;
  readonly historyBudget: number;
  /** The generation a fresh start must take; undefined: one above the item's. */
  readonly generation: number | undefined;
  /** What went wrong in the previous attempt (a caught controller failure or a failed hand-over). */
  readonly previousFailure: string | undefined;
  /**
   * The latest attempt asked for a hand-over and the hand-over failed: run a normal round (the loop carries on
   * here) before asking again.
   */
  readonly handOverJustFailed: boolean;
}

/** Errors carried from one round to the next when the table was unreachable; more would only repeat. */
const MAX_PENDING_ERRORS = 5;
const MIN_HISTORY_BUDGET = 2 * HISTORY_EVENTS_PER_ROUND;
const MAX_HISTORY_BUDGET = HISTORY_EVENT_CAP - 2_000;

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads what Step Functions passed: `{ state, executionId, executionStartTime, retryCount }`, where `state` is
 * the execution input on the first round and the previous round's output after that. A direct invoke without
 * the envelope is accepted too. Throws InvalidControllerInputError; the caller turns it into a clean stop.
 */
export function parseControllerInput(event: unknown): ParsedInput {
  const envelope: JsonObject = isObject(event) && isObject(event.state) ? event : { state: event };
  const state = isObject(envelope.state) ? envelope.state : {};
  const pollerId = state.pollerId ?? DEFAULT_POLLER_ID;
  if (typeof pollerId !== 'string' || !POLLER_ID_PATTERN.test(pollerId)) {
    throw new InvalidControllerInputError(
      renderJson(pollerId, 40),
      `pollerId must be 1-64 characters of A-Z a-z 0-9 . _ -`,
      pollerId,
    );
  }
  const executionId = typeof envelope.executionId === 'string' ? envelope.executionId : 'direct-invoke';

  const historyBudget = state.historyBudget ?? DEFAULT_HISTORY_BUDGET;
  if (!isWholeNumberIn(historyBudget, MIN_HISTORY_BUDGET, MAX_HISTORY_BUDGET)) {
    throw new InvalidControllerInputError(
      pollerId,
      `historyBudget must be a whole number from ${MIN_HISTORY_BUDGET} to ${MAX_HISTORY_BUDGET}`,
      historyBudget,
    );
  }

  const generation = state.generation ?? undefined;
  if (generation !== undefined && !isWholeNumberIn(generation, 1, Number.MAX_SAFE_INTEGER)) {
    throw new InvalidControllerInputError(pollerId, 'generation must be a whole number ≥ 1', generation);
  }

  const loop = state.loop === undefined || state.loop === null ? undefined : parseLoop(pollerId, state.loop);
  // The Catch puts a hand-over request into lastFailure too: it is not a failure to report.
  const askedForHandOver = isObject(state.lastFailure) && state.lastFailure.Error === SIGNAL.handOver;
  const handOverFailed = state.handOverFailure !== undefined && state.handOverFailure !== null;
  const failures = [
    askedForHandOver ? undefined : describeFailure('previous controller attempt failed', state.lastFailure),
  ];
  failures.push(describeFailure('hand-over to a fresh execution failed', state.handOverFailure));
  if (Array.isArray(state.pendingErrors)) {
    for (const message of state.pendingErrors.slice(0, MAX_PENDING_ERRORS)) {
      if (typeof message === 'string') failures.push(message.slice(0, 500));
    }
  }
  const previousFailure = failures.filter((text) => text !== undefined).join('; ') || undefined;
  // Failed rounds since the previous healthy round happened after its wakeAt, and all within this execution.
  const sinceCandidates = [epochMsOf(state.wakeAt), epochMsOf(envelope.executionStartTime)].filter(
    (ms) => ms !== undefined,
  );
  return {
    pollerId,
    executionId,
    loop,
    historyBudget: loop?.historyBudget ?? historyBudget,
    generation,
    previousFailure,
    previousRoundFailed: state.lastFailure !== undefined && state.lastFailure !== null,
    failuresSinceMs: sinceCandidates.length > 0 ? Math.max(...sinceCandidates) : undefined,
    retryCount: retryCountOf(envelope.retryCount),
    handOverFailed,
    handOverJustFailed: handOverFailed && askedForHandOver,
  };
}

/** An ISO timestamp as epoch ms; undefined when absent or not a timestamp (the budget then assumes more). */
function epochMsOf(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** `$$.State.RetryCount`: 0 on a direct invoke; a value that is not a count is taken as the most retries. */
function retryCountOf(value: unknown): number {
  if (value === undefined) return 0;
  return isWholeNumberIn(value, 0, Number.MAX_SAFE_INTEGER) ? value : CONTROLLER_MAX_RETRIES;
}

function parseLoop(pollerId: string, value: unknown): LoopState {
  const fail = (detail: string): never => {
    throw new InvalidControllerInputError(pollerId, `loop.${detail}`, value);
  };
  if (!isObject(value)) throw new InvalidControllerInputError(pollerId, 'loop must be an object', value);
  for (const key of ['nextSeq', 'anchorSeq', 'claimedThroughSeq', 'historyEvents', 'skippedTicks'] as const) {
    if (!isWholeNumberIn(value[key], 0, Number.MAX_SAFE_INTEGER)) fail(`${key} must be a whole number ≥ 0`);
  }
  if (!isWholeNumberIn(value.anchorAt, 0, Number.MAX_SAFE_INTEGER))
    fail('anchorAt must be epoch milliseconds');
  if (!isWholeNumberIn(value.historyBudget, MIN_HISTORY_BUDGET, MAX_HISTORY_BUDGET)) {
    fail(`historyBudget must be a whole number from ${MIN_HISTORY_BUDGET} to ${MAX_HISTORY_BUDGET}`);
  }
  if (typeof value.executionId !== 'string') fail('executionId must be a string');
  if (!isWholeNumberIn(value.generation, 1, Number.MAX_SAFE_INTEGER))
    fail('generation must be a whole number ≥ 1');
  const config = value.config;
  if (!isObject(config)) return fail('config must be an object');
  if (typeof config.running !== 'boolean') fail('config.running must be a boolean');
  const intervalRange = [Math.round(WAIT_SECONDS_LIMITS.min * 1000), WAIT_SECONDS_LIMITS.max * 1000] as const;
  if (!isWholeNumberIn(config.intervalMs, ...intervalRange)) fail('config.intervalMs is out of range');
  if (config.target !== undefined && typeof config.target !== 'string')
    fail('config.target must be a string');
  if (config.payload !== undefined && !isObject(config.payload)) fail('config.payload must be an object');
  if (config.payload !== undefined && Buffer.byteLength(JSON.stringify(config.payload)) > MAX_PAYLOAD_BYTES) {
    fail('config.payload is too large');
  }
  return {
    nextSeq: value.nextSeq as number,
    anchorAt: value.anchorAt as number,
    anchorSeq: value.anchorSeq as number,
    claimedThroughSeq: value.claimedThroughSeq as number,
    generation: value.generation as number,
    executionId: value.executionId as string,
    historyEvents: value.historyEvents as number,
    historyBudget: value.historyBudget as number,
    skippedTicks: value.skippedTicks as number,
    config: {
      running: config.running as boolean,
      intervalMs: config.intervalMs as number,
      target: config.target as string | undefined,
      payload: config.payload as PollerConfig['payload'],
    },
  };
}

function isWholeNumberIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Step Functions' Catch output is `{ Error, Cause }`; Cause is often the Lambda's JSON error. */
function describeFailure(prefix: string, failure: unknown): string | undefined {
  if (failure === undefined || failure === null) return undefined;
  if (!isObject(failure)) return `${prefix}: ${renderJson(failure, 300)}`;
  const errorName = typeof failure.Error === 'string' ? failure.Error : 'unknown error';
  let cause = typeof failure.Cause === 'string' ? failure.Cause : '';
  try {
    const parsed: unknown = JSON.parse(cause);
    if (isObject(parsed) && typeof parsed.errorMessage === 'string') cause = parsed.errorMessage;
  } catch {
    // Cause is plain text already.
  }
  // Some interpreters repeat the error name at the start of the Cause.
  if (cause.startsWith(`${errorName}: `)) cause = cause.slice(errorName.length + 2);
  return `${prefix}: ${errorName}${cause ? `: ${cause.slice(0, 300)}` : ''}`;
}
