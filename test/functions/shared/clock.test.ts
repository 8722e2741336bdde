import { describe, expect, it } from 'vitest';
import { type Clock, SPIN_MS, sleepUntil, systemClock } from '../../../functions/shared/clock';

const START_MS = Date.parse('2030-01-01T00:00:00.250Z');

/**
 * A simulated clock: time moves only when sleep() is awaited, by the requested time plus whatever `drift` says
 * (negative: a timer that fires early; positive: one that fires late).
 */
function simulatedClock(drift: (requestedMs: number) => number = () => 0) {
  let nowMs = START_MS;
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => nowMs,
    sleep: async (ms) => {
      sleeps.push(ms);
      nowMs += Math.max(0, ms + drift(ms));
    },
    spins: false,
  };
  return { clock, sleeps, now: () => nowMs };
}

describe('sleepUntil with a simulated clock', () => {
  it('returns exactly at the target when the timer is exact', async () => {
    // prepare
    const { clock, now } = simulatedClock();

    // act
    await sleepUntil(clock, START_MS + 1_234);

    // assess
    expect(now()).toBe(START_MS + 1_234);
  });

  it('never returns before the target when the timer fires early', async () => {
    // prepare
    const { clock, now } = simulatedClock((requestedMs) => -Math.floor(requestedMs / 3));

    // act
    await sleepUntil(clock, START_MS + 5_000);

    // assess
    expect(now()).toBeGreaterThanOrEqual(START_MS + 5_000);
  });

  it('sleeps again for what is left after an early timer', async () => {
    // prepare
    const { clock, sleeps } = simulatedClock((requestedMs) => -Math.floor(requestedMs / 3));

    // act
    await sleepUntil(clock, START_MS + 5_000);

    // assess
    // All but SPIN_MS requested, a third less slept: what is left, all but the last SPIN_MS, on the timer again.
    const first = 5_000 - SPIN_MS;
    const slept = first - Math.floor(first / 3);
    expect(sleeps.slice(0, 2)).toEqual([first, 5_000 - slept - SPIN_MS]);
  });

  it('returns after the target, not before, when the timer fires late', async () => {
    // prepare
    const { clock, now } = simulatedClock(() => 7);

    // act
    await sleepUntil(clock, START_MS + 100);

    // assess
    expect(now()).toBeGreaterThanOrEqual(START_MS + 100);
    expect(now()).toBeLessThanOrEqual(START_MS + 100 + 7);
  });

  it('sleeps through the last milliseconds instead of spinning when the clock does not spin', async () => {
    // prepare
    const { clock, sleeps, now } = simulatedClock();

    // act
    await sleepUntil(clock, START_MS + 1);

    // assess
    expect(sleeps).toEqual([1]);
    expect(now()).toBe(START_MS + 1);
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

describe('sleepUntil with a spinning clock', () => {
  it('sleeps on a timer for all but the last SPIN_MS and spins the rest', async () => {
    // prepare: now() moves a tenth of a millisecond per call, like real time passing during a spin
    let nowMs = 1_000;
    const sleeps: number[] = [];
    const clock: Clock = {
      now: () => {
        nowMs += 0.1;
        return nowMs;
      },
      sleep: async (ms) => {
        sleeps.push(ms);
        nowMs += ms;
      },
    };

    // act
    await sleepUntil(clock, 1_050);

    // assess
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeCloseTo(50 - 0.1 - SPIN_MS, 6);
    expect(nowMs).toBeGreaterThanOrEqual(1_050);
    expect(nowMs).toBeLessThan(1_050.2);
  });
});

describe('sleepUntil with the system clock', () => {
  it('wakes at the target, not before it, and within 30 ms after it', async () => {
    // prepare
    const targetMs = Date.now() + 60;

    // act
    await sleepUntil(systemClock, targetMs);
    const wokeAt = Date.now();

    // assess
    expect(wokeAt).toBeGreaterThanOrEqual(targetMs);
    expect(wokeAt - targetMs).toBeLessThan(30);
  });

  it('reaches each of several close targets in order, never early', async () => {
    // prepare
    const firstMs = Date.now() + 20;
    const targets = [0, 5, 10, 11, 40].map((offsetMs) => firstMs + offsetMs);

    // act
    const wakeTimes: number[] = [];
    for (const targetMs of targets) {
      await sleepUntil(systemClock, targetMs);
      wakeTimes.push(Date.now());
    }

    // assess
    wakeTimes.forEach((wokeAt, i) => {
      expect(wokeAt).toBeGreaterThanOrEqual(targets[i] as number);
    });
    expect((wakeTimes.at(-1) as number) - (targets.at(-1) as number)).toBeLessThan(30);
  });
});
