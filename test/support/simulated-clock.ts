import type { Clock } from '../../functions/shared/clock';

export interface SimulatedClockOptions {
  /** Where time starts (epoch ms). */
  readonly startMs: number;
  /**
   * How far a timer is off, given the time asked for: negative fires early (a clock step), positive late (a busy
   * event loop). Exact by default. Time never moves backwards: a sleep moves it by at least 0.
   */
  readonly timerErrorMs?: (requestedMs: number) => number;
  /**
   * Let callbacks of real I/O already under way run before time moves (one turn of the event loop per sleep), so a
   * request the code under test sends without awaiting it goes out at the time it was sent. For tests whose I/O is
   * real; a pure simulation leaves it off.
   */
  readonly yieldToEventLoop?: boolean;
}

/**
 * A clock whose time moves only when the code under test awaits `sleep`, or when the test moves it (`advance`) for
 * what happens outside that code: I/O latency, a Wait state, a late start. Timing assertions then hold on any
 * machine, however loaded, and a sleep that is too short shows as a time that is too early.
 */
export interface SimulatedClock extends Clock {
  /** Moves time forward by `ms`, as something outside the code under test takes that long. */
  advance(ms: number): void;
  /** Moves time forward to `atMs`, if it is not there yet. */
  advanceTo(atMs: number): void;
  /** The current time, without counting as a read by the code under test. */
  peek(): number;
  /** How often the code under test read the clock (a spin reads it over and over without sleeping). */
  reads(): number;
  /** Every sleep the code under test asked for, in ms, in order. */
  readonly sleeps: readonly number[];
}

export function simulatedClock(options: SimulatedClockOptions): SimulatedClock {
  let nowMs = options.startMs;
  let reads = 0;
  const sleeps: number[] = [];
  const timerErrorMs = options.timerErrorMs ?? (() => 0);
  return {
    now: () => {
      reads += 1;
      return nowMs;
    },
    sleep: async (ms) => {
      sleeps.push(ms);
      if (options.yieldToEventLoop) await new Promise<void>((resolve) => setImmediate(resolve));
      nowMs += Math.max(0, ms + timerErrorMs(ms));
    },
    advance: (ms) => {
      nowMs += Math.max(0, ms);
    },
    advanceTo: (atMs) => {
      nowMs = Math.max(nowMs, atMs);
    },
    peek: () => nowMs,
    reads: () => reads,
    sleeps,
  };
}
