import { createDynamoDbClient, createLambdaClient } from '../shared/aws-clients';
import { systemClock } from '../shared/clock';
import { ENV } from '../shared/contract';
import { ControlTable } from '../shared/control-table';
import { requireEnv } from '../shared/env';
import { createJsonLogger } from '../shared/logger';
import { type ControllerDeps, runRound } from './run-round';

let deps: ControllerDeps | undefined;

/** Built on first use, not at import, so the local stack and tests can import this module without an AWS env. */
function depsFromEnvironment(): ControllerDeps {
  return {
    table: new ControlTable(createDynamoDbClient(), requireEnv(ENV.controlTableName)),
    lambda: createLambdaClient(),
    defaultTarget: requireEnv(ENV.defaultTarget),
    clock: systemClock,
    log: createJsonLogger(),
  };
}

export const handler = async (event: unknown) => runRound(event, (deps ??= depsFromEnvironment()));
