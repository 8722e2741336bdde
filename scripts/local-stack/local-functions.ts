import { describeCause } from '../../functions/shared/errors';
import { type LatencyModel, type Meter, NO_LATENCY, NO_METER } from './latency-model';

/**
 * What the local runtime gives a handler besides the event. `frozen` turns true when the invocation is killed
 * (a crash or a timeout on AWS ends the process): the handler's clock then never wakes it again.
 */
export interface LocalInvocation {
  readonly frozen: () => boolean;
}

export type LocalHandler = (event: unknown, invocation: LocalInvocation) => Promise<unknown>;

export interface InvocationStart {
  readonly functionName: string;
  readonly invocationType: 'Event' | 'RequestResponse';
  readonly event: unknown;
  /** Epoch milliseconds with sub-millisecond resolution, taken just before the handler runs. */
  readonly startedAt: number;
}

export interface FunctionErrorResult {
  readonly errorType: string;
  readonly errorMessage: string;
}

export class FunctionNotFoundError extends Error {
  override readonly name = 'FunctionNotFoundError';
  constructor(readonly functionName: string) {
    super(`Function not found: ${functionName}`);
  }
}

/** Epoch ms with the resolution of the monotonic clock, for lateness figures below a millisecond. */
export const preciseNow = () => performance.timeOrigin + performance.now();

/**
 * The functions the local Lambda endpoint serves, by name. Names and ARNs (with or without a qualifier) resolve
 * to the same function, as on AWS.
 */
export class LocalFunctions {
  private readonly handlers = new Map<string, LocalHandler>();
  /** Fault injection: the next synchronous invocation of a function is killed this many ms after it starts. */
  private readonly armedKills = new Map<string, number>();
  /** Invocations under way, sync and async, so shutting down can wait for them instead of cutting them off. */
  private readonly pending = new Set<Promise<unknown>>();

  private readonly onInvocationStart: (start: InvocationStart) => void;
  private readonly latency: LatencyModel;
  private readonly meter: Meter;

  constructor(
    hooks: {
      onInvocationStart?: (start: InvocationStart) => void;
      latency?: LatencyModel;
      meter?: Meter;
    } = {},
  ) {
    this.onInvocationStart = hooks.onInvocationStart ?? (() => {});
    this.latency = hooks.latency ?? NO_LATENCY;
    this.meter = hooks.meter ?? NO_METER;
  }

  register(name: string, handler: LocalHandler): void {
    this.handlers.set(name, handler);
  }

  /** Kills the next synchronous invocation of `functionName` after `afterMs`, as a crash or timeout would. */
  armKill(functionName: string, afterMs: number): void {
    this.armedKills.set(functionName, afterMs);
  }

  has(nameOrArn: string): boolean {
    return this.handlers.has(functionNameOf(nameOrArn));
  }

  /** Runs a function to completion; a thrown error becomes a Lambda function error result, as on AWS. */
  async invoke(
    nameOrArn: string,
    event: unknown,
  ): Promise<{ result: unknown } | { error: FunctionErrorResult }> {
    const handler = this.lookup(nameOrArn);
    const functionName = functionNameOf(nameOrArn);
    return this.track(
      (async () => {
        await delay(this.latency.taskStartMs(functionName));
        const startedAt = preciseNow();
        this.onInvocationStart({ functionName, invocationType: 'RequestResponse', event, startedAt });
        let frozen = false;
        const killAfterMs = this.armedKills.get(functionName);
        this.armedKills.delete(functionName);
        try {
          const run = handler(event, { frozen: () => frozen });
          if (killAfterMs === undefined) return { result: await run };
          const killed = new Promise<{ error: FunctionErrorResult }>((resolve) =>
            setTimeout(() => {
              frozen = true;
              resolve({
                error: {
                  errorType: 'Runtime.ExitError',
                  errorMessage: `killed by fault injection after ${killAfterMs} ms`,
                },
              });
            }, killAfterMs),
          );
          return await Promise.race([run.then((result) => ({ result })), killed]);
        } catch (error) {
          return {
            error: {
              errorType: error instanceof Error ? error.name : 'Error',
              errorMessage: error instanceof Error ? error.message : describeCause(error),
            },
          };
        } finally {
          this.meter.lambdaInvocation(functionName, 'RequestResponse', preciseNow() - startedAt);
        }
      })(),
    );
  }

  /** Queues an asynchronous (Event) invocation and returns at once, as Lambda's 202 does. */
  invokeAsync(nameOrArn: string, event: unknown, onError: (error: FunctionErrorResult) => void): void {
    const handler = this.lookup(nameOrArn);
    const functionName = functionNameOf(nameOrArn);
    void this.track(
      (async () => {
        await delay(this.latency.asyncInvokeMs(functionName));
        const startedAt = preciseNow();
        this.onInvocationStart({ functionName, invocationType: 'Event', event, startedAt });
        try {
          await handler(event, { frozen: () => false });
        } catch (error) {
          onError({
            errorType: error instanceof Error ? error.name : 'Error',
            errorMessage: describeCause(error),
          });
        } finally {
          this.meter.lambdaInvocation(functionName, 'Event', preciseNow() - startedAt);
        }
      })(),
    );
  }

  /** Waits for every invocation under way (and those they start), so shutting down cuts none of them off. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private track<T>(invocation: Promise<T>): Promise<T> {
    this.pending.add(invocation);
    void invocation.finally(() => this.pending.delete(invocation));
    return invocation;
  }

  private lookup(nameOrArn: string): LocalHandler {
    const handler = this.handlers.get(functionNameOf(nameOrArn));
    if (!handler) throw new FunctionNotFoundError(nameOrArn);
    return handler;
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
