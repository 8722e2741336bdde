import { createDynamoDbClient } from '../shared/aws-clients';
import { ENV } from '../shared/contract';
import { createJsonLogger } from '../shared/logger';
import { putResponse } from './cfn-response';
import { handleSeedEvent, type SeederDeps } from './seed-control-item';

let deps: SeederDeps | undefined;

/** A missing table name does not throw here: the request must still be answered (FAILED, naming the variable). */
function depsFromEnvironment(): SeederDeps {
  return {
    dynamoDb: createDynamoDbClient(),
    tableName: process.env[ENV.controlTableName] || undefined,
    sendResponse: putResponse,
    log: createJsonLogger(),
  };
}

/** CloudFormation custom resource `Custom::ControlItemSeed`: seeds the stack's control item from its parameters. */
export const handler = async (event: unknown) => {
  deps ??= depsFromEnvironment();
  return handleSeedEvent(event, deps);
};
