import { describeCause } from '../../functions/shared/errors';
import type { FunctionErrorResult, FunctionRuntime, RunOutcome, RunRequest } from './function-runtime';

/**
 * What an in-process handler gets besides the event. `frozen` turns true when the invocation is killed (a crash or
 * a timeout on AWS ends the process): the handler's clock then never wakes it again. `remainingTimeMs` is the
 * Lambda context's `getRemainingTimeInMillis`.
 */
export interface LocalInvocation {
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

  constructor(
    private readonly handler: LocalHandler,
    private readonly timeoutMs: number,
  ) {}

  async run(request: RunRequest): Promise<RunOutcome> {
    const startedAt = preciseNow();
    request.onStart(startedAt);
    const timeoutAt = Date.now() + this.timeoutMs;
    let frozen = false;
    const invocation: LocalInvocation = {
      frozen: () => frozen,
      remainingTimeMs: () => Math.max(0, Math.min(timeoutAt, this.deadlineCapMs) - Date.now()),
    };
    const { killAfterMs } = request;
    try {
      const run = this.handler(request.event, invocation);
      if (killAfterMs === undefined)
        return { outcome: { result: await run }, durationMs: preciseNow() - startedAt };
      const killed = new Promise<{ error: FunctionErrorResult }>((resolve) =>
        setTimeout(() => {
          frozen = true;
          resolve({
            error: {
              errorType: 'Runtime.ExitError',
              errorMessage: `Runtime exited with error: signal: killed (fault injection after ${killAfterMs} ms)`,
            },
          });
        }, killAfterMs),
      );
      const outcome = await Promise.race([run.then((result) => ({ result })), killed]);
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
    }
  }

  endDeadlinesBy(atMs: number): void {
    this.deadlineCapMs = Math.min(this.deadlineCapMs, atMs);
  }

  async close(): Promise<void> {}
}
