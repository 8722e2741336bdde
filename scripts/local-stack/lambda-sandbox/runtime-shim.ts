/**
 * The runtime inside a sandbox process: what Lambda's Node.js runtime does for the handler, reduced to what the
 * local stack needs. It loads the function's bundle (`$LAMBDA_TASK_ROOT/index.js`, exactly the code the template
 * inlines) in the init phase, then runs one invocation at a time as the parent asks over IPC, and answers with the
 * result or `{errorType, errorMessage}`. Bundled to CommonJS (infra/bundle-function.ts) and run by plain `node`.
 *
 * Everything the handler sees comes from the environment the parent built (scripts/local-stack/lambda-sandbox/
 * lambda-environment.ts), as on Lambda: region, credentials, endpoints, the function's own variables.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  type FunctionErrorResult,
  type InvokeMessage,
  parseParentMessage,
  type SandboxMessage,
} from './protocol';

/** The part of the Lambda context our handlers and the tests use, with the names and types Lambda gives them. */
interface LambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  /** A string on Lambda's Node.js runtime. */
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

type Handler = (event: unknown, context: LambdaContext) => unknown;

/** Lambda's exit code after an uncaught error (the runtime exits; the next invocation gets a new sandbox). */
const UNCAUGHT_ERROR_EXIT_CODE = 129;

const preciseNow = () => performance.timeOrigin + performance.now();

function send(message: SandboxMessage, then?: () => void): void {
  process.send?.(message, undefined, {}, then);
}

function errorResult(error: unknown, fallbackType = 'Error'): FunctionErrorResult {
  if (error instanceof Error) return { errorType: error.name || fallbackType, errorMessage: error.message };
  return { errorType: fallbackType, errorMessage: String(error) };
}

function loadHandler(): Handler | FunctionErrorResult {
  const taskRoot = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
  const [moduleName = 'index', exportName = 'handler'] = (process.env._HANDLER ?? 'index.handler').split('.');
  let loaded: Record<string, unknown>;
  try {
    loaded = createRequire(__filename)(join(taskRoot, moduleName));
  } catch (error) {
    const notFound = error instanceof Error && (error as { code?: unknown }).code === 'MODULE_NOT_FOUND';
    return notFound
      ? { errorType: 'Runtime.ImportModuleError', errorMessage: `Error: ${error.message}` }
      : errorResult(error);
  }
  const handler = loaded[exportName];
  if (typeof handler !== 'function') {
    return {
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: `${moduleName}.${exportName} is undefined or not exported`,
    };
  }
  return handler as Handler;
}

/** The invocation under way: its deadline can move earlier while it runs. */
let current: { readonly requestId: string; deadlineMs: number } | undefined;

async function invoke(handler: Handler, message: InvokeMessage): Promise<void> {
  const invocation = { requestId: message.requestId, deadlineMs: message.deadlineMs };
  current = invocation;
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? '';
  const context: LambdaContext = {
    functionName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: message.invokedFunctionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '',
    awsRequestId: message.requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME ?? '',
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? '',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, invocation.deadlineMs - Date.now()),
  };
  const startedAt = preciseNow();
  let pending: Promise<unknown>;
  try {
    pending = Promise.resolve(handler(message.event, context));
  } catch (error) {
    pending = Promise.reject(error);
  }
  // Sent once the handler's synchronous part has run, so the message costs the handler no time (CPU is scarce).
  send({ type: 'started', requestId: message.requestId, startedAt });
  try {
    const result = await pending;
    const durationMs = preciseNow() - startedAt;
    let serializable: unknown;
    try {
      // Lambda returns the result as JSON: what cannot be serialized is an error, not a silent loss.
      serializable = JSON.parse(JSON.stringify(result ?? null));
    } catch (error) {
      send({ type: 'error', requestId: message.requestId, durationMs, ...errorResult(error) });
      return;
    }
    send({ type: 'result', requestId: message.requestId, result: serializable, durationMs });
  } catch (error) {
    const durationMs = preciseNow() - startedAt;
    send({ type: 'error', requestId: message.requestId, durationMs, ...errorResult(error) });
  } finally {
    if (current === invocation) current = undefined;
  }
}

/** An error no invocation caught: report it for the invocation under way (if any) and end the sandbox. */
function failSandbox(error: FunctionErrorResult): void {
  const exit = () => process.exit(UNCAUGHT_ERROR_EXIT_CODE);
  if (!current) {
    exit();
    return;
  }
  send({ type: 'error', requestId: current.requestId, durationMs: 0, ...error }, exit);
}

function main(): void {
  // Ctrl-C and a terminal's SIGTERM reach the whole process group: a sandbox ends when the local stack ends it
  // (SIGKILL) or when the local stack is gone (the IPC channel closes), never on the operator's keystroke.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('disconnect', () => process.exit(0));
  process.on('uncaughtException', (error) => failSandbox(errorResult(error)));
  process.on('unhandledRejection', (reason) =>
    failSandbox({
      errorType: 'Runtime.UnhandledPromiseRejection',
      errorMessage: reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason),
    }),
  );

  const initStartedAt = preciseNow();
  const loaded = loadHandler();
  if (typeof loaded !== 'function') {
    // Lambda discards a sandbox whose init failed; the next invocation starts a new one.
    send({ type: 'init-error', ...loaded }, () => process.exit(1));
    return;
  }
  const handler = loaded;
  process.on('message', (raw) => {
    const message = parseParentMessage(raw);
    if (message.type === 'deadline') {
      if (current?.requestId === message.requestId) current.deadlineMs = message.deadlineMs;
      return;
    }
    void invoke(handler, message);
  });
  send({ type: 'ready', initDurationMs: preciseNow() - initStartedAt });
}

main();
