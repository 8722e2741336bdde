import { isRecord } from '../../functions/shared/decode';
import { describeCause } from '../../functions/shared/errors';
import {
  type FilterPattern,
  parseFilterPattern,
  passesAnyFilter,
  UnsupportedFilterPatternError,
} from './event-filter';
import type { FunctionErrorResult } from './function-runtime';
import { compareSequenceNumbers, type StreamEvent, type StreamRecord } from './stream-records';

/** What the mapping is configured with: the CDK construct's STREAM_START and START_FILTERS (FLEET_START_FILTERS). */
export interface StreamMappingConfig {
  readonly batchSize: number;
  /** Retries of a failing batch before its records are given up (sent to the on-failure destination). */
  readonly retryAttempts: number;
  /** Records no filter matches are dropped before batching, as Lambda does. */
  readonly filters: readonly FilterPattern[];
}

export type InvokeOutcome = { readonly result: unknown } | { readonly error: FunctionErrorResult };

export interface StreamEventSourceOptions extends StreamMappingConfig {
  /** A synchronous invocation of the mapped function, as the mapping makes it. */
  readonly invoke: (event: StreamEvent) => Promise<InvokeOutcome>;
  /** Records that still failed after every retry: on AWS, the on-failure destination gets their description. */
  readonly onRecordsFailed: (records: readonly StreamRecord[], reason: string) => void;
  /**
   * The pause before retry n (1, 2, …). Lambda does not document its backoff for stream retries; a short doubling
   * pause keeps a failing start from hammering Step Functions while tests stay quick.
   */
  readonly retryDelayMs?: (retry: number) => number;
}

/** The outcome of one invocation with a batch: done, or the records to retry from the checkpoint on. */
export type BatchOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'retry'; readonly fromIndex: number; readonly reason: string };

/** The stack's own mapping (infra/constructs/control-plane-triggers.ts), loaded on demand: aws-cdk-lib is heavy. */
export async function loadStartMapping(
  options: { readonly fleet?: boolean } = {},
): Promise<StreamMappingConfig> {
  const { FLEET_START_FILTERS, START_FILTERS, STREAM_START } = await import(
    '../../infra/constructs/control-plane-triggers'
  );
  const filters = options.fleet === true ? FLEET_START_FILTERS : START_FILTERS;
  return {
    batchSize: STREAM_START.batchSize,
    retryAttempts: STREAM_START.retryAttempts,
    filters: filters.map((filter) => parseFilterPattern(patternOf(filter))),
  };
}

/** A CDK FilterCriteria.filter(…) entry: `{ pattern: '<json>' }`. */
function patternOf(filter: Record<string, unknown>): string {
  const { pattern } = filter;
  if (typeof pattern !== 'string') {
    throw new UnsupportedFilterPatternError(JSON.stringify(filter), 'has no pattern string');
  }
  return pattern;
}

const DEFAULT_RETRY_DELAY_MS = (retry: number) => Math.min(250 * 2 ** (retry - 1), 2_000);

/**
 * The local stand-in for the control table's event source mapping: records pass the mapping's filters, wait in
 * order (one shard: a batch being retried holds back the records behind it, as a shard does), go to the function
 * in batches of up to `batchSize`, and a batch that fails is retried from its checkpoint up to `retryAttempts`
 * times. Bisecting a batch on a function error is not done: the records are retried together.
 */
export class StreamEventSource {
  private readonly queue: StreamRecord[] = [];
  private delivering: Promise<void> | undefined;
  private stopped = false;
  private wakeFromPause: (() => void) | undefined;

  constructor(private readonly options: StreamEventSourceOptions) {}

  /** A record the stream just produced; delivered unless no filter matches it. */
  push(record: StreamRecord): void {
    if (this.stopped || !passesAnyFilter(this.options.filters, record)) return;
    this.queue.push(record);
    this.deliverQueued();
  }

  /** Stops taking records and waits for the invocation under way; a pending retry is abandoned. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeFromPause?.();
    await this.delivering;
  }

  /** Resolves once every record pushed so far has been delivered or given up. */
  async whenIdle(): Promise<void> {
    while (this.delivering !== undefined || (this.queue.length > 0 && !this.stopped)) {
      await (this.delivering ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }

  private deliverQueued(): void {
    if (this.delivering !== undefined || this.stopped) return;
    this.delivering = (async () => {
      // The records pushed together (one scan of the change feed) go out together, as one poll of a shard would.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.queue.length > 0 && !this.stopped) {
        await this.deliver(this.queue.splice(0, this.options.batchSize));
      }
    })().finally(() => {
      this.delivering = undefined;
      if (this.queue.length > 0) this.deliverQueued();
    });
  }

  private async deliver(batch: readonly StreamRecord[]): Promise<void> {
    let pending = batch;
    for (let retry = 0; ; retry += 1) {
      const outcome = await this.invokeWith(pending);
      if (outcome.kind === 'done' || this.stopped) return;
      pending = pending.slice(outcome.fromIndex);
      if (retry >= this.options.retryAttempts) {
        this.options.onRecordsFailed(pending, `${outcome.reason} (after ${retry} retries)`);
        return;
      }
      await this.pause((this.options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS)(retry + 1));
    }
  }

  private async invokeWith(batch: readonly StreamRecord[]): Promise<BatchOutcome> {
    let outcome: InvokeOutcome;
    try {
      outcome = await this.options.invoke({ Records: batch });
    } catch (error) {
      return { kind: 'retry', fromIndex: 0, reason: `the invocation failed: ${describeCause(error)}` };
    }
    if ('error' in outcome) {
      const { errorType, errorMessage } = outcome.error;
      return { kind: 'retry', fromIndex: 0, reason: `the function failed: ${errorType}: ${errorMessage}` };
    }
    return checkpointOf(batch, outcome.result);
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeFromPause = done;
    }).finally(() => {
      this.wakeFromPause = undefined;
    });
  }
}

/**
 * Reads a function's partial batch response as Lambda does: no response, no list or an empty list is success; a
 * list naming records by `dynamodb.SequenceNumber` makes the lowest one named the checkpoint, and every record
 * from it on is retried; an identifier that is empty, missing or names no record of the batch fails the batch.
 */
export function checkpointOf(batch: readonly StreamRecord[], response: unknown): BatchOutcome {
  if (!isRecord(response)) return { kind: 'done' };
  const failures = response.batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'done' };
  if (!Array.isArray(failures)) {
    return {
      kind: 'retry',
      fromIndex: 0,
      reason: `the function returned batchItemFailures that is not a list: ${JSON.stringify(failures)}`,
    };
  }
  if (failures.length === 0) return { kind: 'done' };
  const named = failures.map((failure) => (isRecord(failure) ? failure.itemIdentifier : undefined));
  const indexes = named.map((identifier) =>
    typeof identifier === 'string' && identifier !== ''
      ? batch.findIndex((record) => record.dynamodb.SequenceNumber === identifier)
      : -1,
  );
  if (indexes.includes(-1)) {
    return {
      kind: 'retry',
      fromIndex: 0,
      reason: `the function named records it could not process by identifiers not all in the batch (the whole batch is retried): ${JSON.stringify(named)}`,
    };
  }
  const lowest = indexes.reduce((low, index) => {
    const lowRecord = batch[low]?.dynamodb.SequenceNumber ?? '';
    const record = batch[index]?.dynamodb.SequenceNumber ?? '';
    return compareSequenceNumbers(record, lowRecord) < 0 ? index : low;
  });
  return {
    kind: 'retry',
    fromIndex: lowest,
    reason: `the function reported failed records ${named.join(', ')}`,
  };
}
