import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Deadline } from '../controller/run-round';
import { putResponse } from '../seeder/cfn-response';
import {
  handleSeedEvent,
  type SeederDeps,
  type SeedLoops,
  type SeedOutcome,
} from '../seeder/seed-control-item';
import {
  CONTROL_PLANE_MAX_ATTEMPTS,
  CONTROL_PLANE_TIMEOUTS,
  createDynamoDbClient,
} from '../shared/aws-clients';
import { ENV } from '../shared/contract';
import { createJsonLogger } from '../shared/logger';
import { type MetricsSetup, stdoutMetricSink } from '../shared/metrics';
import { createSfnClient } from '../shared/sfn-client';

/**
 * What the two control-plane entries share (handler.ts: a loop per poller; fleet-handler.ts: shards): the logger,
 * the clients and their limits, the seed's answer, the sweep's metrics and the invocation's deadline. Building the
 * entries' own dependencies stays in each, so the fleet's bundle carries no single-loop controller.
 */

/** The part of the Lambda context the controller uses: it hands back to Step Functions before its deadline. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

export const log = createJsonLogger();

/** Every client of the deployed control plane: endpoints and credentials from the Lambda environment. */
export const CONTROL_PLANE_CLIENTS = {
  timeouts: CONTROL_PLANE_TIMEOUTS,
  maxAttempts: CONTROL_PLANE_MAX_ATTEMPTS,
};

let dynamoDb: DynamoDBClient | undefined;

/** Clients are built on first use, not at import, so tests and the local stack can import the domain modules. */
export function sharedDynamoDb(): DynamoDBClient {
  dynamoDb ??= createDynamoDbClient(CONTROL_PLANE_CLIENTS);
  return dynamoDb;
}

/** Asked again before every tick, not fixed once per round: the time left is the runtime's to say. */
export function deadlineOf(context: InvocationContext): Deadline {
  return () => Date.now() + context.getRemainingTimeInMillis();
}

/** The sweep's counts are per table: a per-poller count would only say 0 or 1. */
export function sweepMetricsFor(tableName: string): MetricsSetup {
  return { sink: stdoutMetricSink, table: tableName, perPoller: false };
}

/**
 * What the seed starts and stops loops with (the table is each entry's own: a loop per poller needs its fencing
 * writes, the fleet does not). Built even when the environment lacks a name: the seed must answer CloudFormation,
 * and the failed call then says what is missing.
 */
function seedLoopsFromEnvironment(): SeedLoops {
  return { sfn: createSfnClient(), stateMachineArn: process.env[ENV.stateMachineArn] ?? '' };
}

/** The control table's name for the seed; empty when missing (see seedLoopsFromEnvironment). */
export function seedTableName(): string {
  return process.env[ENV.controlTableName] ?? '';
}

/**
 * Answers CloudFormation's seed request. `startSeededWith` says how a seeded running poller starts, given what the
 * seed starts and stops loops with.
 */
export function answerSeed(
  request: Readonly<Record<string, unknown>>,
  startSeededWith: (loops: SeedLoops) => SeederDeps['startSeeded'],
): Promise<SeedOutcome> {
  const loops = seedLoopsFromEnvironment();
  // A missing table name must not throw before CloudFormation gets its answer (FAILED, naming the variable).
  return handleSeedEvent(request, {
    dynamoDb: sharedDynamoDb(),
    tableName: process.env[ENV.controlTableName] || undefined,
    sendResponse: putResponse,
    log,
    loops,
    startSeeded: startSeededWith(loops),
  });
}
