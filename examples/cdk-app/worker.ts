/**
 * Your own worker, built on the worker kit: the scheduler invokes it asynchronously on every tick with
 * `{ pollerId, seq, scheduledAt, payload }`; `tickHandler` parses that event (refusing anything else), times the
 * work, writes its metric line and records the tick's outcome on the control item (the SubMinuteScheduler
 * construct gives this function CONTROL_TABLE_NAME and the grant for that write). Delivery is at least once, so
 * `tick.idempotencyKey` (`pollerId#seq`) is the key to make a side effect happen once. A thrown error is a failed
 * tick: Lambda retries it, then the scheduler's failed-ticks queue keeps it.
 */
import { TickFailedError, tickHandler } from 'sub-minute-lambda-executor/worker-kit';

/** This app's pollers pass `{ url }` (app.ts): the worker checks it, as it would any input. */
function urlOf(payload: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const url = payload?.url;
  return typeof url === 'string' ? url : undefined;
}

export const handler = tickHandler(async (tick) => {
  const url = urlOf(tick.payload);
  if (url === undefined) throw new TickFailedError(tick.pollerId, tick.seq, 'payload.url is missing');
  const response = await fetch(url, {
    headers: { 'Idempotency-Key': tick.idempotencyKey },
    signal: AbortSignal.timeout(5_000),
  });
  if (!response.ok) throw new TickFailedError(tick.pollerId, tick.seq, `HTTP ${response.status}`);
  return { detail: `HTTP ${response.status}` };
});
