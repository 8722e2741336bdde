import { FIELD } from '../shared/contract';
import { parseWaitSeconds, type RawItem } from '../shared/control-item';

/** A loop is presumed dead when its heartbeat is older than this many intervals, and at least STALE_FLOOR_MS. */
export const STALE_INTERVALS = 3;
/** Heartbeats come with each claim (at least every 30 s) and each hand-back, so 90 s of silence means trouble. */
export const STALE_FLOOR_MS = 90_000;

export interface StaleLoop {
  readonly pollerId: string;
  readonly item: RawItem;
  /** How old the heartbeat is; undefined when the loop never wrote one (never started). */
  readonly heartbeatAgeMs: number | undefined;
  readonly thresholdMs: number;
}

/**
 * Which pollers should be running but show no sign of life. Pure: the watchdog, the local stack and the tests
 * call it with items and a clock.
 */
export function findStaleLoops(items: readonly RawItem[], nowMs: number): StaleLoop[] {
  return items.flatMap((item) => {
    const pollerId = item[FIELD.id]?.S;
    if (pollerId === undefined || item[FIELD.running]?.BOOL !== true) return [];
    const intervalMs = parseWaitSeconds(pollerId, item[FIELD.waitSeconds]);
    // An invalid cadence cannot say how often to expect a heartbeat: use the floor.
    const thresholdMs = Math.max(
      STALE_FLOOR_MS,
      typeof intervalMs === 'number' ? STALE_INTERVALS * intervalMs : 0,
    );
    const heartbeatAt = Date.parse(item[FIELD.heartbeatAt]?.S ?? '');
    const heartbeatAgeMs = Number.isNaN(heartbeatAt) ? undefined : nowMs - heartbeatAt;
    if (heartbeatAgeMs !== undefined && heartbeatAgeMs <= thresholdMs) return [];
    return [{ pollerId, item, heartbeatAgeMs, thresholdMs }];
  });
}

export function describeStaleness(stale: StaleLoop): string {
  return stale.heartbeatAgeMs === undefined
    ? 'running is true but the loop never reported a heartbeat'
    : `heartbeat ${Math.round(stale.heartbeatAgeMs / 1000)} s old (threshold ${Math.round(stale.thresholdMs / 1000)} s)`;
}
