import { describe, expect, it } from 'vitest';
import { tickDueAt, ticksToSkip, wakeAtFor } from '../../../functions/scheduling/tick-schedule';

const ANCHOR_AT = Date.parse('2030-01-01T00:00:00.250Z');

describe('tickDueAt', () => {
  it('puts tick k at anchorAt + (k - anchorSeq) × interval', () => {
    // prepare
    const loop = { anchorAt: ANCHOR_AT, anchorSeq: 7, config: { running: true, intervalMs: 1_500 } };

    // act
    const dueTimes = [7, 8, 10, 1_007].map((seq) => tickDueAt(loop, seq));

    // assess
    expect(dueTimes).toEqual([ANCHOR_AT, ANCHOR_AT + 1_500, ANCHOR_AT + 4_500, ANCHOR_AT + 1_500_000]);
  });

  it('places ticks before the anchor seq earlier than the anchor', () => {
    // prepare
    const loop = { anchorAt: ANCHOR_AT, anchorSeq: 7, config: { running: true, intervalMs: 1_500 } };

    // act
    const dueAt = tickDueAt(loop, 5);

    // assess
    expect(dueAt).toBe(ANCHOR_AT - 3_000);
  });
});

describe('wakeAtFor', () => {
  it.each([
    { dueAtMs: 10_700, leadMs: 500, expected: 10_000 },
    { dueAtMs: 10_500, leadMs: 500, expected: 10_000 },
    { dueAtMs: 10_499, leadMs: 500, expected: 9_000 },
    { dueAtMs: 11_000, leadMs: 0, expected: 11_000 },
    { dueAtMs: ANCHOR_AT, leadMs: 500, expected: ANCHOR_AT - 1_250 },
  ])(
    'wakes $dueAtMs with lead $leadMs on the latest whole second $expected',
    ({ dueAtMs, leadMs, expected }) => {
      // act
      const wakeAt = wakeAtFor(dueAtMs, leadMs);

      // assess
      expect(wakeAt).toBe(expected);
    },
  );

  it('always returns a whole second at least the lead and less than lead + 1 s before the tick', () => {
    // prepare
    const leadMs = 500;
    const dueTimes = Array.from({ length: 2_000 }, (_, i) => ANCHOR_AT + i * 37);

    // act
    const wakeTimes = dueTimes.map((dueAt) => wakeAtFor(dueAt, leadMs));

    // assess
    wakeTimes.forEach((wakeAt, i) => {
      const dueAt = dueTimes[i] as number;
      expect(wakeAt % 1_000).toBe(0);
      expect(dueAt - wakeAt).toBeGreaterThanOrEqual(leadMs);
      expect(dueAt - wakeAt).toBeLessThan(leadMs + 1_000);
    });
  });
});

describe('ticksToSkip', () => {
  it.each([0, 1, 250, 499])('skips nothing when late by %i ms of a 1000 ms interval', (lateByMs) => {
    // act
    const skipped = ticksToSkip(lateByMs, 1_000);

    // assess
    expect(skipped).toBe(0);
  });

  it('skips nothing when the tick is not yet due', () => {
    // act
    const skipped = ticksToSkip(-5_000, 1_000);

    // assess
    expect(skipped).toBe(0);
  });

  it.each([
    { lateByMs: 500, expected: 1 },
    { lateByMs: 999, expected: 1 },
    { lateByMs: 1_000, expected: 1 },
    { lateByMs: 1_499, expected: 1 },
    { lateByMs: 1_500, expected: 2 },
    { lateByMs: 2_500, expected: 3 },
    { lateByMs: 60_999, expected: 61 },
  ])('skips $expected ticks when late by $lateByMs ms of a 1000 ms interval', ({ lateByMs, expected }) => {
    // act
    const skipped = ticksToSkip(lateByMs, 1_000);

    // assess
    expect(skipped).toBe(expected);
  });

  it('leaves the surviving tick late by less than half an interval (or not due yet) whenever it skips', () => {
    // prepare
    const intervalMs = 1_500;
    const lateness = Array.from({ length: 3_000 }, (_, i) => intervalMs / 2 + i * 7);

    // act
    const remaining = lateness.map((lateByMs) => lateByMs - ticksToSkip(lateByMs, intervalMs) * intervalMs);

    // assess: the survivor is at most half an interval early, so it is never closer than that to a fire before it
    for (const lateByMs of remaining) {
      expect(lateByMs).toBeGreaterThanOrEqual(-intervalMs / 2);
      expect(lateByMs).toBeLessThan(intervalMs / 2);
    }
  });
});
