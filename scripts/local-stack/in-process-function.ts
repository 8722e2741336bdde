import { randomUUID } from 'node:crypto';
import { describeCause } from '../../functions/shared/errors';
import type { FunctionErrorResult, FunctionRuntime, RunOutcome, RunRequest } from './function-runtime';

/**
 * What an in-process handler gets besides the event. `frozen` turns true when the invocation is killed (a crash or
 * a timeout on AWS ends the process): the handler's clock then never wakes it again. `remainingTimeMs` is the
 * Lambda context's `getRemainingTimeInMillis`.
 */
export interface LocalInvocation {
  /** The Lambda context's `awsRequestId`: the same for every attempt of one asynchronous invocation. */
  readonly requestId: string;
  readonly frozen: () => boolean;
  readonly remainingTimeMs: () => number;
}

export type LocalHandler = (event: unknown, invocation: LocalInvocation) => Promise<unknown>;

/** Epoch ms with the resolution of the monotonic clock, for lateness figures below a millisecond. */
export const preciseNow = () => performance.timeOrigin + performance.now();

/**
 * A handler run inside the local stack's own process, on its full CPU, never frozen: for handlers that take
 * injected dependencies (a Timing, a Logger) that cannot cross into a sandbox process, and for the benchmark's
 * recipe controller. A kill (fault injection) freezes the handler's clock instead of ending a process.
 */
export class InProcessFunction implements FunctionRuntime {
  private deadlineCapMs = Number.POSITIVE_INFINITY;
  /** Ends each invocation under way as a kill would, saying why. */
  private readonly killers = new Set<(why: string) => void>();
  private closed = false;

  constructor(
    private readonly handler: LocalHandler,
    private readonly timeoutMs: number,
  ) {}

  async run(request: RunRequest): Promise<RunOutcome> {
    if (this.closed) throw new Error('the local stack is stopping');
    const startedAt = preciseNow();
    request.onStart(startedAt);
    const timeoutAt = Date.now() + this.timeoutMs;
    let frozen = false;
    const invocation: LocalInvocation = {
      requestId: request.requestId ?? randomUUID(),
      frozen: () => frozen,
      remainingTimeMs: () => Math.max(0, Math.min(timeoutAt, this.deadlineCapMs) - Date.now()),
    };
    const { promise: killed, resolve: resolveKilled } = Promise.withResolvers<{
      error: FunctionErrorResult;
    }>();
    const kill = (why: string) => {
      frozen = true;
      resolveKilled({
        error: {
          errorType: 'Runtime.ExitError',
          errorMessage: `Runtime exited with error: signal: killed (${why})`,
        },
      });
    };
    this.killers.add(kill);
    const { killAfterMs } = request;
    const killTimer =
      killAfterMs === undefined
        ? undefined
        : setTimeout(() => kill(`fault injection after ${killAfterMs} ms`), killAfterMs);
    try {
      const run = this.handler(request.event, invocation).then((result) => ({ result }));
      const outcome = await Promise.race([run, killed]);
      return { outcome, durationMs: preciseNow() - startedAt };
    } catch (error) {
      return {
        outcome: {
          error: {
            errorType: error instanceof Error ? error.name : 'Error',
            errorMessage: error instanceof Error ? error.message : describeCause(error),
          },
        },
        durationMs: preciseNow() - startedAt,
      };
    } finally {
      clearTimeout(killTimer);
      this.killers.delete(kill);
    }
  }

  endDeadlinesBy(atMs: number): void {
    this.deadlineCapMs = Math.min(this.deadlineCapMs, atMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const kill of [...this.killers]) kill('the local stack is stopping');
  }
}
