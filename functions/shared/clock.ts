/** The controller's only view of time, so tests and the benchmark can drive it. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve()),
};

/** Sleeps until the wall clock reaches `atMs`; setTimeout may wake a little early, so check and top up. */
export async function sleepUntil(clock: Clock, atMs: number): Promise<void> {
  for (let remaining = atMs - clock.now(); remaining > 0; remaining = atMs - clock.now()) {
    await clock.sleep(remaining);
  }
}
