import { chooseStrategy } from '../../functions/scheduling/cost-model';
import { claimWindowTicks, DEFAULT_TIMING } from '../../functions/scheduling/plan-round';
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
 * `deadExecutionArn`: an execution Step Functions says has ended for good (loop-ownership's judgeLoop); a loop the
 * item attributes to it is not alive, however fresh its heartbeat, and nothing is derived for it.
 *
 * Only a `nextTickAt` the current generation wrote is read: a start's take removes the old loop's (control-table.ts
 * takeGeneration), so until the new loop's first claim there is no next tick to show, not the old loop's grid.
 */
export function loopProgress(
  item: PollerItem,
  nowMs: number,
  cadenceSeconds: number | null,
  deadExecutionArn?: string,
): LoopProgress {
  const alive = judgeLoop(item, nowMs, deadExecutionArn).alive;
  const intervalMs = cadenceSeconds === null ? undefined : Math.round(cadenceSeconds * 1_000);
  const recordedLast: TickPoint | null =
    item.seq === undefined && item.lastTickAt === undefined
      ? null
      : { seq: item.seq ?? null, at: item.lastTickAt ?? null, derived: false };
  const nextMs = Date.parse(item.nextTickAt ?? '');
  if (!alive || Number.isNaN(nextMs)) return { last: recordedLast, next: null, alive };

  const nextSeq = seqOfNextTick(item, nextMs, intervalMs);
  if (nextMs > nowMs) {
    return {
      last: recordedLast,
      next: { seq: nextSeq.seq, at: iso(nextMs), derived: nextSeq.derived },
      alive,
    };
  }
  // The recorded next tick has passed: a live loop fired it and the ones after it on the grid.
  if (intervalMs === undefined || intervalMs <= 0) return { last: recordedLast, next: null, alive };
  const firedSince = Math.floor((nowMs - nextMs) / intervalMs);
  const lastAtMs = nextMs + firedSince * intervalMs;
  return {
    last: { seq: nextSeq.seq === null ? null : nextSeq.seq + firedSince, at: iso(lastAtMs), derived: true },
    next: {
      seq: nextSeq.seq === null ? null : nextSeq.seq + firedSince + 1,
      at: iso(lastAtMs + intervalMs),
      derived: true,
    },
    alive,
  };
}

/**
 * The seq of the tick `nextTickAt` names, and whether it is known (derived: false) or worked out ("about").
 *
 * A hand-back or a pause's check-in writes it beside the last fired `seq`, with no claim beyond it: seq + 1. A
 * claim writes it as the first tick of the claim, which runs to `claimedSeq` over the claim window of the cadence
 * the claim was made under, which the item does not record. A loop going on claims right after its last fired
 * tick, so its first claimed tick is one interval (the claim's) after `lastTickAt`: when the window of that
 * interval leads from seq + 1 to `claimedSeq` exactly, seq + 1 is known. Otherwise (a new loop, which continues
 * after the old claim rather than the old `seq`; skipped ticks) the window of the cadence in force now works it
 * out, "about": a cadence set since the claim would make it wrong.
 */
function seqOfNextTick(
  item: PollerItem,
  nextMs: number,
  intervalMs: number | undefined,
): { readonly seq: number | null; readonly derived: boolean } {
  const afterFired = item.seq === undefined ? undefined : item.seq + 1;
  if (afterFired !== undefined && (item.claimedSeq === undefined || item.claimedSeq < afterFired)) {
    return { seq: afterFired, derived: false };
  }
  const claimIntervalMs = nextMs - Date.parse(item.lastTickAt ?? '');
  if (
    afterFired !== undefined &&
    claimIntervalMs > 0 &&
    item.claimedSeq === afterFired + claimWindowTicks(claimIntervalMs) - 1
  ) {
    return { seq: afterFired, derived: false };
  }
  if (item.claimedSeq === undefined || intervalMs === undefined || intervalMs <= 0) {
    // No seq at all says nothing "about" the tick's recorded time.
    return { seq: afterFired ?? null, derived: afterFired !== undefined };
  }
  const firstClaimed = item.claimedSeq - claimWindowTicks(intervalMs) + 1;
  return { seq: Math.max(afterFired ?? firstClaimed, firstClaimed), derived: true };
}

/**
 * How long before a tick a live loop reads the item for the last time, at `intervalMs`, by the planner's own
 * constants: a loop that stays awake reads it `readAheadMs` ahead; a Wait-state loop (at or above the break-even
 * interval, cost-model.ts chooseStrategy) is woken 0.5-1.5 s ahead (`wakeLeadMs`) and fires what is due within
 * `maxInProcessSleepMs` of that read without reading again. (A loop that stays awake hands back to a Wait state
 * once per invocation, every ~15 min: that one tick reads as a Wait-state loop's does.)
 */
export function lastReadBeforeTickMs(intervalMs: number): number {
  return chooseStrategy(intervalMs) === 'stay-awake'
    ? DEFAULT_TIMING.readAheadMs
    : DEFAULT_TIMING.maxInProcessSleepMs;
}

/**
 * The tick before which a live loop sees `running=false` and ends: a stop written later than the loop's last read
 * for the next tick (lastReadBeforeTickMs) may let that tick go, so it ends the loop before the one after it. null
 * when no live loop will read it.
 */
export function endsBefore(
  progress: LoopProgress,
  nowMs: number,
  cadenceSeconds: number | null,
): TickPoint | null {
  const { next } = progress;
  if (!progress.alive || next === null || next.at === null) return null;
  const nextMs = Date.parse(next.at);
  if (cadenceSeconds === null) return next;
  const intervalMs = Math.round(cadenceSeconds * 1_000);
  if (nextMs - nowMs > lastReadBeforeTickMs(intervalMs)) return next;
  return {
    seq: next.seq === null ? null : next.seq + 1,
    at: iso(nextMs + intervalMs),
    derived: true,
  };
}

const iso = (epochMs: number) => new Date(epochMs).toISOString();
