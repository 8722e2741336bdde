import { describe, expect, it } from 'vitest';
import {
  countDuplicates,
  emptySlotsOf,
  type FleetFire,
  failsClearly,
  fleetTickStats,
  judgeFleet,
  percentiles,
} from '../../../scripts/bench/fleet-stats';

/** A fire of `poller`'s tick `seq` scheduled at `at`, sent `sent` ms and started `late` ms after it. */
const fire = (poller: string, seq: number, at: number, sent = 1, late = 30): FleetFire => ({
  poller,
  seq,
  scheduledAtMs: at,
  sentAtMs: at + sent,
  firedAtMs: at + late,
});

/** Ticks 1… of a 1 s poller whose grid starts at 500 ms, one per slot from `from` to `to` (exclusive). */
const everySecond = (poller: string, from: number, to: number): FleetFire[] =>
  Array.from({ length: to - from }, (_, index) => fire(poller, from + index, 500 + (from + index) * 1000));

const window = { startMs: 10_000, endMs: 20_000 };

describe('countDuplicates', () => {
  it('counts every fire of a poller+seq after its first', () => {
    const fires = [
      fire('a', 1, 0),
      fire('a', 2, 1000),
      fire('a', 2, 1000),
      fire('a', 2, 1000),
      fire('b', 1, 0),
    ];
    expect(countDuplicates(fires)).toBe(2);
  });

  it('does not take the same seq of two pollers for a duplicate', () => {
    expect(countDuplicates([fire('a', 7, 0), fire('b', 7, 0)])).toBe(0);
  });
});

describe('emptySlotsOf', () => {
  const poller = { id: 'a', intervalMs: 1000 };

  it('finds none when every slot of the window fired', () => {
    // Slots 10.5 s … 19.5 s are the window's ten.
    expect(emptySlotsOf(poller, everySecond('a', 0, 25), window)).toBe(0);
  });

  it('counts the slots of the window with no fire, on the grid of the first fire (warm-up included)', () => {
    const fires = everySecond('a', 0, 25).filter((tick) => tick.seq !== 12 && tick.seq !== 13);
    expect(emptySlotsOf(poller, fires, window)).toBe(2);
  });

  it('does not count a missing slot outside the window', () => {
    const fires = everySecond('a', 0, 25).filter((tick) => tick.seq !== 5 && tick.seq !== 22);
    expect(emptySlotsOf(poller, fires, window)).toBe(0);
  });

  it('counts the slots after a loop that stopped firing', () => {
    expect(emptySlotsOf(poller, everySecond('a', 0, 15), window)).toBe(5);
  });

  it('counts every slot of a poller that never fired', () => {
    expect(emptySlotsOf(poller, [], window)).toBe(10);
  });

  it('follows a cadence slower than the window', () => {
    const slow = { id: 's', intervalMs: 60_000 };
    expect(emptySlotsOf(slow, [fire('s', 1, 5_000)], { startMs: 10_000, endMs: 70_000 })).toBe(1);
    expect(
      emptySlotsOf(slow, [fire('s', 1, 5_000), fire('s', 2, 65_000)], { startMs: 10_000, endMs: 70_000 }),
    ).toBe(0);
  });
});

describe('fleetTickStats', () => {
  it('measures only ticks scheduled in the window and sums per poller', () => {
    const fires = [
      ...everySecond('a', 0, 25),
      // b: slots 12 and 13 empty, one of them withheld on purpose (its item counts it); seq 15 delivered twice.
      ...everySecond('b', 0, 25).filter((tick) => tick.seq !== 12 && tick.seq !== 13),
      fire('b', 15, 15_500, 2, 90),
    ];
    const stats = fleetTickStats(
      fires,
      [
        { id: 'a', intervalMs: 1000, countedSkips: 0 },
        { id: 'b', intervalMs: 1000, countedSkips: 1 },
        { id: 'c', intervalMs: 1000, countedSkips: 0 },
      ],
      window,
    );
    expect(stats.fires).toBe(10 + 8 + 1);
    expect(stats.duplicates).toBe(1);
    expect(stats.emptySlots).toBe(2 + 10);
    expect(stats.countedSkips).toBe(1);
    expect(stats.missedTicks).toBe(1 + 10);
    expect(stats.silentPollers).toBe(1);
    expect(stats.precisionMs).toEqual({ count: 19, p50: 1, p99: 2, max: 2 });
    expect(stats.latenessMs.max).toBe(90);
  });

  it('does not let counted skips of one poller cover the misses of another', () => {
    const stats = fleetTickStats(
      [...everySecond('a', 0, 25), ...everySecond('b', 0, 15)],
      [
        { id: 'a', intervalMs: 1000, countedSkips: 3 },
        { id: 'b', intervalMs: 1000, countedSkips: 0 },
      ],
      window,
    );
    expect(stats.missedTicks).toBe(5);
    expect(stats.countedSkips).toBe(0);
  });
});

describe('judgeFleet', () => {
  const targets = { precisionP99Ms: 5, latenessP99Ms: 59.7 };
  const stats = fleetTickStats(
    everySecond('a', 0, 25),
    [{ id: 'a', intervalMs: 1000, countedSkips: 0 }],
    window,
  );

  it('passes a fleet within every target', () => {
    expect(judgeFleet(stats, targets)).toEqual({
      precision: true,
      lateness: true,
      noDuplicate: true,
      noMissedTick: true,
      all: true,
    });
  });

  it('fails each target on its own', () => {
    expect(judgeFleet({ ...stats, precisionMs: percentiles([6]) }, targets).precision).toBe(false);
    expect(judgeFleet({ ...stats, latenessMs: percentiles([60]) }, targets).lateness).toBe(false);
    expect(judgeFleet({ ...stats, duplicates: 1 }, targets).all).toBe(false);
    expect(judgeFleet({ ...stats, missedTicks: 1 }, targets).noMissedTick).toBe(false);
  });

  it('fails a fleet that fired nothing', () => {
    const silent = fleetTickStats([], [{ id: 'a', intervalMs: 1000, countedSkips: 0 }], window);
    expect(judgeFleet(silent, targets).all).toBe(false);
  });
});

describe('failsClearly', () => {
  const targets = { precisionP99Ms: 5, latenessP99Ms: 50 };
  const pollers = [{ id: 'a', intervalMs: 1000, countedSkips: 0 }];
  const stats = fleetTickStats(everySecond('a', 0, 25), pollers, window);

  it('lets a fleet that only just misses a target through to the next size', () => {
    expect(
      failsClearly({ ...stats, precisionMs: percentiles([40]), latenessMs: percentiles([99]) }, targets),
    ).toBe(false);
  });

  it('stops at lateness over twice its target, a duplicate, over 1% missed, or no fire', () => {
    expect(failsClearly({ ...stats, latenessMs: percentiles([101]) }, targets)).toBe(true);
    expect(failsClearly({ ...stats, duplicates: 1 }, targets)).toBe(true);
    expect(failsClearly(fleetTickStats(everySecond('a', 0, 19), pollers, window), targets)).toBe(true);
    expect(failsClearly(fleetTickStats([], pollers, window), targets)).toBe(true);
  });
});
