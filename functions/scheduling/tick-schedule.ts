import type { LoopState } from '../shared/contract';

/**
 * Tick arithmetic. The schedule is anchored in absolute time: tick k is due at anchorAt + (k - anchorSeq) × interval,
 * so neither Step Functions nor Lambda latency can accumulate into drift.
 */
export function tickDueAt(
  loop: Pick<LoopState, 'anchorAt' | 'anchorSeq' | 'config' | 'windowIntervalMs'>,
  seq: number,
): number {
  return loop.anchorAt + (seq - loop.anchorSeq) * gridIntervalMs(loop);
}

/** The interval the grid runs at: the cadence of the window in force at its anchor, else the item's interval. */
export function gridIntervalMs(loop: Pick<LoopState, 'config' | 'windowIntervalMs'>): number {
  return loop.windowIntervalMs ?? loop.config.intervalMs;
}

/**
 * Step Functions' Wait state honours whole seconds only (a TimestampPath's milliseconds are dropped), so the
 * controller is woken on the whole second at least `leadMs` before the tick and sleeps the remainder itself.
 */
export function wakeAtFor(dueAtMs: number, leadMs: number): number {
  return Math.floor((dueAtMs - leadMs) / 1000) * 1000;
}

/**
 * How many whole ticks to skip so that a loop that fell behind fires once, late by less than half an interval
 * (or, if that means skipping the tick that is due, at the next one on the grid). A tick later than that is
 * skipped rather than fired late: fired, it would come closer than half an interval to the next tick, and
 * whoever watches a poller (its worker, rate limits downstream) can count on no two fires closer than that.
 */
export function ticksToSkip(lateByMs: number, intervalMs: number): number {
  return lateByMs >= intervalMs / 2 ? Math.floor(lateByMs / intervalMs + 0.5) : 0;
}
