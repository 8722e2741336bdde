import { describeCause, TickFailedError } from '../shared/errors';
import type { Tick, TickReport } from '../worker-kit/tick-handler';

/** How long the example worker waits for `payload.url`; well under the worker's Lambda timeout. */
export const FETCH_TIMEOUT_MS = 5_000;

export interface FetchDeps {
  readonly fetch?: typeof fetch;
  readonly fetchTimeoutMs?: number;
}

/**
 * The example worker's work: GETs `payload.url` when set (a tick without one succeeds doing nothing). A 2xx answer
 * is a tick that went well (`HTTP 200`); any other status, a refused connection or a timeout is a failed tick,
 * thrown with its reason so the kit records it and Lambda counts it.
 */
export async function fetchPayloadUrl(tick: Tick, deps: FetchDeps = {}): Promise<TickReport> {
  const url = tick.payload?.url;
  if (typeof url !== 'string') return {};
  const started = Date.now();
  let response: Response;
  try {
    response = await (deps.fetch ?? fetch)(url, {
      signal: AbortSignal.timeout(deps.fetchTimeoutMs ?? FETCH_TIMEOUT_MS),
    });
  } catch (error) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND) is its cause.
    const reason = error instanceof TypeError && error.cause !== undefined ? error.cause : error;
    throw new TickFailedError(tick.pollerId, tick.seq, describeCause(reason), {
      cause: error,
      properties: { latencyMs: Date.now() - started },
    });
  }
  await response.body?.cancel();
  const properties = { status: response.status, latencyMs: Date.now() - started };
  const detail = `HTTP ${response.status}`;
  if (!response.ok) throw new TickFailedError(tick.pollerId, tick.seq, detail, { properties });
  return { detail, properties };
}
