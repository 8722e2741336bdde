/**
 * Where a benchmark run is and when it will end. The plan is known before it starts (every run's ticks and cadence),
 * so each step has a planned duration; the ETA is what remains of the plan, scaled by how the finished steps' real
 * time compared with their plan (stack start-up and a loaded machine make every step longer alike).
 */

export interface BenchStep {
  /** What the step does, as the progress line says it (`timing 128 MB, 1 s: 30 ticks, then the recipe`). */
  readonly label: string;
  readonly plannedMs: number;
}

/** A local stack's start and stop around a run (sandboxes, endpoints): measured at a few seconds on 2 cores. */
export const STEP_OVERHEAD_MS = 4_000;

/**
 * How long a cadence run should take: the first tick a second after the start, the ticks, the stop (within one
 * interval), the recipe as many ticks again when it runs, and the stack around it.
 */
export function plannedRunMs(everySeconds: number, ticks: number, withRecipe: boolean): number {
  const intervalMs = everySeconds * 1_000;
  return STEP_OVERHEAD_MS + 1_000 + ticks * intervalMs * (withRecipe ? 2 : 1) + intervalMs;
}

/** The moment the progress is read: which step runs, since when, and when the whole run began (epoch ms). */
export interface ProgressMoment {
  readonly step: number;
  readonly stepStartedMs: number;
  readonly startedMs: number;
  readonly nowMs: number;
}

/** Milliseconds the plan still needs from this moment, scaled by the pace of the steps already done. */
export function remainingMs(steps: readonly BenchStep[], moment: ProgressMoment): number {
  const plannedBefore = steps.slice(0, moment.step).reduce((sum, step) => sum + step.plannedMs, 0);
  const pace = plannedBefore > 0 ? (moment.stepStartedMs - moment.startedMs) / plannedBefore : 1;
  const current = steps[moment.step]?.plannedMs ?? 0;
  const currentLeft = Math.max(0, current * pace - (moment.nowMs - moment.stepStartedMs));
  const after = steps.slice(moment.step + 1).reduce((sum, step) => sum + step.plannedMs, 0);
  return currentLeft + after * pace;
}

/** `[3/14] timing 128 MB, 1 s: 30 ticks, then the recipe · 1:20 elapsed · about 2:10 left`. */
export function progressLine(steps: readonly BenchStep[], moment: ProgressMoment): string {
  const label = steps[moment.step]?.label ?? 'finishing';
  const elapsed = clockText(moment.nowMs - moment.startedMs);
  return `[${moment.step + 1}/${steps.length}] ${label} · ${elapsed} elapsed · about ${clockText(remainingMs(steps, moment))} left`;
}

/** `1:05`, `12:00`, `1:02:03`: minutes and seconds (hours when there are any). */
export function clockText(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1_000));
  const [hours, minutes, seconds] = [Math.floor(total / 3_600), Math.floor(total / 60) % 60, total % 60];
  const two = (value: number) => String(value).padStart(2, '0');
  return hours > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${minutes}:${two(seconds)}`;
}

export interface ProgressOutput {
  /** A terminal: one line rewritten in place. Otherwise (piped, a log file): whole lines now and then. */
  readonly isTTY: boolean;
  write(text: string): void;
}

/** On a terminal the line is redrawn this often; piped, a line is written at each step and at most this often. */
export const TTY_REFRESH_MS = 1_000;
export const PIPED_EVERY_MS = 30_000;

/**
 * Shows the progress of a run through its steps on stderr: on a terminal one line, rewritten every second, that
 * other log lines print above; piped, a plain line when a step begins and every 30 s within a long one.
 */
export class BenchProgress {
  private step = -1;
  private stepStartedMs = 0;
  private lastWrittenMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedMs: number;

  constructor(
    private readonly steps: readonly BenchStep[],
    private readonly out: ProgressOutput,
    private readonly clock: () => number = Date.now,
  ) {
    this.startedMs = clock();
  }

  /** Step `index` begins. */
  begin(index: number): void {
    this.step = index;
    this.stepStartedMs = this.clock();
    this.show(true);
    if (this.timer === undefined) {
      // Piped, show() writes only every PIPED_EVERY_MS; on a terminal it redraws the line each time.
      this.timer = setInterval(() => this.show(false), TTY_REFRESH_MS);
      // A progress line never keeps the process alive.
      this.timer.unref();
    }
  }

  /** Another log line: printed above the progress line (on a terminal the line is cleared and drawn again). */
  log(line: string): void {
    if (!this.out.isTTY || this.step < 0) {
      this.out.write(`${line}\n`);
      return;
    }
    this.out.write(`\r${CLEAR_LINE}${line}\n`);
    this.show(false);
  }

  /** The run is over: the terminal line is left as the last word, ended by a newline. */
  finish(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.out.isTTY && this.step >= 0) this.out.write(`\r${CLEAR_LINE}`);
    this.step = -1;
  }

  /** Reads the progress at `nowMs` (for tests and the piped log). */
  lineAt(nowMs: number): string {
    return progressLine(this.steps, {
      step: this.step,
      stepStartedMs: this.stepStartedMs,
      startedMs: this.startedMs,
      nowMs,
    });
  }

  private show(stepBegan: boolean): void {
    if (this.step < 0) return;
    const nowMs = this.clock();
    if (this.out.isTTY) {
      this.out.write(`\r${CLEAR_LINE}${this.lineAt(nowMs)}`);
      return;
    }
    if (stepBegan || nowMs - this.lastWrittenMs >= PIPED_EVERY_MS) {
      this.lastWrittenMs = nowMs;
      this.out.write(`${this.lineAt(nowMs)}\n`);
    }
  }
}

/** ECMA-48 "erase in line" (to its end): the previous, longer text does not show through. */
const CLEAR_LINE = '\x1b[K';
