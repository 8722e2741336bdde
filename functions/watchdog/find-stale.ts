import { FIELD } from '../shared/contract';
import type { RawItem } from '../shared/control-item';
import { judgeLoop } from '../shared/loop-ownership';

export interface StaleLoop {
  readonly pollerId: string;
  readonly item: RawItem;
  /** Why no loop counts as alive (a stale or missing heartbeat, a recorded stop). */
  readonly why: string;
}

/**
 * Which pollers should be running but have no live loop: a stale or missing heartbeat, or a loop that recorded a
 * stop while `running` is true (it stopped on a configuration that has been fixed since). Pure: the watchdog, the
 * local stack and the tests call it with items and a clock. Whether a start is then due (a valid configuration)
 * is the start's own decision.
 */
export function findStaleLoops(items: readonly RawItem[], nowMs: number): StaleLoop[] {
  return items.flatMap((item) => {
    const pollerId = item[FIELD.id]?.S;
    if (pollerId === undefined || item[FIELD.running]?.BOOL !== true) return [];
    const liveness = judgeLoop(pollerId, item, nowMs);
    return liveness.alive ? [] : [{ pollerId, item, why: liveness.why }];
  });
}
