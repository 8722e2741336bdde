import type { WorkerEvent } from '../shared/contract';
import { isRecord } from '../shared/decode';
import { describeCause, InvalidWorkerEventError } from '../shared/errors';
import type { Logger } from '../shared/logger';

/** How long the example worker waits for `payload.url`; well under the worker's Lambda timeout. */
export const FETCH_TIMEOUT_MS = 5_000;

export interface TickResult {
  readonly pollerId: string;
  readonly seq: number;
  readonly status?: number;
  readonly latencyMs?: number;
  readonly error?: string;
}

/**
 * The example worker: GETs `payload.url` when set and logs status and latency, or just logs the tick.
 * `pollerId` + `seq` identify the tick; async invokes are at-least-once, so real workers should dedupe on them.
 */
export interface WorkerDeps {
  readonly log: Logger;
  readonly fetch?: typeof fetch;
  readonly fetchTimeoutMs?: number;
}

export async function runTick(event: unknown, deps: WorkerDeps): Promise<TickResult> {
  const tick = parseWorkerEvent(event);
  const url = tick.payload?.url;
  const lateByMs = Date.now() - Date.parse(tick.scheduledAt);
  if (typeof url !== 'string') {
    deps.log.info('tick', {
      pollerId: tick.pollerId,
      seq: tick.seq,
      scheduledAt: tick.scheduledAt,
      lateByMs,
    });
    return { pollerId: tick.pollerId, seq: tick.seq };
  }
  const started = Date.now();
  try {
    const response = await (deps.fetch ?? fetch)(url, {
      signal: AbortSignal.timeout(deps.fetchTimeoutMs ?? FETCH_TIMEOUT_MS),
    });
    await response.body?.cancel();
    const result = {
      pollerId: tick.pollerId,
      seq: tick.seq,
      status: response.status,
      latencyMs: Date.now() - started,
    };
    deps.log.info('tick fetched', { ...result, lateByMs });
    return result;
  } catch (error) {
    const result = {
      pollerId: tick.pollerId,
      seq: tick.seq,
      latencyMs: Date.now() - started,
      error: describeCause(error),
    };
    deps.log.warn('tick fetch failed', { ...result, url });
    return result;
  }
}

/** The one decoder of the tick event the controller sends (functions/shared/worker-invoker.ts). */
export function parseWorkerEvent(event: unknown): WorkerEvent {
  if (!isRecord(event)) throw new InvalidWorkerEventError('expected an object', event);
  const { pollerId, seq, scheduledAt, payload } = event;
  if (typeof pollerId !== 'string' || pollerId === '')
    throw new InvalidWorkerEventError('pollerId must be a string', pollerId);
  if (typeof seq !== 'number' || !Number.isInteger(seq))
    throw new InvalidWorkerEventError('seq must be a whole number', seq, pollerId);
  if (typeof scheduledAt !== 'string' || Number.isNaN(Date.parse(scheduledAt))) {
    throw new InvalidWorkerEventError('scheduledAt must be an ISO timestamp', scheduledAt, pollerId);
  }
  if (payload !== undefined && !isRecord(payload)) {
    throw new InvalidWorkerEventError('payload must be an object', payload, pollerId);
  }
  return { pollerId, seq, scheduledAt, ...(payload ? { payload } : {}) };
}
