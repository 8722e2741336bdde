/** Summary statistics of a timing series, in the unit of the series (ms here). */
export interface SeriesSummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Least-squares slope of the value over its index (ms per tick): 0 for a schedule that does not drift. */
  readonly driftPerTick: number;
  /** Standard error of that slope: with few ticks, the latency model's own noise alone moves it this much. */
  readonly driftStandardError: number;
}

/**
 * Nearest-rank percentile: the smallest value with at least p % of the values at or below it
 * (p99 of 200 values is the 198th smallest). No interpolation, so the figure is always a measured value.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (!(p > 0 && p <= 100)) throw new Error(`percentile must be in (0, 100]; got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

/** Ordinary least-squares slope of y over x = 0, 1, 2, …; 0 for fewer than two points. */
export function slopePerIndex(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const meanX = (n - 1) / 2;
  const meanY = values.reduce((sum, value) => sum + value, 0) / n;
  let covariance = 0;
  let varianceX = 0;
  values.forEach((value, index) => {
    covariance += (index - meanX) * (value - meanY);
    varianceX += (index - meanX) ** 2;
  });
  return covariance / varianceX;
}

/** Standard error of the least-squares slope over x = 0, 1, 2, …; NaN for fewer than three points. */
export function slopeStandardError(values: readonly number[]): number {
  const n = values.length;
  if (n < 3) return Number.NaN;
  const slope = slopePerIndex(values);
  const meanX = (n - 1) / 2;
  const meanY = values.reduce((sum, value) => sum + value, 0) / n;
  let residuals = 0;
  let varianceX = 0;
  values.forEach((value, index) => {
    residuals += (value - (meanY + slope * (index - meanX))) ** 2;
    varianceX += (index - meanX) ** 2;
  });
  return Math.sqrt(residuals / (n - 2) / varianceX);
}

export function summarize(values: readonly number[]): SeriesSummary {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
    driftPerTick: slopePerIndex(values),
    driftStandardError: slopeStandardError(values),
  };
}
