import { shardControllerDepsFrom } from '../controller/controller-deps';
import type { ShardControllerDeps } from '../controller/run-shard-round';
import {
  type FleetControlPlaneDeps,
  placeFromStream,
  runFleetRound,
  runFleetWatchdog,
} from '../fleet/fleet-control-plane';
import {
  type FleetPlannerDeps,
  listFleetIn,
  maxShardsFrom,
  runFleetPlanner,
  shardCapacityFrom,
} from '../fleet/fleet-planner';
import { ShardTable } from '../fleet/shard-table';
import { ENV } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { PollerTable } from '../shared/poller-table';
import { createSfnClient } from '../shared/sfn-client';
import {
  answerSeed,
  CONTROL_PLANE_CLIENTS,
  deadlineOf,
  type InvocationContext,
  log,
  sharedDynamoDb,
  sweepMetricsFor,
} from './control-plane-setup';
import { routeEvent } from './route-event';

/**
 * The fleet variant's control plane (docs/design/fleet.md): the same four entry points as handler.ts, with pollers
 * served by shards (functions/fleet/fleet-control-plane.ts). A separate bundle entry, so the fleet's inline
 * template carries no single-loop controller. A seeded running poller is placed by the planner (one run per seed).
 */

let plannerDeps: FleetPlannerDeps | undefined;
let shardDeps: ShardControllerDeps | undefined;

function plannerDepsFromEnvironment(): FleetPlannerDeps {
  const tableName = requireEnv(ENV.controlTableName);
  const table = new PollerTable(sharedDynamoDb(), tableName);
  return {
    listFleet: listFleetIn(table),
    store: new ShardTable(sharedDynamoDb(), tableName),
    sfn: createSfnClient(CONTROL_PLANE_CLIENTS),
    stateMachineArn: requireEnv(ENV.stateMachineArn),
    log,
    maxShards: maxShardsFrom(process.env),
    capacityFiresPerSecond: shardCapacityFrom(process.env),
  };
}

const deps: FleetControlPlaneDeps = {
  planner: () => {
    plannerDeps ??= plannerDepsFromEnvironment();
    return plannerDeps;
  },
  shard: () => {
    shardDeps ??= shardControllerDepsFrom({
      env: process.env,
      clients: CONTROL_PLANE_CLIENTS,
      dynamoDb: sharedDynamoDb(),
      log,
      architecture: process.arch,
    });
    return shardDeps;
  },
  log,
  sweepMetrics: () => sweepMetricsFor(requireEnv(ENV.controlTableName)),
};

export const handler = async (event: unknown, context: InvocationContext) => {
  const routed = routeEvent(event);
  switch (routed.kind) {
    case 'seed': {
      let run: Promise<unknown> | undefined;
      return answerSeed(routed.request, () => async () => {
        run ??= runFleetPlanner(deps.planner(), Date.now(), { kind: 'seed' });
        await run;
        return { kind: 'placed' };
      });
    }
    case 'start':
      return placeFromStream(routed.records, deps, Date.now());
    case 'watchdog':
      return runFleetWatchdog(deps, Date.now());
    case 'round':
      return runFleetRound(routed.input, deps, deadlineOf(context));
  }
};
