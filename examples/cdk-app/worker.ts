/**
 * Your own worker: the scheduler invokes it asynchronously on every tick with
 * `{ pollerId, seq, scheduledAt, payload }`. Delivery is at least once, so `pollerId` + `seq` is the key to make a
 * side effect happen once. A thrown error is a failed tick: Lambda retries it, then the scheduler's failed-ticks
 * queue keeps it.
 */
interface Tick {
  readonly pollerId: string;
  readonly seq: number;
  readonly scheduledAt: string;
}

function parseTick(event: unknown): Tick {
  const { pollerId, seq, scheduledAt } = (event ?? {}) as Record<string, unknown>;
  if (typeof pollerId !== 'string' || typeof seq !== 'number' || typeof scheduledAt !== 'string') {
    throw new TypeError(`not a tick event: ${JSON.stringify(event)?.slice(0, 200)}`);
  }
  return { pollerId, seq, scheduledAt };
}

export const handler = async (event: unknown): Promise<{ idempotencyKey: string; lateMs: number }> => {
  const tick = parseTick(event);
  const idempotencyKey = `${tick.pollerId}#${tick.seq}`;
  const lateMs = Date.now() - Date.parse(tick.scheduledAt);
  console.log(JSON.stringify({ message: 'tick', idempotencyKey, lateMs }));
  return { idempotencyKey, lateMs };
};
