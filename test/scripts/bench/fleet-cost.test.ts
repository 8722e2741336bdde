import { describe, expect, it } from 'vitest';
import { PRICES_USD } from '../../../functions/scheduling/cost-model';
import {
  type FleetWindowCounts,
  fleetCost,
  marginalUsdPerPollerPerDay,
} from '../../../scripts/bench/fleet-cost';

const counts = (overrides: Partial<FleetWindowCounts>): FleetWindowCounts => ({
  pollers: 100,
  windowSeconds: 60,
  stateTransitions: 0,
  controllerInvocations: 0,
  controllerBilledMs: 0,
  controllerSize: { memoryMb: 1024, architecture: 'arm64' },
  readUnits: 0,
  writeUnits: 0,
  indexWriteUnits: 0,
  logBytes: 0,
  ...overrides,
});

describe('the fleet cost counted over a window, per day', () => {
  it('scales a window to a day and prices each part with the one price table', () => {
    // One always-awake 1,024 MB shard for a minute, a Query a second of 37.5 units, 10 claims of 1 unit + index.
    const cost = fleetCost(
      counts({
        controllerInvocations: 1,
        controllerBilledMs: 60_000,
        readUnits: 60 * 37.5,
        writeUnits: 10,
        indexWriteUnits: 10,
        stateTransitions: 2,
        logBytes: 1_000,
      }),
    );
    const perDay = 1_440;
    expect(cost.breakdown.lambdaDuration).toBeCloseTo(60 * PRICES_USD.lambdaGbSecond.arm64 * perDay, 10);
    expect(cost.breakdown.reads).toBeCloseTo(2_250 * PRICES_USD.dynamoDbReadUnit * perDay, 10);
    expect(cost.breakdown.writes).toBeCloseTo(20 * PRICES_USD.dynamoDbWriteUnit * perDay, 10);
    expect(cost.breakdown.transitions).toBeCloseTo(2 * PRICES_USD.stateTransition * perDay, 10);
    expect(cost.usdPerDay).toBeCloseTo(
      Object.values(cost.breakdown).reduce((a, b) => a + b, 0),
      12,
    );
    expect(cost.usdPerPollerPerDay).toBeCloseTo(cost.usdPerDay / 100, 12);
    // The always-awake 1,024 MB controller: 86,400 GB-s a day at the arm64 price.
    expect(cost.breakdown.lambdaDuration).toBeCloseTo(1.152, 3);
  });

  it('reads the marginal cost as the slope between two fleets: the shared controller cancels out', () => {
    const shared = { controllerInvocations: 1, controllerBilledMs: 60_000 };
    const small = fleetCost(counts({ ...shared, pollers: 100, readUnits: 60 * 4, writeUnits: 20 }));
    const large = fleetCost(counts({ ...shared, pollers: 1_000, readUnits: 60 * 40, writeUnits: 200 }));
    const slope = marginalUsdPerPollerPerDay(small, large);
    const perPoller =
      ((60 * 36) / 900) * PRICES_USD.dynamoDbReadUnit * 1_440 +
      (180 / 900) * PRICES_USD.dynamoDbWriteUnit * 1_440;
    expect(slope).toBeCloseTo(perPoller, 12);
    expect(() => marginalUsdPerPollerPerDay(large, small)).toThrow(RangeError);
  });

  it('refuses an empty window', () => {
    expect(() => fleetCost(counts({ windowSeconds: 0 }))).toThrow(/windowSeconds/);
  });
});
