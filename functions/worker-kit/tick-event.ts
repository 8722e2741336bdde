import type { WorkerEvent } from '../shared/contract';
import { isRecord } from '../shared/decode';
import { InvalidWorkerEventError } from '../shared/errors';

/** The one decoder of the tick event the controller sends (functions/shared/worker-invoker.ts). */
export function parseWorkerEvent(event: unknown): WorkerEvent {
  if (!isRecord(event)) throw new InvalidWorkerEventError('expected an object', event);
  const { pollerId, seq, scheduledAt, payload, trigger } = event;
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
  if (trigger !== undefined && (typeof trigger !== 'string' || trigger === '')) {
    throw new InvalidWorkerEventError('trigger must be a request id', trigger, pollerId);
  }
  return { pollerId, seq, scheduledAt, ...(payload ? { payload } : {}), ...(trigger ? { trigger } : {}) };
}

/**
 * `pollerId#seq` for a scheduled tick, `pollerId#trigger-<id>` for a `ctl trigger` fire: the same for every
 * delivery of one tick (async invokes are at least once), unique otherwise.
 */
export function idempotencyKeyOf(tick: Pick<WorkerEvent, 'pollerId' | 'seq' | 'trigger'>): string {
  return tick.trigger === undefined
    ? `${tick.pollerId}#${tick.seq}`
    : `${tick.pollerId}#trigger-${tick.trigger}`;
}
