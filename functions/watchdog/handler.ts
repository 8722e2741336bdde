import { createDynamoDbClient } from '../shared/aws-clients';
import { ENV } from '../shared/contract';
import { ControlTable } from '../shared/control-table';
import { requireEnv } from '../shared/env';
import { createJsonLogger } from '../shared/logger';
import { createSfnClient } from '../shared/sfn-client';
import { runWatchdog, type WatchdogDeps } from './run-watchdog';

let deps: WatchdogDeps | undefined;

function depsFromEnvironment(): WatchdogDeps {
  const dynamoDb = createDynamoDbClient();
  return {
    dynamoDb,
    table: new ControlTable(dynamoDb, requireEnv(ENV.controlTableName)),
    sfn: createSfnClient(),
    stateMachineArn: requireEnv(ENV.stateMachineArn),
    log: createJsonLogger(),
  };
}

export const handler = async () => runWatchdog((deps ??= depsFromEnvironment()), Date.now());
