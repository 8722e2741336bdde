import { WAIT_SECONDS_LIMITS } from './contract';
import { InvalidIntervalError } from './errors';

/** A cadence accepted by parseWaitInterval: the seconds as given and the whole milliseconds the scheduler uses. */
export interface WaitInterval {
  readonly seconds: number;
  readonly intervalMs: number;
}

/** WAIT_SECONDS_LIMITS in the scheduler's whole milliseconds (the loop state carries `intervalMs`). */
export const INTERVAL_MS_LIMITS = {
  min: Math.round(WAIT_SECONDS_LIMITS.min * 1000),
  max: Math.round(WAIT_SECONDS_LIMITS.max * 1000),
} as const;

/**
 * The one check on a cadence, wherever one comes in: the control item's `waitseconds` (an N attribute's text), the
 * seed's WaitSeconds property (CloudFormation passes text), `ctl --every` and `npm start -- --every`. Takes a number
 * or the text of one (blank text is not zero); returns the interval, or an error naming the value and the range.
 */
export function parseWaitInterval(value: unknown): WaitInterval | InvalidIntervalError {
  const seconds =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : Number.NaN;
  if (!Number.isFinite(seconds) || seconds < WAIT_SECONDS_LIMITS.min || seconds > WAIT_SECONDS_LIMITS.max) {
    return new InvalidIntervalError(value, WAIT_SECONDS_LIMITS);
  }
  return { seconds, intervalMs: Math.round(seconds * 1000) };
}
