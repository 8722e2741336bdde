/** The controller's only view of time, so tests and the benchmark can drive it. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve()),
};

/**
 * Sleeps until the clock reaches `atMs`, on timers only. A timer may fire early (a clock step) or late (a busy
 * event loop): sleep again for whatever is left, never return before the target.
 *
 * No spinning, ever: Lambda gives a 128 MB function about 7% of a core and throttles it in short periods, so a
 * spin before the tick would spend the very CPU share the tick needs and make it tens of ms late. A timer on an
 * otherwise idle sandbox fires within a millisecond or two.
 */
export async function sleepUntil(clock: Clock, atMs: number): Promise<void> {
  for (let remaining = atMs - clock.now(); remaining > 0; remaining = atMs - clock.now()) {
    await clock.sleep(remaining);
  }
}
