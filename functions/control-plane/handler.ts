import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { controllerDepsFrom } from '../controller/controller-deps';
import { type ControllerDeps, runRound } from '../controller/run-round';
import { putResponse } from '../seeder/cfn-response';
import { handleSeedEvent } from '../seeder/seed-control-item';
import {
  CONTROL_PLANE_MAX_ATTEMPTS,
  CONTROL_PLANE_TIMEOUTS,
  createDynamoDbClient,
} from '../shared/aws-clients';
import { ENV } from '../shared/contract';
import { ControlTable } from '../shared/control-table';
import { requireEnv } from '../shared/env';
import { createJsonLogger } from '../shared/logger';
import { stdoutMetricSink } from '../shared/metrics';
import { createSfnClient } from '../shared/sfn-client';
import { startLoopsForChanges } from '../starter/on-item-changes';
import type { LoopStarterDeps } from '../starter/start-loop';
import { runWatchdog, startOtherPollers, type WatchdogDeps } from '../watchdog/run-watchdog';
import { routeEvent } from './route-event';

/** The part of the Lambda context the controller uses: it hands back to Step Functions before its deadline. */
interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

const log = createJsonLogger();
/** Every client of the deployed control plane: endpoints and credentials from the Lambda environment. */
const CONTROL_PLANE_CLIENTS = { timeouts: CONTROL_PLANE_TIMEOUTS, maxAttempts: CONTROL_PLANE_MAX_ATTEMPTS };
let dynamoDb: DynamoDBClient | undefined;
let controllerDeps: ControllerDeps | undefined;
let starterDeps: WatchdogDeps | undefined;

/** Clients are built on first use, not at import, so tests and the local stack can import the domain modules. */
function sharedDynamoDb(): DynamoDBClient {
  dynamoDb ??= createDynamoDbClient(CONTROL_PLANE_CLIENTS);
  return dynamoDb;
}

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
    table: new ControlTable(sharedDynamoDb(), tableName),
    sfn: createSfnClient(CONTROL_PLANE_CLIENTS),
    stateMachineArn: requireEnv(ENV.stateMachineArn),
    log,
    // The sweep's counts are per table: a per-poller count would only say 0 or 1.
    metrics: { sink: stdoutMetricSink, table: tableName, perPoller: false },
  };
}

/**
 * What the seed starts and stops loops with. Built even when the environment lacks a name: the seed must answer
 * CloudFormation, and the failed call then says what is missing.
 */
function seedLoopDepsFromEnvironment(): LoopStarterDeps {
  return {
    table: new ControlTable(sharedDynamoDb(), process.env[ENV.controlTableName] ?? ''),
    sfn: createSfnClient(),
    stateMachineArn: process.env[ENV.stateMachineArn] ?? '',
  };
}

export const handler = async (event: unknown, context: InvocationContext) => {
  const routed = routeEvent(event);
  switch (routed.kind) {
    case 'seed':
      // A missing table name must not throw before CloudFormation gets its answer (FAILED, naming the variable).
      return handleSeedEvent(routed.request, {
        dynamoDb: sharedDynamoDb(),
        tableName: process.env[ENV.controlTableName] || undefined,
        sendResponse: putResponse,
        log,
        loops: seedLoopDepsFromEnvironment(),
      });
    case 'start':
      return startLoopsForChanges(routed.records, starterDepsOnce(), log);
    case 'watchdog':
      return runWatchdog(starterDepsOnce(), Date.now());
    case 'round':
      // Asked again before every tick, not fixed once per round: the time left is the runtime's to say.
      return runRound(
        routed.input,
        controllerDepsOnce(),
        () => Date.now() + context.getRemainingTimeInMillis(),
      );
  }
};
