import { DEFAULT_TIMING } from '../../functions/scheduling/plan-round';
import type { PollerItem } from '../../functions/shared/control-item';
import { judgeLoop } from '../../functions/shared/loop-ownership';

/**
 * Where a poller's loop stands, as `status`, `list`, `watch` and `stop` show it: the one function that reads it
 * off the item.
 *
 * The item is not written per tick: a loop writes it with each claim (the ticks of the next 30 s, so every ~30 s
 * below that cadence) and at each hand-back. A claim records `claimedSeq` and, as `nextTickAt`, the due time of the
 * first tick it covers; `seq`/`lastTickAt` are the last tick fired before that write. So between writes the item
 * lags: its `nextTickAt` passes while the loop keeps firing. For a live loop this fills the gap from the grid the
 * item implies (tick k is due at nextTickAt + (k − k₀) × interval, k₀ the tick `nextTickAt` belongs to) and marks
 * the result `derived`: "about", since a cadence edited meanwhile, a skipped tick or a stop may have changed it.
 */
export interface TickPoint {
  /** The tick's seq; null when the item does not say which tick it is. */
  readonly seq: number | null;
  /** ISO time the tick is (or was) due; null when unknown. */
  readonly at: string | null;
  /** Read off the grid rather than recorded on the item: show it as "about". */
  readonly derived: boolean;
}

export interface LoopProgress {
  /** The last tick fired (recorded, or derived for a live loop whose record lags); null before any. */
  readonly last: TickPoint | null;
  /**
   * The next tick a live loop fires: never before `last`, never in the past (a record that passed is carried
   * forward on the grid). null when no loop runs it (stopped, stale, running=false) or nothing says when.
   */
  readonly next: TickPoint | null;
  /** Whether a live loop holds the poller (loop-ownership's rule), whatever `running` says now. */
  readonly alive: boolean;
}

/**
 * Reads the loop's last and next tick off the item at `nowMs`. `cadenceSeconds` is the cadence in force now (a
 * window's or `waitseconds`; null for a pause or an invalid one: then nothing is derived). `running=false` on a
 * live loop still gives the next tick: it is the one before which that loop reads the item and ends.
 */
export function loopProgress(item: PollerItem, nowMs: number, cadenceSeconds: number | null): LoopProgress {
  const alive = judgeLoop(item, nowMs).alive;
  const intervalMs = cadenceSeconds === null ? undefined : Math.round(cadenceSeconds * 1_000);
  const recordedLast: TickPoint | null =
    item.seq === undefined && item.lastTickAt === undefined
      ? null
      : { seq: item.seq ?? null, at: item.lastTickAt ?? null, derived: false };
  const nextMs = Date.parse(item.nextTickAt ?? '');
  if (!alive || Number.isNaN(nextMs)) return { last: recordedLast, next: null, alive };

  const nextSeq = seqOfNextTick(item, intervalMs);
  if (nextMs > nowMs) {
    return { last: recordedLast, next: { seq: nextSeq, at: iso(nextMs), derived: false }, alive };
  }
  // The recorded next tick has passed: a live loop fired it and the ones after it on the grid.
  if (intervalMs === undefined || intervalMs <= 0) return { last: recordedLast, next: null, alive };
  const firedSince = Math.floor((nowMs - nextMs) / intervalMs);
  const lastAtMs = nextMs + firedSince * intervalMs;
  return {
    last: { seq: nextSeq === null ? null : nextSeq + firedSince, at: iso(lastAtMs), derived: true },
    next: {
      seq: nextSeq === null ? null : nextSeq + firedSince + 1,
      at: iso(lastAtMs + intervalMs),
      derived: true,
    },
    alive,
  };
}

/**
 * The seq of the tick `nextTickAt` names. A hand-back writes it beside the last fired `seq` (so: seq + 1); a claim
 * writes it as the first tick of the claim, which runs to `claimedSeq` and spans the claim window (so: claimedSeq −
 * window + 1, the same window the planner uses). A new loop's first claim continues after the old claim, not after
 * the old `seq`, so the larger of the two is the tick meant.
 */
function seqOfNextTick(item: PollerItem, intervalMs: number | undefined): number | null {
  const afterFired = item.seq === undefined ? undefined : item.seq + 1;
  if (item.claimedSeq === undefined || intervalMs === undefined || intervalMs <= 0) return afterFired ?? null;
  const window = Math.max(1, Math.ceil(DEFAULT_TIMING.claimWindowMs / intervalMs));
  const firstClaimed = item.claimedSeq - window + 1;
  return Math.max(afterFired ?? firstClaimed, firstClaimed);
}

/**
 * The tick before which a live loop sees `running=false` and ends: it reads the item `readAheadMs` before each
 * tick (and a Wait state wakes it earlier still), so a stop written later than that lets that tick go and ends
 * the loop before the one after it. null when no live loop will read it.
 */
export function endsBefore(
  progress: LoopProgress,
  nowMs: number,
  cadenceSeconds: number | null,
): TickPoint | null {
  const { next } = progress;
  if (!progress.alive || next === null || next.at === null) return null;
  const nextMs = Date.parse(next.at);
  if (nextMs - nowMs > DEFAULT_TIMING.readAheadMs || cadenceSeconds === null) return next;
  return {
    seq: next.seq === null ? null : next.seq + 1,
    at: iso(nextMs + Math.round(cadenceSeconds * 1_000)),
    derived: true,
  };
}

const iso = (epochMs: number) => new Date(epochMs).toISOString();
