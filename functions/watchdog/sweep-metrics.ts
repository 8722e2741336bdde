import { emfLine, type MetricsSetup } from '../shared/metrics';

/** What a sweep saw, per table: the single-loop watchdog and the fleet's (fleet-handler.ts) write the same line. */
export interface SweepCounts {
  /** Running pollers served: a live loop (single loop), or a shard with a live owner (fleet). */
  readonly active: number;
  /** Running pollers not served (or, single loop, served by a loop that fires nothing). */
  readonly stale: number;
  /** Loops or shard executions the sweep started. */
  readonly restarts: number;
}

/**
 * One EMF line a sweep, zeros included: the StalePollers alarm reads a missing minute as the watchdog not
 * running (or its scan failing), so every sweep that looked says what it saw. Never throws: a failing sink must
 * not stop a sweep's restarts being reported (the line is dropped, and the alarm sees a missing minute).
 */
export function writeSweepMetrics(metrics: MetricsSetup, nowMs: number, counts: SweepCounts): void {
  try {
    const line = emfLine({
      table: metrics.table,
      timestampMs: nowMs,
      values: { activePollers: counts.active, stalePollers: counts.stale, watchdogRestarts: counts.restarts },
    });
    if (line !== undefined) metrics.sink(line);
  } catch {}
}
