import { describe, expect, it } from 'vitest';
import { percentile, slopePerIndex, slopeStandardError, summarize } from '../../../scripts/bench/stats';

describe('percentile (nearest rank)', () => {
  const oneToHundred = Array.from({ length: 100 }, (_, index) => index + 1);

  it('takes the value at rank ceil(p × n)', () => {
    expect(percentile(oneToHundred, 50)).toBe(50);
    expect(percentile(oneToHundred, 99)).toBe(99);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile([3, 1, 2], 50)).toBe(2);
  });

  it('does not depend on the input order', () => {
    expect(percentile([...oneToHundred].reverse(), 99)).toBe(99);
  });

  it('is NaN for no values', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('slopePerIndex', () => {
  it('finds the slope of a straight line', () => {
    expect(slopePerIndex([5, 7, 9, 11])).toBeCloseTo(2, 12);
  });

  it('is zero for a flat series and for a single point', () => {
    expect(slopePerIndex([4, 4, 4])).toBe(0);
    expect(slopePerIndex([4])).toBe(0);
  });

  it('fits noise around a line by least squares', () => {
    // y = 1, 2, 2, 4: mean x 1.5, mean y 2.25; cov = 4.5 / var 5 = 0.9.
    expect(slopePerIndex([1, 2, 2, 4])).toBeCloseTo(0.9, 12);
  });
});

describe('summarize', () => {
  it('reports count, p50, p99, max and drift', () => {
    expect(summarize([10, 20, 30, 40])).toEqual({
      count: 4,
      p50: 20,
      p99: 40,
      max: 40,
      driftPerTick: 10,
      driftStandardError: 0,
    });
  });
});

describe('slopeStandardError', () => {
  it('measures how far noise can move the slope', () => {
    // Residuals of [1, 2, 2, 4] around 0.9x + 0.9: 0.1, 0.2, -0.7, 0.4 → SSE 0.7; sqrt(0.7 / 2 / 5).
    expect(slopeStandardError([1, 2, 2, 4])).toBeCloseTo(Math.sqrt(0.07), 12);
  });

  it('is NaN below three points', () => {
    expect(slopeStandardError([1, 2])).toBeNaN();
  });
});
