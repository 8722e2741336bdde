import { DEFAULT_TIMING } from '../scheduling/plan-round';
import { cadenceAt, DEFAULT_TIME_ZONE, nextEdgeAfter } from '../scheduling/windows';
import type { PollerItem } from '../shared/control-item';
import { judgeLoop, STALE_INTERVALS } from '../shared/loop-ownership';

export interface StaleLoop {
  readonly pollerId: string;
  readonly item: PollerItem;
  /** Why no loop counts as alive (a stale or missing heartbeat, a recorded stop). */
  readonly why: string;
}

/**
 * Which pollers should be running but have no live loop: a stale or missing heartbeat, or a loop that recorded a
 * stop while `running` is true (it stopped on a configuration that has been fixed since). Pure: the watchdog, the
 * local stack and the tests call it with items and a clock. Whether a start is then due (a valid configuration)
 * is the start's own decision.
 */
export function findStaleLoops(items: readonly PollerItem[], nowMs: number): StaleLoop[] {
  return items.flatMap((item) => {
    if (item.operator.running !== true) return [];
    const liveness = judgeLoop(item, nowMs);
    return liveness.alive ? [] : [{ pollerId: item.pollerId, item, why: liveness.why }];
  });
}

/**
 * How old the last recorded tick may be, at least: `lastTickAt` is written with the loop's claims (about every
 * `claimWindowMs`), not per tick, so a loop firing well may show a tick that old, plus a minute's margin.
 */
export const TICK_AGE_FLOOR_MS = DEFAULT_TIMING.claimWindowMs + 60_000;

/**
 * Running pollers whose loop is alive (a fresh heartbeat, judgeLoop) yet fires nothing: every tick skipped as too
 * late, or an overlap `skip` worker running far past its interval. Pure, like findStaleLoops. A poller counts when
 * its last recorded tick is older than 3 intervals of the cadence in force (at least TICK_AGE_FLOOR_MS), that
 * cadence has been in force that long (a pause, or a window edge, within it counts nothing), and the tick the loop
 * last planned (`nextTickAt`) is past: a loop just started on a poller idle for long waits for a tick not yet due.
 * A poller whose configuration says no cadence (an invalid interval, windows or zone) is left to findStaleLoops.
 */
export function findNotTicking(items: readonly PollerItem[], nowMs: number): string[] {
  return items.flatMap((item) => (isNotTicking(item, nowMs) ? [item.pollerId] : []));
}

function isNotTicking(item: PollerItem, nowMs: number): boolean {
  const { running, intervalMs, windows = [], timeZone = DEFAULT_TIME_ZONE } = item.operator;
  if (
    running !== true ||
    typeof intervalMs !== 'number' ||
    !Array.isArray(windows) ||
    typeof timeZone !== 'string'
  )
    return false;
  const cadence = cadenceAt(windows, timeZone, intervalMs, nowMs);
  if (cadence.kind !== 'every' || !judgeLoop(item, nowMs).alive) return false;
  const sinceMs = nowMs - Math.max(STALE_INTERVALS * cadence.intervalMs, TICK_AGE_FLOOR_MS);
  if ((nextEdgeAfter(windows, timeZone, sinceMs) ?? nowMs + 1) <= nowMs) return false;
  return Date.parse(item.lastTickAt ?? '') < sinceMs && Date.parse(item.nextTickAt ?? '') <= nowMs;
}
