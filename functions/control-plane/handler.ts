import { controllerDepsFrom } from '../controller/controller-deps';
import { type ControllerDeps, runRound } from '../controller/run-round';
import { ENV } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { LoopTable } from '../shared/loop-table';
import { createSfnClient } from '../shared/sfn-client';
import { startLoopsForChanges } from '../starter/on-item-changes';
import { startLoop } from '../starter/start-loop';
import { runWatchdog, startOtherPollers, type WatchdogDeps } from '../watchdog/run-watchdog';
import {
  answerSeed,
  CONTROL_PLANE_CLIENTS,
  deadlineOf,
  type InvocationContext,
  log,
  seedTableName,
  sharedDynamoDb,
  sweepMetricsFor,
} from './control-plane-setup';
import { routeEvent } from './route-event';

let controllerDeps: ControllerDeps | undefined;
let starterDeps: WatchdogDeps | undefined;

function controllerDepsOnce(): ControllerDeps {
  controllerDeps ??= {
    ...controllerDepsFrom({
      env: process.env,
      clients: CONTROL_PLANE_CLIENTS,
      dynamoDb: sharedDynamoDb(),
      log,
      architecture: process.arch,
    }),
    // The starter's clients are built only when a no-input execution's first round asks for them.
    startOtherPollers: (except) => startOtherPollers(starterDepsOnce(), except, Date.now()),
  };
  return controllerDeps;
}

function starterDepsOnce(): WatchdogDeps {
  starterDeps ??= starterDepsFromEnvironment();
  return starterDeps;
}

function starterDepsFromEnvironment(): WatchdogDeps {
  const tableName = requireEnv(ENV.controlTableName);
  return {
    table: new LoopTable(sharedDynamoDb(), tableName),
    sfn: createSfnClient(CONTROL_PLANE_CLIENTS),
    stateMachineArn: requireEnv(ENV.stateMachineArn),
    log,
    metrics: sweepMetricsFor(tableName),
  };
}

/** The control plane of a stack that runs one loop per poller (the fleet's is fleet-handler.ts). */
export const handler = async (event: unknown, context: InvocationContext) => {
  const routed = routeEvent(event);
  switch (routed.kind) {
    case 'seed':
      return answerSeed(
        routed.request,
        (loops) => (pollerId) =>
          startLoop(pollerId, { ...loops, table: new LoopTable(sharedDynamoDb(), seedTableName()) }),
      );
    case 'start':
      return startLoopsForChanges(routed.records, starterDepsOnce(), log);
    case 'watchdog':
      return runWatchdog(starterDepsOnce(), Date.now());
    case 'round':
      return runRound(routed.input, controllerDepsOnce(), deadlineOf(context));
  }
};
