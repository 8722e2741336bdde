import { randomUUID } from 'node:crypto';
import { LOCAL_REGION } from '../../functions/shared/aws-clients';
import type { Clock } from '../../functions/shared/clock';
import { describeCause, SubMinuteError } from '../../functions/shared/errors';
import { type AsyncFailureRecord, asyncFailureRecord } from './failure-records';
import type { FunctionErrorResult, FunctionRuntime, InvocationType } from './function-runtime';
import { InProcessFunction, type LocalHandler } from './in-process-function';
import { type LatencyModel, type Meter, NO_LATENCY, NO_METER } from './latency-model';
import { localFunctionArn } from './local-endpoints';

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

/** What Lambda does with a function's failed asynchronous invocations (its EventInvokeConfig). */
export interface AsyncInvokeConfig {
  /** Attempts after the first (Lambda: 0 to 2). */
  readonly retryAttempts: number;
  /** An event older than this is not tried again (Lambda: 60 s to 6 h). */
  readonly maxEventAgeMs: number;
  /** The on-failure destination: gets the invocation record once the event is given up. */
  readonly onFailure?: (record: AsyncFailureRecord) => void;
}

/** Lambda's defaults for a function without an EventInvokeConfig: two retries, six hours, no destination. */
const DEFAULT_ASYNC_INVOKE: AsyncInvokeConfig = { retryAttempts: 2, maxEventAgeMs: 6 * 3_600_000 };

/** Real time, whose pauses keep nothing alive by themselves (a test's process, a stack being closed). */
const RETRY_CLOCK: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
};

/**
 * Lambda's documented pauses before the retries of an asynchronous invocation whose function returned an error:
 * 1 min, then 2 min (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
 */
export const LAMBDA_ASYNC_RETRY_DELAY_MS = (retry: number) => (retry === 1 ? 60_000 : 120_000);

/**
 * Lambda's pauses before trying again an asynchronous invocation that could not run (throttled, 429, or a system
 * error, 500-series): from 1 s after the first attempt, growing exponentially to at most 5 min, for as long as the
 * event is younger than its maximum age; these attempts do not count against the retry attempts (same page).
 */
export const LAMBDA_ASYNC_SYSTEM_RETRY_DELAY_MS = (retry: number) =>
  Math.min(1_000 * 2 ** (retry - 1), 300_000);

/** How one attempt of an asynchronous invocation ended, when it did not succeed. */
type AsyncAttemptFailure =
  /** The function ran and returned an error (its code, or its runtime: a timeout, a crash). */
  | { readonly kind: 'function'; readonly error: FunctionErrorResult }
  /** The function could not be run (a sandbox that could not start): Lambda's system error, not the function's. */
  | { readonly kind: 'system'; readonly error: FunctionErrorResult };

/**
 * The functions the local Lambda endpoint serves, by name. Names and ARNs (with or without a qualifier) resolve
 * to the same function, as on AWS. Each function has a runtime (sandbox processes, or this process); around it
 * this adds the latency model, the meter and fault injection, the same for both.
 */
export class LocalFunctions {
  private readonly runtimes = new Map<string, FunctionRuntime>();
  /** Fault injection: the next synchronous invocation of a function is killed this many ms after it starts. */
  private readonly armedKills = new Map<string, number>();
  /** Fault injection: async invocations killed while armed, by function, with the events they apply to. */
  private readonly asyncKills = new Map<string, { afterMs: number; matches: (event: unknown) => boolean }>();
  /** Invocations under way, sync and async, so shutting down can wait for them instead of cutting them off. */
  private readonly pending = new Set<Promise<unknown>>();
  private readonly asyncConfigs = new Map<string, AsyncInvokeConfig>();
  /** Set on close: a retry still waiting for its turn is dropped (a stack switched off retries nothing). */
  private closed = false;

  private readonly onInvocationStart: (start: InvocationStart) => void;
  private readonly onInvocationEnd: (end: InvocationEnd) => void;
  private readonly latency: LatencyModel;
  private readonly meter: Meter;
  private readonly asyncRetryDelayMs: (retry: number) => number;
  private readonly asyncSystemRetryDelayMs: (retry: number) => number;
  private readonly clock: Clock;

  constructor(
    hooks: {
      onInvocationStart?: (start: InvocationStart) => void;
      onInvocationEnd?: (end: InvocationEnd) => void;
      latency?: LatencyModel;
      meter?: Meter;
      /** The pause before retry n (1, 2) of a failed async invocation; Lambda's by default. */
      asyncRetryDelayMs?: (retry: number) => number;
      /** The pause before try n (1, 2, …) again of an async invocation that could not run; Lambda's by default. */
      asyncSystemRetryDelayMs?: (retry: number) => number;
      /** The time and the pauses between retries (tests pass a simulated clock). */
      clock?: Clock;
    } = {},
  ) {
    this.onInvocationStart = hooks.onInvocationStart ?? (() => {});
    this.onInvocationEnd = hooks.onInvocationEnd ?? (() => {});
    this.latency = hooks.latency ?? NO_LATENCY;
    this.meter = hooks.meter ?? NO_METER;
    this.asyncRetryDelayMs = hooks.asyncRetryDelayMs ?? LAMBDA_ASYNC_RETRY_DELAY_MS;
    this.asyncSystemRetryDelayMs = hooks.asyncSystemRetryDelayMs ?? LAMBDA_ASYNC_SYSTEM_RETRY_DELAY_MS;
    this.clock = hooks.clock ?? RETRY_CLOCK;
  }

  /** Sets how a function's failed asynchronous invocations are retried and where they go (EventInvokeConfig). */
  configureAsyncInvoke(name: string, config: AsyncInvokeConfig): void {
    this.asyncConfigs.set(functionNameOf(name), config);
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

  /**
   * Kills every asynchronous invocation (each attempt) of `functionName` whose event `matches`, `afterMs` after
   * its handler starts, as a worker whose process dies would be; until the returned function disarms it.
   */
  killAsyncInvocations(
    functionName: string,
    afterMs: number,
    matches: (event: unknown) => boolean = () => true,
  ): () => void {
    const armed = { afterMs, matches };
    this.asyncKills.set(functionName, armed);
    return () => {
      if (this.asyncKills.get(functionName) === armed) this.asyncKills.delete(functionName);
    };
  }

  private takeArmedKill(functionName: string, event: unknown): { killAfterMs?: number } {
    const armed = this.asyncKills.get(functionName);
    return armed?.matches(event) ? { killAfterMs: armed.afterMs } : {};
  }

  private arnOf(functionName: string): string {
    return localFunctionArn(functionName, LOCAL_REGION);
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

  /**
   * Queues an asynchronous (Event) invocation and returns at once, as Lambda's 202 does. A failed attempt is
   * reported to `onError` and tried again as Lambda does: a function error after the function's retries and
   * pauses (retryAttempts: 1 min, 2 min), an invocation that could not run (a system error) with a backoff from
   * 1 s to 5 min that does not count against them. Once it is given up (retries spent, or the event older than its
   * maximum age) the invocation record goes to the on-failure destination. Every attempt has the same request id
   * (the handler's `awsRequestId`), which the record names, as on AWS.
   */
  invokeAsync(nameOrArn: string, event: unknown, onError: (error: FunctionErrorResult) => void): void {
    this.lookup(nameOrArn);
    const functionName = functionNameOf(nameOrArn);
    const config = this.asyncConfigs.get(functionName) ?? DEFAULT_ASYNC_INVOKE;
    const queuedAtMs = this.clock.now();
    const requestId = randomUUID();
    /** `ran`: attempts the function ran (approximateInvokeCount); `systemRetries`: tries that could not run. */
    const attempt = (ran: number, systemRetries: number) => {
      void this.track(
        this.runAsyncAttempt(nameOrArn, event, requestId).then((failure) => {
          if (failure === undefined) return;
          onError(failure.error);
          const attempts = failure.kind === 'function' ? ran + 1 : ran;
          const giveUp = (condition: AsyncFailureRecord['requestContext']['condition']) =>
            config.onFailure?.(
              asyncFailureRecord({
                requestId,
                functionArn: this.arnOf(functionName),
                event,
                error: failure.error,
                attempts,
                condition,
                atMs: this.clock.now(),
              }),
            );
          if (failure.kind === 'function' && attempts > config.retryAttempts)
            return giveUp('RetriesExhausted');
          const delayMs =
            failure.kind === 'function'
              ? this.asyncRetryDelayMs(attempts)
              : this.asyncSystemRetryDelayMs(systemRetries + 1);
          if (this.clock.now() + delayMs - queuedAtMs > config.maxEventAgeMs)
            return giveUp('EventAgeExceeded');
          void this.clock.sleep(delayMs).then(() => {
            if (!this.closed)
              attempt(attempts, failure.kind === 'system' ? systemRetries + 1 : systemRetries);
          });
        }),
      );
    };
    attempt(0, 0);
  }

  /** One attempt of an async invocation: how it failed, or undefined when the handler succeeded. */
  private async runAsyncAttempt(
    nameOrArn: string,
    event: unknown,
    requestId: string,
  ): Promise<AsyncAttemptFailure | undefined> {
    const functionName = functionNameOf(nameOrArn);
    const requestedAt = preciseNow();
    await delay(this.latency.asyncInvokeMs(functionName));
    try {
      const { outcome, durationMs } = await this.lookup(nameOrArn).run({
        event,
        invocationType: 'Event',
        requestId,
        ...this.takeArmedKill(functionName, event),
        onStart: (startedAt) =>
          this.onInvocationStart({ functionName, invocationType: 'Event', event, startedAt, requestedAt }),
      });
      this.meter.lambdaInvocation(functionName, 'Event', durationMs);
      this.onInvocationEnd({ functionName, invocationType: 'Event', event, outcome, durationMs });
      return 'error' in outcome ? { kind: 'function', error: outcome.error } : undefined;
    } catch (error) {
      // The runtime itself failed (a sandbox that could not start): Lambda's system error, not the handler's.
      return { kind: 'system', error: { errorType: 'ServiceException', errorMessage: describeCause(error) } };
    }
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

  /** Ends every runtime (sandbox processes are killed, their cgroups removed); waiting retries are dropped. */
  async close(): Promise<void> {
    this.closed = true;
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
