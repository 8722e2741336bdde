import { isRecord } from '../../../functions/shared/decode';
import { SubMinuteError } from '../../../functions/shared/errors';

/**
 * The messages between the local stack and a sandbox process (Node IPC, JSON serialization). The runtime shim in
 * the sandbox and the parent both parse what they receive: a malformed message is a bug named here, not a cast.
 */

/** Parent → sandbox: run one invocation. `deadlineMs` (epoch ms) is what `getRemainingTimeInMillis` counts to. */
export interface InvokeMessage {
  readonly type: 'invoke';
  readonly requestId: string;
  readonly event: unknown;
  readonly deadlineMs: number;
  /** The ARN the caller invoked (Lambda passes it per invocation, not in the environment). */
  readonly invokedFunctionArn: string;
}

/** Parent → sandbox: the invocation's remaining time now ends earlier (the local stack is stopping). */
export interface DeadlineMessage {
  readonly type: 'deadline';
  readonly requestId: string;
  readonly deadlineMs: number;
}

export type ParentMessage = InvokeMessage | DeadlineMessage;

/** An error as Lambda reports it to the invoker (the `Unhandled` function error payload). */
export interface FunctionErrorResult {
  readonly errorType: string;
  readonly errorMessage: string;
}

/**
 * Sandbox → parent. `ready` ends the init phase (the bundle is loaded); `started` carries the sandbox's own clock
 * when the handler was called (epoch ms, sub-millisecond); `result`/`error` end the invocation with the handler's
 * duration measured in the sandbox.
 */
export type SandboxMessage =
  | { readonly type: 'ready'; readonly initDurationMs: number }
  | ({ readonly type: 'init-error' } & FunctionErrorResult)
  | { readonly type: 'started'; readonly requestId: string; readonly startedAt: number }
  | {
      readonly type: 'result';
      readonly requestId: string;
      readonly result: unknown;
      readonly durationMs: number;
    }
  | ({
      readonly type: 'error';
      readonly requestId: string;
      readonly durationMs: number;
    } & FunctionErrorResult);

export class SandboxProtocolError extends SubMinuteError {
  override readonly name = 'SandboxProtocolError';
  constructor(
    readonly direction: 'to sandbox' | 'from sandbox',
    detail: string,
    override readonly value: unknown,
  ) {
    super(`malformed message ${direction}: ${detail}; got ${safeJson(value)}`);
  }
}

type Fields = Record<string, unknown>;

function field<T>(
  message: Fields,
  name: string,
  check: (value: unknown) => value is T,
  fail: (detail: string) => never,
): T {
  const value = message[name];
  if (!check(value)) fail(`${name} is missing or has the wrong type`);
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

export function parseParentMessage(value: unknown): ParentMessage {
  const fail = (detail: string): never => {
    throw new SandboxProtocolError('to sandbox', detail, value);
  };
  if (!isRecord(value)) return fail('expected an object');
  const requestId = field(value, 'requestId', isString, fail);
  const deadlineMs = field(value, 'deadlineMs', isFiniteNumber, fail);
  switch (value.type) {
    case 'invoke':
      return {
        type: 'invoke',
        requestId,
        deadlineMs,
        event: value.event ?? null,
        invokedFunctionArn: field(value, 'invokedFunctionArn', isString, fail),
      };
    case 'deadline':
      return { type: 'deadline', requestId, deadlineMs };
    default:
      return fail('unknown type');
  }
}

export function parseSandboxMessage(value: unknown): SandboxMessage {
  const fail = (detail: string): never => {
    throw new SandboxProtocolError('from sandbox', detail, value);
  };
  if (!isRecord(value)) return fail('expected an object');
  const errorFields = () => ({
    errorType: field(value, 'errorType', isString, fail),
    errorMessage: field(value, 'errorMessage', isString, fail),
  });
  switch (value.type) {
    case 'ready':
      return { type: 'ready', initDurationMs: field(value, 'initDurationMs', isFiniteNumber, fail) };
    case 'init-error':
      return { type: 'init-error', ...errorFields() };
    case 'started':
      return {
        type: 'started',
        requestId: field(value, 'requestId', isString, fail),
        startedAt: field(value, 'startedAt', isFiniteNumber, fail),
      };
    case 'result':
      return {
        type: 'result',
        requestId: field(value, 'requestId', isString, fail),
        result: value.result ?? null,
        durationMs: field(value, 'durationMs', isFiniteNumber, fail),
      };
    case 'error':
      return {
        type: 'error',
        requestId: field(value, 'requestId', isString, fail),
        durationMs: field(value, 'durationMs', isFiniteNumber, fail),
        ...errorFields(),
      };
    default:
      return fail('unknown type');
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 200) ?? String(value);
  } catch {
    return String(value);
  }
}
