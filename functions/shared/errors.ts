import { FIELD, SIGNAL } from './contract';

/**
 * The project's one error module. Every error extends SubMinuteError, whose `name` is stable: Step Functions
 * Retry/Catch (infra/state-machine/poller-definition.ts), the CLI and the tests match on it. Messages carry the
 * poller id and the offending value so the operator reading `lastError` (or a FAILED seed) knows what to fix.
 */
export interface ErrorDetails {
  /** The poller the error is about, when there is one. */
  readonly pollerId?: string | undefined;
  /** The value that was refused, as found (or rendered for a message), when there is one. */
  readonly value?: unknown;
  readonly cause?: unknown;
}

export abstract class SubMinuteError extends Error {
  abstract override readonly name: string;
  readonly pollerId: string | undefined;
  readonly value: unknown;

  constructor(message: string, details: ErrorDetails = {}) {
    // No `cause` key unless one was given: `{ cause: undefined }` would still set the property.
    super(message, 'cause' in details ? { cause: details.cause } : undefined);
    this.pollerId = details.pollerId;
    this.value = details.value;
  }
}

/** An error about one poller: its message starts with the poller's id. */
export abstract class PollerError extends SubMinuteError {
  declare readonly pollerId: string;

  constructor(pollerId: string, message: string, details: Omit<ErrorDetails, 'pollerId'> = {}) {
    super(`poller '${pollerId}': ${message}`, { ...details, pollerId });
  }
}

/** A field of the control item has a value the controller cannot use. */
export class InvalidControlItemError extends PollerError {
  override readonly name = 'InvalidControlItemError';
  declare readonly value: string;
  readonly field: string;
  /** What is wrong, without the poller and the value (`<subject> <expected>`), for a caller's own message. */
  readonly problem: string;

  /**
   * @param subject what the message names before `expected`: the field, or a part of it (a window rule, written
   *   as `windows[1] "Mon 06:00-20:00 every 0"`:)
   */
  constructor(pollerId: string, field: string, value: string, expected: string, subject: string = field) {
    super(pollerId, `${subject} ${expected}; got ${value}`, { value });
    this.field = field;
    this.problem = `${subject} ${expected}`;
  }
}

/** Ends the loop: not a failure, a signal the state machine's Catch routes to its Stopped state. */
export class PollerStoppedSignal extends SubMinuteError {
  override readonly name = SIGNAL.stopped;
  declare readonly pollerId: string;

  constructor(
    pollerId: string,
    readonly reason: string,
  ) {
    // The message is the reason alone, so the execution output reads as one.
    super(reason, { pollerId });
  }
}

/** Asks the state machine to continue the loop in a fresh execution (history budget spent); nothing was fired. */
export class HandOverRequestedSignal extends SubMinuteError {
  override readonly name = SIGNAL.handOver;
  declare readonly pollerId: string;

  constructor(pollerId: string, historyEvents: number, historyBudget: number) {
    super(
      `history budget spent (${historyEvents} of ${historyBudget} events): continuing in a fresh execution`,
      { pollerId, value: historyEvents },
    );
  }
}

/** The controller was invoked with an input it cannot interpret (not from our state machine, or hand-edited). */
export class InvalidControllerInputError extends PollerError {
  override readonly name = 'InvalidControllerInputError';
  declare readonly value: string;

  constructor(pollerId: string, detail: string, value: unknown) {
    const rendered = renderJson(value);
    super(pollerId, `invalid controller input: ${detail}; got ${rendered}`, { value: rendered });
  }
}

/** Reading the control table failed; nothing was fired, so the state machine may safely retry. */
export class ControlTableUnavailableError extends PollerError {
  override readonly name = 'ControlTableUnavailableError';

  constructor(pollerId: string, tableName: string, cause: unknown) {
    super(pollerId, `cannot read control table '${tableName}': ${describeCause(cause)}`, { cause });
  }
}

/**
 * A fleet shard item (`~shard/s0`) holds a value no shard writes (a hand edit). The operator deletes the shard
 * item; the next shard execution takes the lease afresh.
 */
export class InvalidShardItemError extends PollerError {
  override readonly name = 'InvalidShardItemError';
  readonly field: string;

  /** `value` as the console shows it (control-item.ts describeAttribute). */
  constructor(shardKey: string, field: string, value: string, expected: string) {
    super(shardKey, `shard item field ${field} ${expected}; got ${value}`, { value });
    this.field = field;
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

/**
 * Lambda answered an async invoke with a status other than 202 (accepted): the tick was not queued. Always the
 * cause of a WorkerInvokeError, whose message names the poller already.
 */
export class UnexpectedInvokeStatusError extends SubMinuteError {
  override readonly name = 'UnexpectedInvokeStatusError';

  constructor(pollerId: string, status: number | undefined) {
    super(`unexpected status ${status} for an async invoke`, { pollerId, value: status });
  }
}

/** A number of seconds outside WAIT_SECONDS_LIMITS, or no number at all (functions/shared/wait-interval.ts). */
export class InvalidIntervalError extends SubMinuteError {
  override readonly name = 'InvalidIntervalError';
  /** What is allowed, e.g. `a number of seconds from 0.1 to 3600, decimals allowed`. */
  readonly expected: string;

  constructor(value: unknown, limits: { readonly min: number; readonly max: number }) {
    const expected = `a number of seconds from ${limits.min} to ${limits.max}, decimals allowed`;
    super(`${FIELD.waitSeconds} must be ${expected}; got ${renderJson(value, 60)}`, { value });
    this.expected = expected;
  }
}

/** Thrown at cold start when the stack did not set an environment variable the function needs. */
export class MissingEnvironmentError extends SubMinuteError {
  override readonly name = 'MissingEnvironmentError';

  constructor(variable: string) {
    super(
      `environment variable ${variable} is not set; the function was deployed without its stack configuration`,
      { value: variable },
    );
  }
}

/** Thrown at cold start when an environment variable the stack sets holds a value the function cannot use. */
export class InvalidEnvironmentError extends SubMinuteError {
  override readonly name = 'InvalidEnvironmentError';
  declare readonly value: string;

  constructor(variable: string, value: string, expected: string) {
    super(`environment variable ${variable} ${expected}; got ${renderJson(value)}`, { value });
  }
}

/** Thrown when Step Functions refused the start for a reason a retry may fix (throttling, service errors). */
export class LoopStartError extends PollerError {
  override readonly name = 'LoopStartError';

  constructor(pollerId: string, cause: unknown) {
    super(pollerId, `starting its loop failed: ${describeCause(cause)}`, { cause });
  }
}

/** The worker was invoked with an event that is not a tick (not from the controller). */
export class InvalidWorkerEventError extends SubMinuteError {
  override readonly name = 'InvalidWorkerEventError';

  constructor(detail: string, value: unknown, pollerId?: string) {
    super(`invalid worker event: ${detail}; got ${renderJson(value)}`, { pollerId, value });
  }
}

/**
 * A worker's work for a tick failed, with a short reason for the operator (`HTTP 404`, `ECONNREFUSED …`). The
 * worker kit records it and rethrows it, so Lambda counts the invocation as failed and its on-failure destination
 * (the failed-ticks queue) gets the tick.
 */
export class TickFailedError extends PollerError {
  override readonly name = 'TickFailedError';
  readonly seq: number;
  readonly detail: string;
  /** Searchable context for the tick's metric line (status, latency…). */
  readonly properties: Readonly<Record<string, string | number | boolean>>;

  constructor(
    pollerId: string,
    seq: number,
    detail: string,
    details: { cause?: unknown; properties?: Readonly<Record<string, string | number | boolean>> } = {},
  ) {
    super(pollerId, `tick ${seq} failed: ${detail}`, {
      value: detail,
      ...('cause' in details ? { cause: details.cause } : {}),
    });
    this.seq = seq;
    this.detail = detail;
    this.properties = details.properties ?? {};
  }
}

/** A worker kit setting (an environment variable) has a value it cannot use. */
export class InvalidWorkerSettingError extends SubMinuteError {
  override readonly name = 'InvalidWorkerSettingError';

  constructor(variable: string, value: string, expected: string) {
    super(`${variable} ${expected}; got ${renderJson(value)}`, { value });
  }
}

/** The control-plane function received a custom resource request it cannot answer (no one to answer to). */
export class InvalidSeedEventError extends SubMinuteError {
  override readonly name = 'InvalidSeedEventError';

  constructor(detail: string, value: unknown) {
    super(`${detail}; got ${renderJson(value, 60)}`, { value });
  }
}

/** A property of the seed resource (a stack parameter, usually) has a value the seeder cannot write. */
export class InvalidSeedPropertyError extends SubMinuteError {
  override readonly name = 'InvalidSeedPropertyError';
  declare readonly value: string;
  /** The property's name (functions/seeder/seed-properties.ts SEED_PROPERTY). */
  readonly field: string;
  /** What the property must be (`must be …`), so a caller can say it in its own terms (the CDK construct). */
  readonly expected: string;

  constructor(field: string, value: unknown, expected: string, pollerId?: string) {
    const rendered = value === undefined ? 'nothing (the property is missing)' : renderJson(value, 60);
    super(`seed property ${field} ${expected}; got ${rendered}`, { pollerId, value: rendered });
    this.field = field;
    this.expected = expected;
  }
}

/** The seed could not write the control item; the custom resource answers FAILED with this message. */
export class ControlItemWriteError extends SubMinuteError {
  override readonly name = 'ControlItemWriteError';

  constructor(pollerId: string, tableName: string, cause: unknown) {
    super(`writing control item '${pollerId}' to table '${tableName}' failed: ${describeCause(cause)}`, {
      pollerId,
      cause,
    });
  }
}

/** CloudFormation's pre-signed response URL refused the answer, or did not take it in time. */
export class ResponseNotDeliveredError extends SubMinuteError {
  override readonly name = 'ResponseNotDeliveredError';
}

/**
 * `Name: message` of an SDK, network or own error, for logs, `lastError` and CLI lines. AggregateErrors (several
 * addresses tried) are flattened to their first error; a plain Error shows its `code` (ECONNREFUSED) as its name.
 */
export function describeCause(cause: unknown): string {
  if (cause instanceof AggregateError && cause.errors.length > 0 && cause.message === '') {
    return describeCause(cause.errors[0]);
  }
  if (!(cause instanceof Error)) return String(cause);
  const code: unknown = 'code' in cause ? cause.code : undefined;
  const name = cause.name !== 'Error' ? cause.name : typeof code === 'string' ? code : undefined;
  const message = cause.message || (typeof code === 'string' ? code : 'unknown error');
  return name && !message.includes(name) ? `${name}: ${message}` : message;
}

/**
 * Problems as one `lastError` message (`; ` between them), each said once: a repeat, or a message another one
 * wraps as its cause (`previous controller attempt failed: X` wraps `X`), is dropped. The same failure reaches a
 * round by two ways (the Catch output of the attempt that failed, and the errors an earlier round could not
 * record), and would otherwise be said twice; a different message that merely shares words is kept.
 */
export function joinProblems(messages: readonly string[]): string {
  return sayEachOnce(messages).join('; ');
}

/** The messages in their order, without empty ones, repeats, and those another message wraps as its cause. */
export function sayEachOnce(messages: readonly string[]): string[] {
  return messages.filter(
    (message, index) =>
      message !== '' &&
      messages.every((other, otherIndex) =>
        other === message ? otherIndex >= index : !wrapsAsCause(other, message),
      ),
  );
}

/** `outer` ends with `inner` as its cause: `…: inner`, or `…: inner (…)` when the cause was cut short. */
function wrapsAsCause(outer: string, inner: string): boolean {
  return outer.endsWith(`: ${inner}`) || outer.includes(`: ${inner}; `);
}

/** A window rule the parser refused: names the rule (its index and text), the part and the value. */
export class InvalidWindowRuleError extends SubMinuteError {
  override readonly name = 'InvalidWindowRuleError';
  readonly ruleIndex: number | undefined;
  readonly part: string;
  /** Which rule, as the message names it: `windows[1] "Mon 06:00-20:00 every 0"` (or `windows` for the list). */
  readonly where: string;
  /** What the part must be, e.g. `must be HH:MM-HH:MM, e.g. 06:00-20:00`. */
  readonly expected: string;
  /** The offending part as found (JSON), when it is narrower than the whole rule. */
  readonly found: string | undefined;

  constructor(
    ruleIndex: number | undefined,
    rule: unknown,
    part: string,
    expected: string,
    pollerId?: string,
    found?: string,
  ) {
    const where = ruleIndex === undefined ? 'windows' : `windows[${ruleIndex}] ${renderJson(rule, 80)}`;
    super(`${where}: ${part} ${expected}${found === undefined ? '' : `; got ${found}`}`, {
      pollerId,
      value: rule,
    });
    this.ruleIndex = ruleIndex;
    this.part = part;
    this.where = where;
    this.expected = expected;
    this.found = found;
  }
}

/** A time zone name the platform's tz data does not know. */
export class InvalidTimeZoneError extends SubMinuteError {
  override readonly name = 'InvalidTimeZoneError';

  constructor(value: unknown, pollerId?: string) {
    super(`timezone must be an IANA time zone name such as Europe/Berlin; got ${renderJson(value, 60)}`, {
      pollerId,
      value,
    });
  }
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
