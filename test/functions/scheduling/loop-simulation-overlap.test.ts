import { describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { simulateLoop } from './loop-simulator';

/** A long-lived invocation (its deadline 14 minutes on), so the loop's own decisions show, not hand-backs. */
const LONG_INVOCATION_MS = 14 * 60_000;

function simulateOverlap(intervalMs: number, workerRunMs: number, overlap: 'allow' | 'skip') {
  return simulateLoop({
    intervalMs,
    ticks: 20,
    seed: 7,
    maxWakeLateMs: 300,
    maxIoMs: 20,
    invocationMs: () => LONG_INVOCATION_MS,
    itemFields: { [FIELD.overlap]: { S: overlap } },
    workerRunMs,
    throughJson: true,
  });
}

describe('the overlap policy over a running loop', () => {
  it('skip fires every other tick at 1 s when each fire runs 1.5 s, seqs consecutive, skips counted', async () => {
    // act
    const { fired, overlapSkips } = await simulateOverlap(1_000, 1_500, 'skip');

    // assess
    expect(fired.map((tick) => tick.seq)).toEqual(fired.map((_, index) => (fired[0]?.seq ?? 0) + index));
    const gaps = fired.slice(1).map((tick, index) => tick.dueAt - (fired[index]?.dueAt ?? 0));
    expect(new Set(gaps)).toEqual(new Set([2_000]));
    expect(overlapSkips).toBe(fired.length - 1);
  });

  it('allow fires every tick at 1 s, however long each fire runs', async () => {
    // act
    const { fired, overlapSkips } = await simulateOverlap(1_000, 1_500, 'allow');

    // assess
    const gaps = fired.slice(1).map((tick, index) => tick.dueAt - (fired[index]?.dueAt ?? 0));
    expect(new Set(gaps)).toEqual(new Set([1_000]));
    expect(overlapSkips).toBe(0);
  });

  it('skip at 30 s (a loop that hands back) stays awake for a 45 s fire and skips the tick in between', async () => {
    // act
    const { fired, overlapSkips, handBacks } = await simulateOverlap(30_000, 45_000, 'skip');

    // assess: the skipped tick is seen because the invocation stayed awake through it
    const gaps = fired.slice(1).map((tick, index) => tick.dueAt - (fired[index]?.dueAt ?? 0));
    expect(new Set(gaps)).toEqual(new Set([60_000]));
    // One skip between two fires, and maybe the one after the last (the invocation stays awake through it).
    expect(overlapSkips).toBeGreaterThanOrEqual(fired.length - 1);
    expect(overlapSkips).toBeLessThanOrEqual(fired.length);
    expect(handBacks.length).toBeGreaterThan(0);
  });

  it('skip fires every tick when each fire answers within the interval', async () => {
    // act
    const { fired, overlapSkips } = await simulateOverlap(1_000, 600, 'skip');

    // assess
    const gaps = fired.slice(1).map((tick, index) => tick.dueAt - (fired[index]?.dueAt ?? 0));
    expect(new Set(gaps)).toEqual(new Set([1_000]));
    expect(overlapSkips).toBe(0);
  });
});
