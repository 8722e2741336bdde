import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RunOutcome } from '../../../../scripts/local-stack/function-runtime';
import type { SandboxLogLine } from '../../../../scripts/local-stack/lambda-sandbox/sandbox';
import { SandboxHost } from '../../../../scripts/local-stack/lambda-sandbox/sandbox-host';
import { bundleOnce } from '../../../../scripts/local-stack/lambda-sandbox/sandbox-workspace';
import type { SandboxedFunction } from '../../../../scripts/local-stack/lambda-sandbox/sandboxed-function';

/** The probe handler's entry: bundled like the stack's functions (infra/bundle-function.ts). */
export const PROBE_ENTRY = fileURLToPath(new URL('../fixtures/probe-handler.ts', import.meta.url));

/** Endpoints nothing listens on: the probe never calls AWS, only reports what it was given. */
export const UNUSED_ENDPOINTS = {
  dynamoDb: 'http://127.0.0.1:9',
  lambda: 'http://127.0.0.1:9',
  stepFunctions: 'http://127.0.0.1:9',
} as const;

export interface Probe {
  readonly host: SandboxHost;
  readonly fn: SandboxedFunction;
  readonly logLines: SandboxLogLine[];
  /** Runs one invocation and returns its outcome and the sandbox's start time. */
  invoke(event: unknown, killAfterMs?: number): Promise<RunOutcome & { startedAt: number | undefined }>;
  close(): Promise<void>;
}

export async function openProbe(
  options: {
    readonly memoryMb?: number;
    readonly timeoutMs?: number;
    readonly cgroupRoot?: string;
    readonly code?: string;
    readonly variables?: Record<string, string>;
  } = {},
): Promise<Probe> {
  const logLines: SandboxLogLine[] = [];
  const host = await SandboxHost.open({
    region: 'eu-west-1',
    endpoints: UNUSED_ENDPOINTS,
    ...(options.cgroupRoot !== undefined ? { cgroupRoot: options.cgroupRoot } : {}),
    onLogLine: (line) => logLines.push(line),
  });
  const fn = host.addFunction({
    name: 'probe',
    arn: 'arn:aws:lambda:eu-west-1:000000000000:function:probe',
    code: options.code ?? bundleOnce(PROBE_ENTRY),
    memoryMb: options.memoryMb ?? 128,
    timeoutMs: options.timeoutMs ?? 10_000,
    variables: options.variables ?? {},
  });
  return {
    host,
    fn,
    logLines,
    async invoke(event, killAfterMs) {
      let startedAt: number | undefined;
      const outcome = await fn.run({
        event,
        invocationType: 'RequestResponse',
        ...(killAfterMs !== undefined ? { killAfterMs } : {}),
        onStart: (at) => {
          startedAt = at;
        },
      });
      return { ...outcome, startedAt };
    },
    close: () => host.close(),
  };
}

/** The result of a successful invocation, or a failure that names the error. */
export function resultOf(outcome: RunOutcome): Record<string, unknown> {
  if ('error' in outcome.outcome) {
    throw new Error(
      `expected a result; got ${outcome.outcome.error.errorType}: ${outcome.outcome.error.errorMessage}`,
    );
  }
  return outcome.outcome.result as Record<string, unknown>;
}

/** The error of a failed invocation. */
export function errorOf(outcome: RunOutcome): { errorType: string; errorMessage: string } {
  if (!('error' in outcome.outcome))
    throw new Error(`expected an error; got ${JSON.stringify(outcome.outcome)}`);
  return outcome.outcome.error;
}

/** The process state letter from /proc (R running, S sleeping, T stopped). */
export function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name is in parentheses and may contain spaces; the state follows the closing one.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
