import { describe, expect, it } from 'vitest';
import {
  breakEvenIntervalMs,
  CONTROLLER_SIZE,
  chooseStrategy,
  type LambdaSize,
  lambdaCostPerMs,
  waitRoundCostUsd,
} from '../../../functions/scheduling/cost-model';

/**
 * Published us-east-1 prices, written out here on purpose: a mistaken edit of the price table must fail these
 * tests rather than silently move the break-even.
 */
const PUBLISHED = {
  stateTransitionUsd: 0.025 / 1_000,
  armGbSecondUsd: 0.0000133334,
  x86GbSecondUsd: 0.0000166667,
  lambdaRequestUsd: 0.2 / 1_000_000,
};

/** One Wait round: 3 state transitions, one Lambda request and about one second of a 128 MB controller. */
function roundCostByHand(gbSecondUsd: number): number {
  const computeUsd = (128 / 1024) * gbSecondUsd * 1;
  return 2 * PUBLISHED.stateTransitionUsd + PUBLISHED.lambdaRequestUsd + computeUsd;
}

/** Staying awake costs 128 MB of compute per ms; the break-even is the gap one round's cost buys. */
function breakEvenByHand(gbSecondUsd: number): number {
  const perMsUsd = ((128 / 1024) * gbSecondUsd) / 1_000;
  return roundCostByHand(gbSecondUsd) / perMsUsd;
}

const ARM_128: LambdaSize = { memoryMb: 128, architecture: 'arm64' };
const X86_128: LambdaSize = { memoryMb: 128, architecture: 'x86_64' };

describe('breakEvenIntervalMs', () => {
  it('is about 31 s for a 128 MB arm64 controller', () => {
    // act
    const breakEvenMs = breakEvenIntervalMs(ARM_128);

    // assess
    expect(breakEvenMs).toBe(Math.round(breakEvenByHand(PUBLISHED.armGbSecondUsd)));
    expect(breakEvenMs).toBeGreaterThan(30_500);
    expect(breakEvenMs).toBeLessThan(31_500);
  });

  it('is about 25 s for a 128 MB x86_64 controller', () => {
    // act
    const breakEvenMs = breakEvenIntervalMs(X86_128);

    // assess
    expect(breakEvenMs).toBe(Math.round(breakEvenByHand(PUBLISHED.x86GbSecondUsd)));
    expect(breakEvenMs).toBeGreaterThan(24_500);
    expect(breakEvenMs).toBeLessThan(25_500);
  });

  it('is shorter for a bigger controller, whose idle milliseconds cost more', () => {
    // act
    const small = breakEvenIntervalMs({ memoryMb: 128, architecture: 'arm64' });
    const large = breakEvenIntervalMs({ memoryMb: 1_024, architecture: 'arm64' });

    // assess
    expect(large).toBeLessThan(small);
  });

  it('defaults to the deployed controller size, 128 MB arm64', () => {
    // act
    const breakEvenMs = breakEvenIntervalMs();

    // assess
    expect(CONTROLLER_SIZE).toEqual(ARM_128);
    expect(breakEvenMs).toBe(breakEvenIntervalMs(ARM_128));
  });
});

describe('waitRoundCostUsd', () => {
  it('prices one round at two transitions, one request and a second of 128 MB arm64', () => {
    // act
    const costUsd = waitRoundCostUsd(ARM_128);

    // assess
    expect(costUsd).toBeCloseTo(roundCostByHand(PUBLISHED.armGbSecondUsd), 15);
    expect(costUsd).toBeCloseTo(0.000051866675, 15);
  });

  it('prices x86_64 compute higher than arm64', () => {
    // act
    const costUsd = waitRoundCostUsd(X86_128);

    // assess
    expect(costUsd).toBeCloseTo(roundCostByHand(PUBLISHED.x86GbSecondUsd), 15);
    expect(costUsd).toBeGreaterThan(waitRoundCostUsd(ARM_128));
  });
});

describe('lambdaCostPerMs', () => {
  it('prices a millisecond of 128 MB arm64 at an eighth of a GB-millisecond', () => {
    // act
    const perMsUsd = lambdaCostPerMs(ARM_128);

    // assess
    expect(perMsUsd).toBeCloseTo(PUBLISHED.armGbSecondUsd / 8 / 1_000, 18);
  });
});

describe('chooseStrategy', () => {
  it.each([
    { intervalMs: 100, expected: 'stay-awake' },
    { intervalMs: 1_000, expected: 'stay-awake' },
    { intervalMs: 30_000, expected: 'stay-awake' },
    { intervalMs: 32_000, expected: 'wait-state' },
    { intervalMs: 59_000, expected: 'wait-state' },
  ])('chooses $expected at $intervalMs ms for 128 MB arm64', ({ intervalMs, expected }) => {
    // act
    const strategy = chooseStrategy(intervalMs, ARM_128);

    // assess
    expect(strategy).toBe(expected);
  });

  it('waits in a Wait state at exactly the break-even interval', () => {
    // act
    const strategy = chooseStrategy(breakEvenIntervalMs(ARM_128), ARM_128);

    // assess
    expect(strategy).toBe('wait-state');
  });

  it('stays awake one millisecond below the break-even interval', () => {
    // act
    const strategy = chooseStrategy(breakEvenIntervalMs(ARM_128) - 1, ARM_128);

    // assess
    expect(strategy).toBe('stay-awake');
  });

  it('waits in a Wait state at 30 s on x86_64, whose break-even is shorter', () => {
    // act
    const strategy = chooseStrategy(30_000, X86_128);

    // assess
    expect(strategy).toBe('wait-state');
  });

  it('defaults to the deployed controller size', () => {
    // act
    const atThirty = chooseStrategy(30_000);

    // assess
    expect(atThirty).toBe('stay-awake');
  });
});
