import { createDynamoDbClient } from '../shared/aws-clients';
import { ENV } from '../shared/contract';
import { ControlTable } from '../shared/control-table';
import { requireEnv } from '../shared/env';
import { createJsonLogger } from '../shared/logger';
import { createSfnClient } from '../shared/sfn-client';
import { type ItemChangeRecord, startLoopsForChanges } from './on-item-changes';
import type { LoopStarterDeps } from './start-loop';

const log = createJsonLogger();
let deps: LoopStarterDeps | undefined;

function depsFromEnvironment(): LoopStarterDeps {
  return {
    table: new ControlTable(createDynamoDbClient(), requireEnv(ENV.controlTableName)),
    sfn: createSfnClient(),
    stateMachineArn: requireEnv(ENV.stateMachineArn),
  };
}

export const handler = async (event: { Records?: ItemChangeRecord[] }) =>
  startLoopsForChanges(event.Records ?? [], (deps ??= depsFromEnvironment()), log);
