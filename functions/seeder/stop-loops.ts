import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand, type SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { FIELD } from '../shared/contract';
import type { RawItem } from '../shared/control-item';
import { describeCause } from '../shared/errors';
import type { Logger } from '../shared/logger';

export interface LoopStopperDeps {
  readonly dynamoDb: DynamoDBClient;
  /** The control table; undefined: no poller is turned off, executions are still stopped. */
  readonly tableName: string | undefined;
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  readonly log: Logger;
}

export interface LoopsStopped {
  /** Pollers whose `running` was turned from true to false. */
  readonly pollersTurnedOff: number;
  /** RUNNING executions of the loop state machine that were stopped. */
  readonly executionsStopped: number;
  /** What could not be done (each names the poller or execution and the cause); empty when all went through. */
  readonly problems: readonly string[];
}

/** The error and cause a stopped execution shows in its history. */
export const STOP_ERROR = 'StackDeleted';
export const STOP_CAUSE =
  'the stack is being deleted: its loops are stopped so the state machine can be deleted';

/**
 * Stops every loop before the stack deletes the state machine and the functions, within `budgetMs`:
 *
 * 1. stops every RUNNING execution of the loop state machine: one waiting in its Wait state (up to an hour) would
 *    otherwise hold the state machine in DELETING. First, because the deletion depends on it. Stopping ends the
 *    execution at Step Functions' side only: a controller invocation already under way carries on;
 * 2. turns `running` off on every running poller, so that controller (staying awake, it may have up to 15 minutes
 *    left) ends at its next tick instead of firing at a worker being deleted, and the watchdog restarts nothing.
 *
 * Never throws: what failed or ran out of time is listed in `problems`, for the custom resource's answer.
 */
export async function stopAllLoops(deps: LoopStopperDeps, budgetMs: number): Promise<LoopsStopped> {
  const abortSignal = AbortSignal.timeout(budgetMs);
  const problems: string[] = [];
  const executionsStopped = await stopRunningExecutions(deps, abortSignal, problems);
  const pollersTurnedOff = await turnOffRunningPollers(deps, abortSignal, problems);
  if (abortSignal.aborted) problems.push(`gave up after ${budgetMs} ms`);
  deps.log.info('loops stopped', { pollersTurnedOff, executionsStopped, problems });
  return { pollersTurnedOff, executionsStopped, problems };
}

async function turnOffRunningPollers(
  deps: LoopStopperDeps,
  abortSignal: AbortSignal,
  problems: string[],
): Promise<number> {
  const { tableName } = deps;
  if (tableName === undefined) return 0;
  let turnedOff = 0;
  try {
    let startKey: RawItem | undefined;
    do {
      const page = await deps.dynamoDb.send(
        new ScanCommand({
          TableName: tableName,
          ConsistentRead: true,
          FilterExpression: '#running = :true',
          ProjectionExpression: '#id',
          ExpressionAttributeNames: { '#running': FIELD.running, '#id': FIELD.id },
          ExpressionAttributeValues: { ':true': { BOOL: true } },
          ExclusiveStartKey: startKey,
        }),
        { abortSignal },
      );
      for (const item of page.Items ?? []) {
        if (abortSignal.aborted) return turnedOff;
        const pollerId = item[FIELD.id]?.S;
        if (pollerId !== undefined && (await turnOff(deps, tableName, pollerId, abortSignal, problems)))
          turnedOff += 1;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  } catch (error) {
    problems.push(`listing the running pollers of table '${tableName}' failed: ${describeCause(error)}`);
  }
  return turnedOff;
}

async function turnOff(
  deps: LoopStopperDeps,
  tableName: string,
  pollerId: string,
  abortSignal: AbortSignal,
  problems: string[],
): Promise<boolean> {
  try {
    await deps.dynamoDb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { [FIELD.id]: { S: pollerId } },
        UpdateExpression: 'SET #running = :false',
        // Only an item that is still there and still running: never resurrect a deleted poller.
        ConditionExpression: '#running = :true',
        ExpressionAttributeNames: { '#running': FIELD.running },
        ExpressionAttributeValues: { ':true': { BOOL: true }, ':false': { BOOL: false } },
      }),
      { abortSignal },
    );
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException))
      problems.push(`poller '${pollerId}': turning running off failed: ${describeCause(error)}`);
    return false;
  }
}

async function stopRunningExecutions(
  deps: LoopStopperDeps,
  abortSignal: AbortSignal,
  problems: string[],
): Promise<number> {
  let stopped = 0;
  try {
    let nextToken: string | undefined;
    do {
      const page = await deps.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: deps.stateMachineArn,
          statusFilter: 'RUNNING',
          nextToken,
        }),
        { abortSignal },
      );
      for (const { executionArn } of page.executions ?? []) {
        if (abortSignal.aborted) return stopped;
        if (executionArn === undefined) continue;
        try {
          await deps.sfn.send(
            new StopExecutionCommand({ executionArn, error: STOP_ERROR, cause: STOP_CAUSE }),
            { abortSignal },
          );
          stopped += 1;
        } catch (error) {
          problems.push(`stopping execution '${executionArn}' failed: ${describeCause(error)}`);
        }
      }
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
  } catch (error) {
    problems.push(
      `listing the running executions of '${deps.stateMachineArn}' failed: ${describeCause(error)}`,
    );
  }
  return stopped;
}
