import { describe, expect, it } from 'vitest';
import { sleepUntil, systemClock } from '../../../functions/shared/clock';
import { simulatedClock } from '../../support/simulated-clock';

const START_MS = Date.parse('2030-01-01T00:00:00.250Z');

/** Timers exact by default; `timerErrorMs` makes them fire early (negative) or late (positive). */
const clockAtStart = (timerErrorMs?: (requestedMs: number) => number) =>
  simulatedClock({ startMs: START_MS, timerErrorMs });

describe('sleepUntil with a simulated clock', () => {
  it('returns exactly at the target when the timer is exact, after one timer', async () => {
    // prepare
    const clock = clockAtStart();

    // act
    await sleepUntil(clock, START_MS + 1_234);

    // assess
    expect(clock.peek()).toBe(START_MS + 1_234);
    expect(clock.sleeps).toEqual([1_234]);
  });

  it('never returns before the target when the timer fires early, and sleeps again for what is left', async () => {
    // prepare
    const clock = clockAtStart((requestedMs) => -Math.floor(requestedMs / 3));

    // act
    await sleepUntil(clock, START_MS + 5_000);

    // assess
    expect(clock.peek()).toBeGreaterThanOrEqual(START_MS + 5_000);
    const slept = 5_000 - Math.floor(5_000 / 3);
    expect(clock.sleeps.slice(0, 2)).toEqual([5_000, 5_000 - slept]);
  });

  it('returns after the target, not before, when the timer fires late', async () => {
    // prepare
    const clock = clockAtStart(() => 7);

    // act
    await sleepUntil(clock, START_MS + 100);

    // assess
    expect(clock.peek()).toBe(START_MS + 107);
  });

  it('waits for the last millisecond on a timer, not by spinning', async () => {
    // prepare
    const clock = clockAtStart();

    // act
    await sleepUntil(clock, START_MS + 1);

    // assess
    expect(clock.sleeps).toEqual([1]);
    expect(clock.peek()).toBe(START_MS + 1);
    expect(clock.reads()).toBe(2);
  });

  it('returns at once, without sleeping, when the target has passed', async () => {
    // prepare
    const clock = clockAtStart();

    // act
    await sleepUntil(clock, START_MS - 500);

    // assess
    expect(clock.sleeps).toEqual([]);
    expect(clock.peek()).toBe(START_MS);
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
