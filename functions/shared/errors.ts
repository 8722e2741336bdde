import { SIGNAL } from './contract';

/**
 * Typed errors. `name` is stable: Step Functions Retry/Catch and the tests match on it. Messages carry the
 * poller id and the offending value so the operator reading `lastError` knows what to fix.
 */
export abstract class PollerError extends Error {
  abstract override readonly name: string;
  readonly pollerId: string;

  protected constructor(pollerId: string, message: string, options?: { cause?: unknown }) {
    super(`poller '${pollerId}': ${message}`, options);
    this.pollerId = pollerId;
  }
}

/** A field of the control item has a value the controller cannot use. */
export class InvalidControlItemError extends PollerError {
  override readonly name = 'InvalidControlItemError';
  readonly field: string;
  readonly value: string;

  constructor(pollerId: string, field: string, value: string, expected: string) {
    super(pollerId, `${field} ${expected}; got ${value}`);
    this.field = field;
    this.value = value;
  }
}

/** Ends the loop: not a failure, a signal the state machine's Catch routes to its Stopped state. */
export class PollerStoppedSignal extends Error {
  override readonly name = SIGNAL.stopped;
  constructor(
    readonly pollerId: string,
    readonly reason: string,
  ) {
    // The message is the reason alone, so the execution output reads as one.
    super(reason);
  }
}

/** Asks the state machine to continue the loop in a fresh execution (history budget spent); nothing was fired. */
export class HandOverRequestedSignal extends Error {
  override readonly name = SIGNAL.handOver;
  constructor(
    readonly pollerId: string,
    historyEvents: number,
    historyBudget: number,
  ) {
    super(
      `history budget spent (${historyEvents} of ${historyBudget} events): continuing in a fresh execution`,
    );
  }
}

/** The controller was invoked with an input it cannot interpret (not from our state machine, or hand-edited). */
export class InvalidControllerInputError extends PollerError {
  override readonly name = 'InvalidControllerInputError';
  readonly value: string;

  constructor(pollerId: string, detail: string, value: unknown) {
    const rendered = renderJson(value);
    super(pollerId, `invalid controller input: ${detail}; got ${rendered}`);
    this.value = rendered;
  }
}

/** Reading the control table failed; nothing was fired, so the state machine may safely retry. */
export class ControlTableUnavailableError extends PollerError {
  override readonly name = 'ControlTableUnavailableError';

  constructor(pollerId: string, tableName: string, cause: unknown) {
    super(pollerId, `cannot read control table '${tableName}': ${describeCause(cause)}`, { cause });
  }
}

/** The async invoke of the worker was refused (throttled, missing function, access denied, payload too large). */
export class WorkerInvokeError extends PollerError {
  override readonly name = 'WorkerInvokeError';
  readonly target: string;
  readonly seq: number;

  constructor(pollerId: string, target: string, seq: number, cause: unknown) {
    super(pollerId, `firing tick ${seq} at '${target}' failed: ${describeCause(cause)}`, { cause });
    this.target = target;
    this.seq = seq;
  }
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error)
    return cause.name && cause.name !== 'Error' ? `${cause.name}: ${cause.message}` : cause.message;
  return String(cause);
}

/** JSON for messages, cut short so a huge bad value cannot blow up an item or a log line. */
export function renderJson(value: unknown, maxLength = 120): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}
