import type { PollerItem } from '../shared/control-item';
import { judgeLoop } from '../shared/loop-ownership';

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
