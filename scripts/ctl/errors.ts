import { describeCause, SubMinuteError } from '../../functions/shared/errors';

/**
 * The CLI's errors. Each becomes exactly one line on stderr (`ctl: <message>`) and an exit code: 2 for a command
 * line the CLI refused before touching anything, 1 for everything else.
 */
export class CtlError extends SubMinuteError {
  override readonly name: string = 'CtlError';
  readonly exitCode: number = 1;
}

/** The command line is wrong; nothing was called. */
export class UsageError extends CtlError {
  override readonly name = 'UsageError';
  override readonly exitCode = 2;
}

/** The poller has no control item in the table. */
export class ControlItemMissingError extends CtlError {
  override readonly name = 'ControlItemMissingError';

  constructor(
    override readonly pollerId: string,
    readonly tableName: string,
    howToCreate = `create it with \`ctl create ${pollerId} --every S\``,
  ) {
    super(`no control item for poller '${pollerId}' in table ${tableName}; ${howToCreate}`);
  }
}

/**
 * `ctl trigger` fired nothing it can vouch for: `refused` (Lambda answered the invoke with an error status: nothing
 * fired, the same `--id` may be tried again), `unknown` (the invoke ended without Lambda's answer: it may have
 * fired), `gave-up` (other requests kept taking the item first: nothing recorded, nothing fired).
 */
export class TriggerNotFiredError extends CtlError {
  override readonly name = 'TriggerNotFiredError';

  constructor(
    pollerId: string,
    readonly requestId: string,
    readonly outcome: 'refused' | 'unknown' | 'gave-up',
    message: string,
    cause?: unknown,
  ) {
    super(`poller '${pollerId}': trigger ${requestId} ${message}`, {
      pollerId,
      value: requestId,
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

/** An AWS call failed: says what the CLI was doing, the AWS error name and message, and a hint when there is one. */
export class AwsCallError extends CtlError {
  override readonly name = 'AwsCallError';

  constructor(action: string, cause: unknown, hint?: string) {
    const extra = isConnectionRefused(cause) ? hint : setupHint(cause);
    super(`${action} failed: ${describeCause(cause)}${extra ? ` (${extra})` : ''}`, { cause });
  }
}

/** What to do about the usual set-up mistakes on AWS. */
function setupHint(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error.name === 'CredentialsProviderError')
    return 'configure AWS credentials: AWS_PROFILE, `aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY';
  if (/^Region is missing/.test(error.message)) return 'give --region R or set AWS_REGION';
  return undefined;
}

export function isConnectionRefused(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth += 1) {
    const code: unknown = 'code' in current ? current.code : undefined;
    if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(current.message)) return true;
    if (current instanceof AggregateError && current.errors.some(isConnectionRefused)) return true;
    current = current.cause;
  }
  return false;
}

/** The one stderr line for any error; no stack traces, no line breaks. */
export function errorLine(error: unknown): string {
  const message = error instanceof CtlError ? error.message : describeCause(error);
  return `ctl: ${message.replace(/\s*\n\s*/g, ' ').trim()}`;
}

export function exitCodeFor(error: unknown): number {
  return error instanceof CtlError ? error.exitCode : 1;
}
