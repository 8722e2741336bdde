import type { FunctionErrorResult } from './lambda-sandbox/protocol';

export type { FunctionErrorResult };

export type InvocationType = 'Event' | 'RequestResponse';

/** One invocation as the local Lambda endpoint hands it to a function's runtime. */
export interface RunRequest {
  readonly event: unknown;
  readonly invocationType: InvocationType;
  /**
   * The invocation's request id, the handler's `context.awsRequestId` (a new one when absent). Lambda keeps one
   * request id for an asynchronous invocation across its attempts, and names it in the destination's record.
   */
  readonly requestId?: string;
  /** Fault injection: the invocation is killed this long after its handler started. */
  readonly killAfterMs?: number;
  /** Called when the handler starts, with epoch ms (sub-millisecond) from the clock of where it runs. */
  readonly onStart: (startedAt: number) => void;
}

export interface RunOutcome {
  readonly outcome: { readonly result: unknown } | { readonly error: FunctionErrorResult };
  /** How long the handler ran (what Lambda bills). */
  readonly durationMs: number;
}

/**
 * How one function's invocations run: in the local stack's own process, or in Lambda-like sandbox processes.
 * The local Lambda endpoint (LocalFunctions) adds latency, metering and fault injection around either.
 */
export interface FunctionRuntime {
  run(request: RunRequest): Promise<RunOutcome>;
  /** Every invocation's remaining time ends by `atMs` from now on (the local stack is stopping). */
  endDeadlinesBy(atMs: number): void;
  /**
   * Ends whatever still runs, at once and as a crash would (nothing it holds goes out), refuses invocations from
   * now on, and releases what the runtime holds (processes, cgroups).
   */
  close(): Promise<void>;
}
