import { type LambdaSize, PRICES_USD } from '../../functions/scheduling/cost-model';
import { SECONDS_PER_DAY } from './anchors-cost';

/**
 * The fleet's orchestration cost, counted over a measured window of the fleet benchmark and scaled to a day:
 * everything the scheduler spends for its pollers, and nothing of the worker's own invocations (every design pays
 * those alike). The targets are per poller: the marginal cost of one more poller at 1 s, read from two
 * fleet sizes, and the total of a fleet of 100.
 */
export interface FleetWindowCounts {
  readonly pollers: number;
  readonly windowSeconds: number;
  /** Billable Standard-workflow transitions of the shard executions (and of the fleet start). */
  readonly stateTransitions: number;
  /** Control-plane invocations: rounds, the stream starter, the watchdog. */
  readonly controllerInvocations: number;
  /** Their billed duration in ms (each rounded up). */
  readonly controllerBilledMs: number;
  readonly controllerSize: LambdaSize;
  /** Read request units the table charged (a Query by the bytes it read). */
  readonly readUnits: number;
  /** Write request units the table charged (by item size), before the index's share. */
  readonly writeUnits: number;
  /**
   * Of those, the units of writes that also changed the shard index (its projected attributes): each is charged
   * again for the index. Unknown to the local table, which does not report index writes: counted by the caller.
   */
  readonly indexWriteUnits: number;
  /** CloudWatch Logs bytes the control plane wrote (its log lines and metric lines). */
  readonly logBytes: number;
}

export interface FleetCostBreakdown {
  readonly transitions: number;
  readonly lambdaRequests: number;
  readonly lambdaDuration: number;
  readonly reads: number;
  readonly writes: number;
  readonly logs: number;
}

export interface FleetCost {
  readonly pollers: number;
  /** USD per day for the whole fleet's orchestration. */
  readonly usdPerDay: number;
  readonly usdPerPollerPerDay: number;
  readonly breakdown: FleetCostBreakdown;
}

/** A window's counts priced and scaled to a day. */
export function fleetCost(counts: FleetWindowCounts): FleetCost {
  if (!(counts.windowSeconds > 0))
    throw new RangeError(`windowSeconds must be > 0, not ${counts.windowSeconds}`);
  const perDay = SECONDS_PER_DAY / counts.windowSeconds;
  const gbSeconds = (counts.controllerBilledMs / 1000) * (counts.controllerSize.memoryMb / 1024);
  const breakdown: FleetCostBreakdown = {
    transitions: counts.stateTransitions * PRICES_USD.stateTransition * perDay,
    lambdaRequests: counts.controllerInvocations * PRICES_USD.lambdaRequest * perDay,
    lambdaDuration: gbSeconds * PRICES_USD.lambdaGbSecond[counts.controllerSize.architecture] * perDay,
    reads: counts.readUnits * PRICES_USD.dynamoDbReadUnit * perDay,
    writes: (counts.writeUnits + counts.indexWriteUnits) * PRICES_USD.dynamoDbWriteUnit * perDay,
    logs: counts.logBytes * PRICES_USD.logIngestionByte * perDay,
  };
  const usdPerDay = Object.values(breakdown).reduce((sum, usd) => sum + usd, 0);
  return {
    pollers: counts.pollers,
    usdPerDay,
    usdPerPollerPerDay: counts.pollers > 0 ? usdPerDay / counts.pollers : 0,
    breakdown,
  };
}

/**
 * What one more poller adds, from two fleets of the same cadences: the slope between them. A shared controller's
 * fixed cost (an always-awake shard, its lease) is in both and cancels out; what each poller brings (its share of
 * the Query's bytes, its claims, its records) is what remains.
 */
export function marginalUsdPerPollerPerDay(smaller: FleetCost, larger: FleetCost): number {
  if (larger.pollers <= smaller.pollers) {
    throw new RangeError(
      `the larger fleet (${larger.pollers}) must have more pollers than ${smaller.pollers}`,
    );
  }
  return (larger.usdPerDay - smaller.usdPerDay) / (larger.pollers - smaller.pollers);
}
