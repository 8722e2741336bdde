import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type ControllerDeps, runRound } from '../controller/run-round';
import { lambdaSizeFrom } from '../scheduling/cost-model';
import { putResponse } from '../seeder/cfn-response';
import { handleSeedEvent } from '../seeder/seed-control-item';
import {
  CONTROL_PLANE_MAX_ATTEMPTS,
  CONTROL_PLANE_TIMEOUTS,
  createDynamoDbClient,
  createLambdaClient,
} from '../shared/aws-clients';
import { systemClock } from '../shared/clock';
import { ENV } from '../shared/contract';
import { ControlTable } from '../shared/control-table';
import { requireEnv } from '../shared/env';
import { createJsonLogger } from '../shared/logger';
import { createSfnClient } from '../shared/sfn-client';
import { type ItemChangeRecord, startLoopsForChanges } from '../starter/on-item-changes';
import type { LoopStarterDeps } from '../starter/start-loop';
import { runWatchdog, type WatchdogDeps } from '../watchdog/run-watchdog';
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
  controllerDeps ??= controllerDepsFromEnvironment();
  return controllerDeps;
}

function starterDepsOnce(): WatchdogDeps {
  starterDeps ??= starterDepsFromEnvironment();
  return starterDeps;
}

function controllerDepsFromEnvironment(): ControllerDeps {
  return {
    table: new ControlTable(sharedDynamoDb(), requireEnv(ENV.controlTableName)),
    lambda: createLambdaClient(CONTROL_PLANE_CLIENTS),
    defaultTarget: requireEnv(ENV.defaultTarget),
    clock: systemClock,
    log,
    // The runtime tells the function its own memory size (the stack's ControllerMemory); the break-even follows it.
    size: lambdaSizeFrom(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, process.arch),
  };
}

function starterDepsFromEnvironment(): WatchdogDeps {
  return {
    table: new ControlTable(sharedDynamoDb(), requireEnv(ENV.controlTableName)),
    sfn: createSfnClient(CONTROL_PLANE_CLIENTS),
    stateMachineArn: requireEnv(ENV.stateMachineArn),
    log,
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
  switch (routeEvent(event)) {
    case 'seed':
      // A missing table name must not throw before CloudFormation gets its answer (FAILED, naming the variable).
      return handleSeedEvent(event, {
        dynamoDb: sharedDynamoDb(),
        tableName: process.env[ENV.controlTableName] || undefined,
        sendResponse: putResponse,
        log,
        loops: seedLoopDepsFromEnvironment(),
      });
    case 'start':
      return startLoopsForChanges((event as { Records: ItemChangeRecord[] }).Records, starterDepsOnce(), log);
    case 'watchdog':
      return runWatchdog(starterDepsOnce(), Date.now());
    case 'round':
      // Asked again before every tick, not fixed once per round: the time left is the runtime's to say.
      return runRound(event, controllerDepsOnce(), () => Date.now() + context.getRemainingTimeInMillis());
  }
};
