import { describe, expect, it } from 'vitest';
import { type Clock, sleepUntil, systemClock } from '../../../functions/shared/clock';

const START_MS = Date.parse('2030-01-01T00:00:00.250Z');

/**
 * A simulated clock: time moves only when sleep() is awaited, by the requested time plus whatever `drift` says
 * (negative: a timer that fires early; positive: one that fires late). `reads` counts now() calls, so a test can
 * tell a timer wait from a spin (a spin reads the clock over and over without sleeping).
 */
function simulatedClock(drift: (requestedMs: number) => number = () => 0) {
  let nowMs = START_MS;
  let reads = 0;
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => {
      reads += 1;
      return nowMs;
    },
    sleep: async (ms) => {
      sleeps.push(ms);
      nowMs += Math.max(0, ms + drift(ms));
    },
  };
  return { clock, sleeps, now: () => nowMs, reads: () => reads };
}

describe('sleepUntil with a simulated clock', () => {
  it('returns exactly at the target when the timer is exact, after one timer', async () => {
    // prepare
    const { clock, now, sleeps } = simulatedClock();

    // act
    await sleepUntil(clock, START_MS + 1_234);

    // assess
    expect(now()).toBe(START_MS + 1_234);
    expect(sleeps).toEqual([1_234]);
  });

  it('never returns before the target when the timer fires early, and sleeps again for what is left', async () => {
    // prepare
    const { clock, now, sleeps } = simulatedClock((requestedMs) => -Math.floor(requestedMs / 3));

    // act
    await sleepUntil(clock, START_MS + 5_000);

    // assess
    expect(now()).toBeGreaterThanOrEqual(START_MS + 5_000);
    const slept = 5_000 - Math.floor(5_000 / 3);
    expect(sleeps.slice(0, 2)).toEqual([5_000, 5_000 - slept]);
  });

  it('returns after the target, not before, when the timer fires late', async () => {
    // prepare
    const { clock, now } = simulatedClock(() => 7);

    // act
    await sleepUntil(clock, START_MS + 100);

    // assess
    expect(now()).toBe(START_MS + 107);
  });

  it('waits for the last millisecond on a timer, not by spinning', async () => {
    // prepare
    const { clock, sleeps, now, reads } = simulatedClock();

    // act
    await sleepUntil(clock, START_MS + 1);

    // assess
    expect(sleeps).toEqual([1]);
    expect(now()).toBe(START_MS + 1);
    expect(reads()).toBe(2);
  });

  it('returns at once, without sleeping, when the target has passed', async () => {
    // prepare
    const { clock, sleeps, now } = simulatedClock();

    // act
    await sleepUntil(clock, START_MS - 500);

    // assess
    expect(sleeps).toEqual([]);
    expect(now()).toBe(START_MS);
  });
});

describe('sleepUntil with the system clock', () => {
  it('never wakes before the target and spends almost no CPU while it waits (no busy-wait)', async () => {
    // prepare
    const targetMs = Date.now() + 300;
    const cpuBefore = process.cpuUsage();

    // act
    await sleepUntil(systemClock, targetMs);
    const wokeAt = Date.now();
    const cpu = process.cpuUsage(cpuBefore);

    // assess: a spin of even the last 20 ms would cost ≥ 20 ms of CPU; timers cost well under that
    expect(wokeAt).toBeGreaterThanOrEqual(targetMs);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(15);
  });
});
