import { CONTROLLER_SIZE, type LambdaSize } from '../scheduling/cost-model';
import { createDynamoDbClient, createLambdaClient } from '../shared/aws-clients';
import { systemClock } from '../shared/clock';
import { ENV } from '../shared/contract';
import { ControlTable } from '../shared/control-table';
import { requireEnv } from '../shared/env';
import { createJsonLogger } from '../shared/logger';
import { type ControllerDeps, runRound } from './run-round';

let deps: ControllerDeps | undefined;

/** The runtime tells the function its own memory size; the break-even depends on it. */
function lambdaSizeFromEnvironment(): LambdaSize {
  const memoryMb = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  return {
    memoryMb: Number.isFinite(memoryMb) && memoryMb > 0 ? memoryMb : CONTROLLER_SIZE.memoryMb,
    architecture: process.arch === 'arm64' ? 'arm64' : 'x86_64',
  };
}

/** Built on first use, not at import, so the local stack and tests can import this module without an AWS env. */
function depsFromEnvironment(): ControllerDeps {
  return {
    table: new ControlTable(createDynamoDbClient(), requireEnv(ENV.controlTableName)),
    lambda: createLambdaClient(),
    defaultTarget: requireEnv(ENV.defaultTarget),
    clock: systemClock,
    log: createJsonLogger(),
    size: lambdaSizeFromEnvironment(),
  };
}

/** The part of the Lambda context the controller uses: it hands back to Step Functions before its deadline. */
interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

export const handler = async (event: unknown, context: InvocationContext) => {
  const deadlineMs = Date.now() + context.getRemainingTimeInMillis();
  return runRound(event, (deps ??= depsFromEnvironment()), () => deadlineMs);
};
