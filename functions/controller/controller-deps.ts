import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ShardTable } from '../fleet/shard-table';
import { lambdaSizeFrom } from '../scheduling/cost-model';
import type { Timing } from '../scheduling/plan-round';
import { type AwsClientOptions, createDynamoDbClient, createLambdaClient } from '../shared/aws-clients';
import { type Clock, systemClock } from '../shared/clock';
import { ENV } from '../shared/contract';
import { type Environment, requireEnv } from '../shared/env';
import type { Logger } from '../shared/logger';
import { LoopTable } from '../shared/loop-table';
import { type MetricSink, perPollerMetricsFrom, stdoutMetricSink } from '../shared/metrics';
import { LambdaWorkerInvoker } from '../shared/worker-invoker';
import type { ControllerDeps } from './run-round';
import type { ShardControllerDeps } from './run-shard-round';

/** The variable in which the Lambda runtime tells a function its memory size (the stack's ControllerMemory). */
export const MEMORY_SIZE_VARIABLE = 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE';

export interface ControllerSetup {
  /**
   * The function's environment: the table and default worker the stack names (ENV), and the memory size the
   * runtime reports. process.env on Lambda; the local stack passes the same variables.
   */
  readonly env: Environment;
  /** Region, endpoint, credentials and time limits of the controller's AWS clients. */
  readonly clients: AwsClientOptions;
  /** A DynamoDB client shared with the function's other entry points; built from `clients` when absent. */
  readonly dynamoDb?: DynamoDBClient | undefined;
  readonly log: Logger;
  /** The processor the controller runs on (`process.arch` on Lambda): the stay-awake break-even depends on it. */
  readonly architecture: string;
  readonly clock?: Clock | undefined;
  /** The scheduler's timing constants; tests of the local stack inject shorter ones. */
  readonly timing?: Timing | undefined;
  /**
   * Where the controller's EMF metric lines go: stdout on Lambda (CloudWatch extracts them from the function's
   * logs), the local stack's own choice in its process.
   * @default stdoutMetricSink
   */
  readonly metricSink?: MetricSink | undefined;
}

/**
 * The controller's composition root: the one place that turns an environment into the controller's dependencies
 * (table, worker invoker, default target, clock, logger, size, timing). The deployed control plane and the local
 * stack's in-process controller both build them here, so they cannot drift apart. Throws
 * MissingEnvironmentError when the stack did not name the table or the default worker.
 */
export function controllerDepsFrom(setup: ControllerSetup): ControllerDeps {
  const { tableName, dynamoDb, ...common } = commonDepsFrom(setup);
  return { table: new LoopTable(dynamoDb, tableName), ...common };
}

/** What both controllers build the same way from their setup: the one place for it. */
function commonDepsFrom(setup: ControllerSetup) {
  // Read before any client is built, so a missing variable leaves nothing open.
  const tableName = requireEnv(ENV.controlTableName, setup.env);
  const defaultTarget = requireEnv(ENV.defaultTarget, setup.env);
  const lambda = createLambdaClient(setup.clients);
  return {
    tableName,
    dynamoDb: setup.dynamoDb ?? createDynamoDbClient(setup.clients),
    invoker: new LambdaWorkerInvoker(lambda),
    defaultTarget,
    clock: setup.clock ?? systemClock,
    log: setup.log,
    size: lambdaSizeFrom(setup.env[MEMORY_SIZE_VARIABLE], setup.architecture),
    metrics: {
      sink: setup.metricSink ?? stdoutMetricSink,
      table: tableName,
      perPoller: perPollerMetricsFrom(setup.env),
    },
    ...(setup.timing ? { timing: setup.timing } : {}),
  };
}

/**
 * The shard controller's composition root (the fleet variant, functions/control-plane/fleet-handler.ts): the same
 * environment and clients as controllerDepsFrom, with the fleet's store (ShardTable) on the control table. Throws
 * MissingEnvironmentError as controllerDepsFrom does.
 */
export function shardControllerDepsFrom(setup: ControllerSetup): ShardControllerDeps {
  const { tableName, dynamoDb, ...common } = commonDepsFrom(setup);
  return { store: new ShardTable(dynamoDb, tableName), ...common };
}
