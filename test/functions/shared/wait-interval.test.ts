import { describe, expect, it } from 'vitest';
import { WAIT_SECONDS_LIMITS } from '../../../functions/shared/contract';
import { InvalidIntervalError } from '../../../functions/shared/errors';
import { INTERVAL_MS_LIMITS, parseWaitInterval } from '../../../functions/shared/wait-interval';

const RANGE = `from ${WAIT_SECONDS_LIMITS.min} to ${WAIT_SECONDS_LIMITS.max}`;

describe('parseWaitInterval: what it accepts', () => {
  it.each([
    { label: 'the lower bound as a number', value: WAIT_SECONDS_LIMITS.min, seconds: 0.1, intervalMs: 100 },
    { label: 'the lower bound as text', value: '0.1', seconds: 0.1, intervalMs: 100 },
    { label: 'the upper bound', value: WAIT_SECONDS_LIMITS.max, seconds: 3600, intervalMs: 3_600_000 },
    { label: 'the upper bound as text', value: '3600', seconds: 3600, intervalMs: 3_600_000 },
    { label: 'a whole number', value: 5, seconds: 5, intervalMs: 5_000 },
    { label: 'decimal text', value: '17.5', seconds: 17.5, intervalMs: 17_500 },
    { label: 'text with leading zeros', value: '05.50', seconds: 5.5, intervalMs: 5_500 },
    { label: 'sub-millisecond digits (rounded to ms)', value: '1.0004', seconds: 1.0004, intervalMs: 1_000 },
    { label: 'exponent text', value: '1e1', seconds: 10, intervalMs: 10_000 },
  ])('accepts $label', ({ value, seconds, intervalMs }) => {
    // act
    const interval = parseWaitInterval(value);

    // assess
    expect(interval).toEqual({ seconds, intervalMs });
  });

  it('keeps the millisecond limits the loop state is checked against equal to the seconds limits', () => {
    expect(INTERVAL_MS_LIMITS).toEqual({ min: 100, max: 3_600_000 });
  });
});

describe('parseWaitInterval: what it refuses', () => {
  it.each([
    { label: 'text that is no number', value: 'abc', rendered: '"abc"' },
    { label: 'a negative number', value: -1, rendered: '-1' },
    { label: 'negative text', value: '-0.5', rendered: '"-0.5"' },
    { label: 'zero', value: 0, rendered: '0' },
    { label: 'just below the lower bound', value: 0.0999, rendered: '0.0999' },
    { label: 'just above the upper bound', value: '3600.001', rendered: '"3600.001"' },
    { label: 'a day (86400 s)', value: 86_400, rendered: '86400' },
    { label: 'a huge number', value: 1e308, rendered: '1e+308' },
    { label: 'Infinity', value: Number.POSITIVE_INFINITY, rendered: 'null' },
    { label: 'NaN', value: Number.NaN, rendered: 'null' },
    { label: "the text 'NaN'", value: 'NaN', rendered: '"NaN"' },
    { label: 'empty text (not zero)', value: '', rendered: '""' },
    { label: 'blank text', value: '  ', rendered: '"  "' },
    { label: 'a boolean', value: true, rendered: 'true' },
    { label: 'null', value: null, rendered: 'null' },
    { label: 'nothing', value: undefined, rendered: 'undefined' },
    { label: 'an object', value: { N: '5' }, rendered: '{"N":"5"}' },
  ])('refuses $label, naming the value and the range', ({ value, rendered }) => {
    // act
    const result = parseWaitInterval(value);

    // assess
    expect(result).toBeInstanceOf(InvalidIntervalError);
    if (!(result instanceof InvalidIntervalError)) return;
    const error = result;
    expect(error.name).toBe('InvalidIntervalError');
    expect(error.value).toBe(value);
    expect(error.expected).toBe(`a number of seconds ${RANGE}, decimals allowed`);
    expect(error.message).toBe(
      `waitseconds must be a number of seconds ${RANGE}, decimals allowed; got ${rendered}`,
    );
  });
});
