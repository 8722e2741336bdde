import { namesShard } from '../controller/parse-shard-input';
import type { Deadline } from '../controller/run-round';
import { runShardRound, type ShardControllerDeps, type ShardOutput } from '../controller/run-shard-round';
import { isRecord } from '../shared/decode';
import { describeCause, PollerStoppedSignal } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { MetricsSetup } from '../shared/metrics';
import type { ItemChangeRecord } from '../starter/item-change-record';
import type { StreamBatchResponse } from '../starter/on-item-changes';
import { writeSweepMetrics } from '../watchdog/sweep-metrics';
import {
  type FleetPlannerDeps,
  type FleetPlannerReport,
  fleetStartReason,
  pollersToPlace,
  runFleetPlanner,
} from './fleet-planner';

/**
 * The fleet variant's entry points past routing (routeEvent), with their dependencies given: the deployed
 * control plane (functions/control-plane/fleet-handler.ts) builds them from its environment, the local stack's
 * fleet mode from its own. Each dependency is asked for when first needed, so an entry builds only its own clients.
 */
export interface FleetControlPlaneDeps {
  readonly planner: () => FleetPlannerDeps;
  readonly shard: () => ShardControllerDeps;
  readonly log: Logger;
  /** Where the watchdog's sweep line goes (ActivePollers, StalePollers, WatchdogRestarts); none without it. */
  readonly sweepMetrics?: () => MetricsSetup;
}

/**
 * The stream: place the pollers a batch created running or switched on, and wake their shards. A planner run that
 * fails (its Scan) asks Lambda for the whole batch again: the planner is idempotent.
 */
export async function placeFromStream(
  records: readonly ItemChangeRecord[],
  deps: FleetControlPlaneDeps,
  nowMs: number,
): Promise<StreamBatchResponse> {
  const pollers = pollersToPlace(records);
  if (pollers.length === 0) return { batchItemFailures: [] };
  try {
    await runFleetPlanner(deps.planner(), nowMs, { kind: 'stream', pollers });
    return { batchItemFailures: [] };
  } catch (error) {
    deps.log.error('fleet planner failed on a stream batch', { pollers, error: describeCause(error) });
    return { batchItemFailures: [{ itemIdentifier: records[0]?.dynamodb?.SequenceNumber ?? '' }] };
  }
}

/** The every-minute sweep: the planner over the whole fleet, then one EMF line of what it saw and started. */
export async function runFleetWatchdog(
  deps: FleetControlPlaneDeps,
  nowMs: number,
): Promise<FleetPlannerReport> {
  const report = await runFleetPlanner(deps.planner(), nowMs, { kind: 'watchdog' });
  if (deps.sweepMetrics !== undefined) {
    writeSweepMetrics(deps.sweepMetrics(), nowMs, {
      active: report.counts.active,
      stale: report.counts.stale,
      restarts: report.starts.filter((start) => start.outcome === 'started').length,
    });
  }
  return report;
}

/**
 * A round of the state machine: a state naming a `~shard/` is a shard's round; any other (no input, or a poller
 * id) is the fleet start, which runs the planner once and ends the execution (`fleet started: s0, s1`).
 */
export async function runFleetRound(
  input: unknown,
  deps: FleetControlPlaneDeps,
  deadline: Deadline,
): Promise<ShardOutput> {
  if (namesShard(input)) return runShardRound(input, deps.shard(), deadline);
  // What Step Functions passes a round: `{ state, executionId, … }`, the execution's input (or loop) as `state`.
  const state = isRecord(input) && isRecord(input.state) ? input.state : input;
  const pollerId = isRecord(state) && typeof state.pollerId === 'string' ? state.pollerId : undefined;
  const report = await runFleetPlanner(deps.planner(), Date.now(), { kind: 'fleet-start' });
  throw new PollerStoppedSignal(pollerId ?? FLEET_START_ID, fleetStartReason(report));
}

/** The id a fleet start's stop signal carries when its input names none. */
export const FLEET_START_ID = 'fleet';
