import {
  CONTROLLER_MAX_RETRIES,
  DEFAULT_HISTORY_BUDGET,
  HISTORY_EVENT_CAP,
  HISTORY_EVENTS_PER_ROUND,
  type RoundPath,
} from '../scheduling/history-budget';
import { DEFAULT_TIME_ZONE, parseTimeZone, parseWindowRules, type WindowRule } from '../scheduling/windows';
import {
  DEFAULT_POLLER_ID,
  type LoopState,
  type LoopStateWire,
  MAX_PAYLOAD_BYTES,
  MAX_WINDOW_RULES,
  POLLER_ID_PATTERN,
  type PollerConfig,
  SIGNAL,
} from '../shared/contract';
import { isRecord, isWholeNumberIn } from '../shared/decode';
import { InvalidControllerInputError, renderJson, sayEachOnce } from '../shared/errors';
import { INTERVAL_MS_LIMITS } from '../shared/wait-interval';

export interface ParsedInput extends RoundPath {
  readonly pollerId: string;
  /**
   * The input named its poller. Every start path and every later round's state do; only an execution started by
   * hand without one (the console's default `{}`) does not, and runs `default`.
   */
  readonly pollerNamed: boolean;
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
/** The history budget an input may set (a shard's input is held to the same range). */
export const MIN_HISTORY_BUDGET = 2 * HISTORY_EVENTS_PER_ROUND;
export const MAX_HISTORY_BUDGET = HISTORY_EVENT_CAP - 2_000;

/**
 * Reads what Step Functions passed: `{ state, executionId, executionStartTime, retryCount }`, where `state` is
 * the execution input on the first round and the previous round's output after that. A direct invoke without
 * the envelope is accepted too. Throws InvalidControllerInputError; the caller turns it into a clean stop.
 */
export function parseControllerInput(event: unknown): ParsedInput {
  const envelope: Record<string, unknown> =
    isRecord(event) && isRecord(event.state) ? event : { state: event };
  const state = isRecord(envelope.state) ? envelope.state : {};
  const pollerNamed = state.pollerId !== undefined && state.pollerId !== null;
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
  const askedForHandOver = isRecord(state.lastFailure) && state.lastFailure.Error === SIGNAL.handOver;
  const handOverFailed = state.handOverFailure !== undefined && state.handOverFailure !== null;
  const failures = [
    askedForHandOver ? undefined : describeFailure('previous controller attempt failed', state.lastFailure),
    describeFailure('hand-over to a fresh execution failed', state.handOverFailure),
  ].filter((failure) => failure !== undefined);
  if (Array.isArray(state.pendingErrors)) {
    for (const message of state.pendingErrors.slice(0, MAX_PENDING_ERRORS)) {
      if (typeof message === 'string') failures.push({ full: message, shown: message.slice(0, 500) });
    }
  }
  // Compared whole, before they are cut short: a carried error is often the very failure the Catch reports.
  const shownByFull = new Map(failures.map(({ full, shown }) => [full, shown] as const));
  const previousFailure =
    sayEachOnce(failures.map(({ full }) => full))
      .map((full) => shownByFull.get(full) ?? full)
      .join('; ') || undefined;
  return {
    pollerId,
    pollerNamed,
    executionId,
    loop,
    historyBudget: loop?.historyBudget ?? historyBudget,
    generation,
    previousFailure,
    ...roundPathOf(envelope, state),
    handOverJustFailed: handOverFailed && askedForHandOver,
  };
}

/**
 * What the envelope and the state say about the path to this round (history-budget.ts RoundPath); the shard
 * controller's input (parse-shard-input.ts) reads it the same way.
 */
export function roundPathOf(envelope: Record<string, unknown>, state: Record<string, unknown>): RoundPath {
  // Failed rounds since the previous healthy round happened after its wakeAt, and all within this execution.
  const sinceCandidates = [epochMsOf(state.wakeAt), epochMsOf(envelope.executionStartTime)].filter(
    (ms) => ms !== undefined,
  );
  return {
    previousRoundFailed: state.lastFailure !== undefined && state.lastFailure !== null,
    failuresSinceMs: sinceCandidates.length > 0 ? Math.max(...sinceCandidates) : undefined,
    retryCount: retryCountOf(envelope.retryCount),
    handOverFailed: state.handOverFailure !== undefined && state.handOverFailure !== null,
  };
}

/**
 * Whether this invocation also starts every other running poller without a live loop: only the very first
 * invocation of an execution whose input names no poller (deploy, start the state machine once, steer from the
 * table). Not a later round (its state names the poller and carries the loop), a hand-over (its input does too), a
 * retried attempt or a round after a failure (the first attempt already did it; the watchdog covers the rest).
 */
export function startsOtherPollers(input: ParsedInput): boolean {
  return (
    !input.pollerNamed &&
    input.loop === undefined &&
    input.retryCount === 0 &&
    !input.previousRoundFailed &&
    !input.handOverFailed
  );
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

/**
 * The loop state a previous round handed on (or a hand-over carried, or a shard recorded on a poller's item as
 * `shardLoop`): every field checked and taken from what was checked, so a hand-edited or truncated state stops the
 * loop with the field named instead of misfiring. Throws InvalidControllerInputError naming the field.
 */
export function parseLoopState(pollerId: string, value: unknown): LoopState {
  return parseLoop(pollerId, value);
}

function parseLoop(pollerId: string, value: unknown): LoopState {
  const fail = (detail: string): never => {
    throw new InvalidControllerInputError(pollerId, `loop.${detail}`, value);
  };
  if (!isRecord(value)) throw new InvalidControllerInputError(pollerId, 'loop must be an object', value);
  const count = (key: string): number => {
    const field = value[key];
    return isWholeNumberIn(field, 0, Number.MAX_SAFE_INTEGER)
      ? field
      : fail(`${key} must be a whole number ≥ 0`);
  };
  const nextSeq = count('nextSeq');
  const anchorSeq = count('anchorSeq');
  const claimedThroughSeq = count('claimedThroughSeq');
  const historyEvents = count('historyEvents');
  const skippedTicks = count('skippedTicks');
  const { anchorAt, historyBudget, executionId, generation } = value;
  if (!isWholeNumberIn(anchorAt, 0, Number.MAX_SAFE_INTEGER))
    return fail('anchorAt must be epoch milliseconds');
  if (!isWholeNumberIn(historyBudget, MIN_HISTORY_BUDGET, MAX_HISTORY_BUDGET)) {
    return fail(`historyBudget must be a whole number from ${MIN_HISTORY_BUDGET} to ${MAX_HISTORY_BUDGET}`);
  }
  if (typeof executionId !== 'string') return fail('executionId must be a string');
  if (!isWholeNumberIn(generation, 1, Number.MAX_SAFE_INTEGER))
    return fail('generation must be a whole number ≥ 1');
  const { windowIntervalMs, paused } = value;
  if (
    windowIntervalMs !== undefined &&
    !isWholeNumberIn(windowIntervalMs, INTERVAL_MS_LIMITS.min, INTERVAL_MS_LIMITS.max)
  ) {
    return fail('windowIntervalMs is out of range');
  }
  if (paused !== undefined && typeof paused !== 'boolean') return fail('paused must be a boolean');
  return {
    nextSeq,
    anchorAt,
    anchorSeq,
    claimedThroughSeq,
    generation,
    executionId,
    historyEvents,
    historyBudget,
    skippedTicks,
    config: parseLoopConfig(value.config, fail),
    ...(windowIntervalMs !== undefined ? { windowIntervalMs } : {}),
    ...(paused ? { paused } : {}),
  };
}

/** The last valid configuration the loop carries, in the scheduler's form (`intervalMs`, not `waitseconds`). */
function parseLoopConfig(config: unknown, fail: (detail: string) => never): PollerConfig {
  if (!isRecord(config)) return fail('config must be an object');
  const { running, intervalMs, target, payload } = config;
  if (typeof running !== 'boolean') return fail('config.running must be a boolean');
  if (!isWholeNumberIn(intervalMs, INTERVAL_MS_LIMITS.min, INTERVAL_MS_LIMITS.max))
    return fail('config.intervalMs is out of range');
  if (target !== undefined && typeof target !== 'string') return fail('config.target must be a string');
  if (payload !== undefined && !isRecord(payload)) return fail('config.payload must be an object');
  if (payload !== undefined && Buffer.byteLength(JSON.stringify(payload)) > MAX_PAYLOAD_BYTES) {
    return fail('config.payload is too large');
  }
  const timeZone = config.timeZone === undefined ? undefined : parseTimeZone(config.timeZone);
  if (timeZone instanceof Error) return fail('config.timeZone must be an IANA time zone name');
  const windows = parseLoopWindows(config.windows, fail);
  const { overlap } = config;
  if (overlap !== undefined && overlap !== 'skip') return fail('config.overlap must be "skip" or absent');
  return {
    running,
    intervalMs,
    target,
    payload,
    ...(timeZone !== undefined && timeZone !== DEFAULT_TIME_ZONE ? { timeZone } : {}),
    ...(windows !== undefined ? { windows } : {}),
    ...(overlap !== undefined ? { overlap } : {}),
  };
}

/** The window rules the loop carries, as texts (the item decoder checked them; a hand edit may not have). */
function parseLoopWindows(
  texts: unknown,
  fail: (detail: string) => never,
): readonly WindowRule[] | undefined {
  if (texts === undefined) return undefined;
  if (!Array.isArray(texts) || texts.length > MAX_WINDOW_RULES) {
    return fail(`config.windows must be a list of at most ${MAX_WINDOW_RULES} rule texts`);
  }
  const rules = parseWindowRules(texts);
  if (rules instanceof Error) return fail(`config.${rules.message}`);
  return rules.length === 0 ? undefined : rules;
}

/**
 * The loop state as it leaves the controller for Step Functions (JSON): window rules as the texts the operator
 * wrote, which parseLoop reads back. Absent zone and rules stay absent, so a poller without windows carries none.
 */
export function encodeLoopState(loop: LoopState): LoopStateWire {
  const { windows, ...config } = loop.config;
  return {
    ...loop,
    config: { ...config, ...(windows !== undefined ? { windows: windows.map((rule) => rule.text) } : {}) },
  };
}

/** A failure as reported whole (to tell repeats) and as shown (cut short). */
interface FailureText {
  readonly full: string;
  readonly shown: string;
}

/** Step Functions' Catch output is `{ Error, Cause }`; Cause is often the Lambda's JSON error. */
function describeFailure(prefix: string, failure: unknown): FailureText | undefined {
  if (failure === undefined || failure === null) return undefined;
  if (!isRecord(failure)) {
    return {
      full: `${prefix}: ${renderJson(failure, 5_000)}`,
      shown: `${prefix}: ${renderJson(failure, 300)}`,
    };
  }
  const errorName = typeof failure.Error === 'string' ? failure.Error : 'unknown error';
  let cause = typeof failure.Cause === 'string' ? failure.Cause : '';
  try {
    const parsed: unknown = JSON.parse(cause);
    if (isRecord(parsed) && typeof parsed.errorMessage === 'string') cause = parsed.errorMessage;
  } catch {
    // Cause is plain text already.
  }
  // Some interpreters repeat the error name at the start of the Cause.
  if (cause.startsWith(`${errorName}: `)) cause = cause.slice(errorName.length + 2);
  const text = (shownCause: string) => `${prefix}: ${errorName}${shownCause ? `: ${shownCause}` : ''}`;
  return { full: text(cause), shown: text(cause.slice(0, 300)) };
}
