import { emfLine, MAX_VALUES_PER_METRIC, type MetricsSetup } from '../shared/metrics';

/**
 * How long values may wait for their line. One line per invocation would date a 15-minute stay-awake invocation's
 * fires all at its end (one spike on a dashboard instead of a minute each); a line a minute keeps CloudWatch's
 * 1-minute periods true at a few hundred bytes a minute.
 */
export const METRICS_FLUSH_INTERVAL_MS = 60_000;

/**
 * The controller's metrics for one invocation, aggregated: counts and precision values pile up here (no I/O) and
 * go out as one EMF line (functions/shared/metrics.ts) when a minute has passed, when the precision values reach
 * the 100 CloudWatch takes in one line (every 10 s at a 0.1 s cadence), and when the invocation ends. The controller
 * flushes after a tick's work, never before one: writing a line is a few hundred µs of CPU at 128 MB.
 */
export class RoundMetrics {
  private fires = 0;
  private precisionMs: number[] = [];
  private skippedTicks = 0;
  private failedFires = 0;
  private overlapSkips = 0;
  private loopStarts = 0;
  /** When the oldest value not yet written was noted; undefined when nothing waits. */
  private pendingSinceMs: number | undefined;
  /** Known once the round has read its input; nothing is noted before. */
  private pollerId = '';

  constructor(private readonly setup: MetricsSetup) {}

  /** The poller the round runs (its input names it). */
  forPoller(pollerId: string): this {
    this.pollerId = pollerId;
    return this;
  }

  /** A tick's invoke went out `precisionMs` after it was due. */
  noteFire(precisionMs: number, nowMs: number): void {
    this.fires += 1;
    this.precisionMs.push(precisionMs);
    this.touch(nowMs);
  }

  noteSkipped(count: number, nowMs: number): void {
    if (count <= 0) return;
    this.skippedTicks += count;
    this.touch(nowMs);
  }

  noteFailedFire(nowMs: number): void {
    this.failedFires += 1;
    this.touch(nowMs);
  }

  noteOverlapSkip(nowMs: number): void {
    this.overlapSkips += 1;
    this.touch(nowMs);
  }

  /** The first round of a loop (any start path) owns its poller. */
  noteLoopStart(nowMs: number): void {
    this.loopStarts += 1;
    this.touch(nowMs);
  }

  /** Writes a line when values have waited a minute, or when the precision values fill one line. */
  flushIfDue(nowMs: number): void {
    if (this.pendingSinceMs === undefined) return;
    const full = this.precisionMs.length >= MAX_VALUES_PER_METRIC;
    if (full || nowMs - this.pendingSinceMs >= METRICS_FLUSH_INTERVAL_MS) this.flush(nowMs);
  }

  /** Writes what is pending (at every exit of the invocation). */
  flush(nowMs: number): void {
    if (this.pendingSinceMs === undefined) return;
    const line = emfLine({
      table: this.setup.table,
      ...(this.setup.perPoller ? { perPollerId: this.pollerId } : {}),
      timestampMs: nowMs,
      values: {
        fires: this.fires,
        controllerPrecisionMs: this.precisionMs,
        skippedTicks: this.skippedTicks,
        failedFires: this.failedFires,
        overlapSkips: this.overlapSkips,
        loopStarts: this.loopStarts,
      },
      properties: { pollerId: this.pollerId },
    });
    this.fires = 0;
    this.precisionMs = [];
    this.skippedTicks = 0;
    this.failedFires = 0;
    this.overlapSkips = 0;
    this.loopStarts = 0;
    this.pendingSinceMs = undefined;
    if (line !== undefined) this.setup.sink(line);
  }

  private touch(nowMs: number): void {
    this.pendingSinceMs ??= nowMs;
  }
}
