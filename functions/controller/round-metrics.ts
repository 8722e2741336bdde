import { emfLine, MAX_VALUES_PER_METRIC, type MetricsSetup } from '../shared/metrics';

/**
 * Values are gathered per wall-clock minute: CloudWatch's 1-minute periods then hold exactly that minute's fires,
 * however long a stay-awake invocation runs (one line per invocation would date all its fires at its end).
 */
export const METRICS_FLUSH_INTERVAL_MS = 60_000;

/** One minute's values, not yet written. */
interface Tally {
  /** When its first value was noted: the line's timestamp, so the line lands in the minute its values come from. */
  readonly firstAtMs: number;
  fires: number;
  controllerPrecisionMs: number[];
  skippedTicks: number;
  failedFires: number;
  overlapSkips: number;
  loopStarts: number;
}

/**
 * The controller's metrics for one invocation, aggregated: counts and precision values pile up here (no I/O) in
 * one tally per wall-clock minute, and go out as one EMF line (functions/shared/metrics.ts) each once their minute
 * is over, when the precision values reach the 100 CloudWatch takes in one line (every 10 s at a 0.1 s cadence),
 * and when the invocation ends. The controller flushes after a tick's work, never before one: writing a line is a
 * few hundred µs of CPU at 128 MB. Writing never throws: a metric is never worth a loop.
 */
export class RoundMetrics {
  /** The current minute's tally, and earlier minutes' not yet written (noting a value is never I/O). */
  private current: Tally | undefined;
  private closed: Tally[] = [];
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
    const tally = this.tally(nowMs);
    tally.fires += 1;
    tally.controllerPrecisionMs.push(precisionMs);
  }

  noteSkipped(count: number, nowMs: number): void {
    if (count > 0) this.tally(nowMs).skippedTicks += count;
  }

  noteFailedFire(nowMs: number): void {
    this.tally(nowMs).failedFires += 1;
  }

  noteOverlapSkip(nowMs: number): void {
    this.tally(nowMs).overlapSkips += 1;
  }

  /** A loop's first round took its poller: its first write as owner held. */
  noteLoopStart(nowMs: number): void {
    this.tally(nowMs).loopStarts += 1;
  }

  /** Writes the minutes that are over, and the current one when its precision values fill a line. */
  flushIfDue(nowMs: number): void {
    this.close(nowMs, MAX_VALUES_PER_METRIC);
  }

  /** Writes what is pending (at every exit of the invocation). */
  flush(): void {
    this.close(Number.NaN, 0);
  }

  /** Closes the current tally unless it is of `nowMs`'s minute and holds fewer than `full` precision values. */
  private close(nowMs: number, full: number): void {
    const current = this.current;
    if (current && (current.controllerPrecisionMs.length >= full || !sameMinute(current, nowMs))) {
      this.closed.push(current);
      this.current = undefined;
    }
    const tallies = this.closed;
    this.closed = [];
    for (const { firstAtMs, ...values } of tallies) {
      try {
        const line = emfLine({
          table: this.setup.table,
          ...(this.setup.perPoller ? { perPollerId: this.pollerId } : {}),
          timestampMs: firstAtMs,
          values,
          properties: { pollerId: this.pollerId },
        });
        if (line !== undefined) this.setup.sink(line);
      } catch {
        // Dropped: a failing sink or encoder must never change how a round ends, nor stop its ticks.
      }
    }
  }

  /** The tally of `nowMs`'s minute; one of an earlier minute is closed (kept for the next flush, no I/O here). */
  private tally(nowMs: number): Tally {
    if (this.current && !sameMinute(this.current, nowMs)) this.closed.push(this.current);
    else if (this.current) return this.current;
    this.current = {
      firstAtMs: nowMs,
      fires: 0,
      controllerPrecisionMs: [],
      skippedTicks: 0,
      failedFires: 0,
      overlapSkips: 0,
      loopStarts: 0,
    };
    return this.current;
  }
}

function sameMinute(tally: Tally, nowMs: number): boolean {
  return (
    Math.floor(tally.firstAtMs / METRICS_FLUSH_INTERVAL_MS) === Math.floor(nowMs / METRICS_FLUSH_INTERVAL_MS)
  );
}
