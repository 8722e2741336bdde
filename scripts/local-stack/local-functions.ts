import { describeCause, SubMinuteError } from '../../functions/shared/errors';
import type { FunctionErrorResult, FunctionRuntime, InvocationType } from './function-runtime';
import { InProcessFunction, type LocalHandler } from './in-process-function';
import { type LatencyModel, type Meter, NO_LATENCY, NO_METER } from './latency-model';

export type { FunctionErrorResult } from './function-runtime';
export { type LocalHandler, type LocalInvocation, preciseNow } from './in-process-function';

import { preciseNow } from './in-process-function';

export interface InvocationStart {
  readonly functionName: string;
  readonly invocationType: InvocationType;
  readonly event: unknown;
  /** Epoch milliseconds with sub-millisecond resolution, taken where the handler runs just before it runs. */
  readonly startedAt: number;
  /** When the Lambda endpoint received the invoke (sub-millisecond): for an async invoke, the moment it was fired. */
  readonly requestedAt: number;
}

/** How an invocation ended, as the Lambda service knows it: the handler's result or its error, and its duration. */
export interface InvocationEnd {
  readonly functionName: string;
  readonly invocationType: InvocationType;
  readonly event: unknown;
  readonly outcome: { readonly result: unknown } | { readonly error: FunctionErrorResult };
  readonly durationMs: number;
}

export class FunctionNotFoundError extends SubMinuteError {
  override readonly name = 'FunctionNotFoundError';
  constructor(readonly functionName: string) {
    super(`Function not found: ${functionName}`);
  }
}

/** Lambda's largest timeout: what an in-process handler registered without one is told it has. */
const MAX_TIMEOUT_MS = 900_000;

/**
 * The functions the local Lambda endpoint serves, by name. Names and ARNs (with or without a qualifier) resolve
 * to the same function, as on AWS. Each function has a runtime (sandbox processes, or this process); around it
 * this adds the latency model, the meter and fault injection, the same for both.
 */
export class LocalFunctions {
  private readonly runtimes = new Map<string, FunctionRuntime>();
  /** Fault injection: the next synchronous invocation of a function is killed this many ms after it starts. */
  private readonly armedKills = new Map<string, number>();
  /** Invocations under way, sync and async, so shutting down can wait for them instead of cutting them off. */
  private readonly pending = new Set<Promise<unknown>>();

  private readonly onInvocationStart: (start: InvocationStart) => void;
  private readonly onInvocationEnd: (end: InvocationEnd) => void;
  private readonly latency: LatencyModel;
  private readonly meter: Meter;

  constructor(
    hooks: {
      onInvocationStart?: (start: InvocationStart) => void;
      onInvocationEnd?: (end: InvocationEnd) => void;
      latency?: LatencyModel;
      meter?: Meter;
    } = {},
  ) {
    this.onInvocationStart = hooks.onInvocationStart ?? (() => {});
    this.onInvocationEnd = hooks.onInvocationEnd ?? (() => {});
    this.latency = hooks.latency ?? NO_LATENCY;
    this.meter = hooks.meter ?? NO_METER;
  }

  /** Serves `name` with a handler run in this process (told it has `timeoutMs`, Lambda's maximum by default). */
  register(name: string, handler: LocalHandler, options: { readonly timeoutMs?: number } = {}): void {
    this.runtimes.set(name, new InProcessFunction(handler, options.timeoutMs ?? MAX_TIMEOUT_MS));
  }

  /** Serves `name` with the given runtime (sandbox processes). */
  registerRuntime(name: string, runtime: FunctionRuntime): void {
    this.runtimes.set(name, runtime);
  }

  /** Kills the next synchronous invocation of `functionName` `afterMs` after its handler starts, as a crash would. */
  armKill(functionName: string, afterMs: number): void {
    this.armedKills.set(functionName, afterMs);
  }

  has(nameOrArn: string): boolean {
    return this.runtimes.has(functionNameOf(nameOrArn));
  }

  /** Runs a function to completion; a thrown error becomes a Lambda function error result, as on AWS. */
  async invoke(
    nameOrArn: string,
    event: unknown,
  ): Promise<{ result: unknown } | { error: FunctionErrorResult }> {
    const runtime = this.lookup(nameOrArn);
    const functionName = functionNameOf(nameOrArn);
    const requestedAt = preciseNow();
    return this.track(
      (async () => {
        await delay(this.latency.taskStartMs(functionName));
        const killAfterMs = this.armedKills.get(functionName);
        this.armedKills.delete(functionName);
        const { outcome, durationMs } = await runtime.run({
          event,
          invocationType: 'RequestResponse',
          ...(killAfterMs !== undefined ? { killAfterMs } : {}),
          onStart: (startedAt) =>
            this.onInvocationStart({
              functionName,
              invocationType: 'RequestResponse',
              event,
              startedAt,
              requestedAt,
            }),
        });
        this.meter.lambdaInvocation(functionName, 'RequestResponse', durationMs);
        this.onInvocationEnd({ functionName, invocationType: 'RequestResponse', event, outcome, durationMs });
        return outcome;
      })(),
    );
  }

  /** Queues an asynchronous (Event) invocation and returns at once, as Lambda's 202 does. */
  invokeAsync(nameOrArn: string, event: unknown, onError: (error: FunctionErrorResult) => void): void {
    const runtime = this.lookup(nameOrArn);
    const functionName = functionNameOf(nameOrArn);
    const requestedAt = preciseNow();
    void this.track(
      (async () => {
        await delay(this.latency.asyncInvokeMs(functionName));
        try {
          const { outcome, durationMs } = await runtime.run({
            event,
            invocationType: 'Event',
            onStart: (startedAt) =>
              this.onInvocationStart({
                functionName,
                invocationType: 'Event',
                event,
                startedAt,
                requestedAt,
              }),
          });
          this.meter.lambdaInvocation(functionName, 'Event', durationMs);
          this.onInvocationEnd({ functionName, invocationType: 'Event', event, outcome, durationMs });
          if ('error' in outcome) onError(outcome.error);
        } catch (error) {
          // The runtime itself failed (a sandbox that could not start): Lambda's service error, not the handler's.
          onError({ errorType: 'ServiceException', errorMessage: describeCause(error) });
        }
      })(),
    );
  }

  /** Every invocation's remaining time ends by `atMs`, so a controller staying awake hands back promptly. */
  endDeadlinesBy(atMs: number): void {
    for (const runtime of this.runtimes.values()) runtime.endDeadlinesBy(atMs);
  }

  /** Waits for every invocation under way (and those they start), so shutting down cuts none of them off. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /**
   * Ends one function now: its invocations under way are killed, as a crash would, so nothing they hold goes out,
   * and it serves no more. The local stack ends its control plane so before it drains the rest.
   */
  async closeFunction(nameOrArn: string): Promise<void> {
    await this.lookup(nameOrArn).close();
  }

  /** Ends every runtime (sandbox processes are killed, their cgroups removed). */
  async close(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((runtime) => runtime.close()));
  }

  private track<T>(invocation: Promise<T>): Promise<T> {
    this.pending.add(invocation);
    void invocation.finally(() => this.pending.delete(invocation)).catch(() => {});
    return invocation;
  }

  private lookup(nameOrArn: string): FunctionRuntime {
    const runtime = this.runtimes.get(functionNameOf(nameOrArn));
    if (!runtime) throw new FunctionNotFoundError(nameOrArn);
    return runtime;
  }
}

const delay = (ms: number) =>
  ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();

/** `arn:aws:lambda:region:acct:function:name[:qualifier]` or `name[:qualifier]` → `name`. */
export function functionNameOf(nameOrArn: string): string {
  const parts = nameOrArn.split(':');
  if (parts[0] === 'arn') return parts[6] ?? nameOrArn;
  return parts[0] ?? nameOrArn;
}
