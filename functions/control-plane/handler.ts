import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type ControllerDeps, runRound } from '../controller/run-round';
import { CONTROLLER_SIZE, type LambdaSize } from '../scheduling/cost-model';
import { putResponse } from '../seeder/cfn-response';
import { handleSeedEvent } from '../seeder/seed-control-item';
import { createDynamoDbClient, createLambdaClient } from '../shared/aws-clients';
import { systemClock } from '../shared/clock';
import { ENV } from '../shared/contract';
import { ControlTable } from '../shared/control-table';
import { requireEnv } from '../shared/env';
import { createJsonLogger } from '../shared/logger';
import { createSfnClient } from '../shared/sfn-client';
import { type ItemChangeRecord, startLoopsForChanges } from '../starter/on-item-changes';
import { runWatchdog, type WatchdogDeps } from '../watchdog/run-watchdog';
import { routeEvent } from './route-event';

/** The part of the Lambda context the controller uses: it hands back to Step Functions before its deadline. */
interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

const log = createJsonLogger();
let dynamoDb: DynamoDBClient | undefined;
let controllerDeps: ControllerDeps | undefined;
let starterDeps: WatchdogDeps | undefined;

/** Clients are built on first use, not at import, so tests and the local stack can import the domain modules. */
function sharedDynamoDb(): DynamoDBClient {
  dynamoDb ??= createDynamoDbClient();
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
    lambda: createLambdaClient(),
    defaultTarget: requireEnv(ENV.defaultTarget),
    clock: systemClock,
    log,
    size: lambdaSizeFromEnvironment(),
  };
}

function starterDepsFromEnvironment(): WatchdogDeps {
  return {
    dynamoDb: sharedDynamoDb(),
    table: new ControlTable(sharedDynamoDb(), requireEnv(ENV.controlTableName)),
    sfn: createSfnClient(),
    stateMachineArn: requireEnv(ENV.stateMachineArn),
    log,
  };
}

/** The runtime tells the function its own memory size; the break-even depends on it. */
function lambdaSizeFromEnvironment(): LambdaSize {
  const memoryMb = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  return {
    memoryMb: Number.isFinite(memoryMb) && memoryMb > 0 ? memoryMb : CONTROLLER_SIZE.memoryMb,
    architecture: process.arch === 'arm64' ? 'arm64' : 'x86_64',
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
