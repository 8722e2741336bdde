/** The controller's only view of time, so tests and the benchmark can drive it. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** False for simulated clocks, whose time only moves when sleep() is awaited. */
  readonly spins?: boolean;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve()),
};

/** Timers fire late when the event loop is busy (GC, other work); sleep to this much before the target, then spin. */
export const SPIN_MS = 20;

/**
 * Sleeps until the clock reaches `atMs` to the millisecond: a timer for the bulk, a short spin for the rest
 * (Lambda bills duration, not CPU, so the spin costs nothing extra).
 */
export async function sleepUntil(clock: Clock, atMs: number): Promise<void> {
  for (let remaining = atMs - clock.now(); remaining > SPIN_MS; remaining = atMs - clock.now()) {
    await clock.sleep(remaining - SPIN_MS);
  }
  if (clock.spins === false) {
    while (clock.now() < atMs) await clock.sleep(atMs - clock.now());
    return;
  }
  while (clock.now() < atMs) {
    // Spin: the last milliseconds are below the timer's resolution.
  }
}
