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

export interface LoopStopperDeps {
  readonly dynamoDb: DynamoDBClient;
  /** The control table; undefined: no poller is turned off, executions are still stopped. */
  readonly tableName: string | undefined;
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
}

export interface LoopsStopped {
  /** RUNNING executions of the loop state machine that were stopped. */
  readonly executionsStopped: number;
  /** Pollers whose `running` was turned from true to false. */
  readonly pollersTurnedOff: number;
  /** What could not be done, each naming the execution, poller or table and the cause (the first few). */
  readonly problems: readonly string[];
}

/** The error and cause a stopped execution shows in its history. */
export const STOP_ERROR = 'StackDeleted';
export const STOP_CAUSE = 'the stack is being deleted';

/** Problems kept for the answer: CloudFormation shows a Reason of a few hundred characters anyway. */
const MAX_PROBLEMS = 5;

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
  const options = { abortSignal: AbortSignal.timeout(budgetMs) };
  const problems: string[] = [];
  /** Runs one call; a failure is noted (a condition that no longer holds is not one) and does not stop the rest. */
  const attempt = async (what: string, call: () => Promise<unknown>): Promise<boolean> => {
    try {
      await call();
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) && problems.length < MAX_PROBLEMS)
        problems.push(`${what} failed: ${describeCause(error)}`);
      return false;
    }
  };

  let executionsStopped = 0;
  await attempt(`listing the running executions of '${deps.stateMachineArn}'`, async () => {
    let nextToken: string | undefined;
    do {
      const page = await deps.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: deps.stateMachineArn,
          statusFilter: 'RUNNING',
          nextToken,
        }),
        options,
      );
      for (const { executionArn } of page.executions ?? []) {
        const stop = new StopExecutionCommand({ executionArn, error: STOP_ERROR, cause: STOP_CAUSE });
        if (await attempt(`stopping '${executionArn}'`, () => deps.sfn.send(stop, options)))
          executionsStopped++;
      }
      nextToken = page.nextToken;
    } while (nextToken);
  });

  let pollersTurnedOff = 0;
  const { tableName } = deps;
  if (tableName) {
    await attempt(`listing the running pollers of '${tableName}'`, async () => {
      let startKey: RawItem | undefined;
      do {
        const page = await deps.dynamoDb.send(
          new ScanCommand({
            TableName: tableName,
            ConsistentRead: true,
            FilterExpression: '#running = :true',
            ExpressionAttributeNames: { '#running': FIELD.running },
            ExpressionAttributeValues: { ':true': { BOOL: true } },
            ExclusiveStartKey: startKey,
          }),
          options,
        );
        for (const { [FIELD.id]: key } of page.Items ?? []) {
          // Only while it still runs: an item deleted meanwhile is not resurrected.
          const turnOff = new UpdateItemCommand({
            TableName: tableName,
            Key: { [FIELD.id]: key ?? { S: '' } },
            UpdateExpression: 'SET #running = :false',
            ConditionExpression: '#running = :true',
            ExpressionAttributeNames: { '#running': FIELD.running },
            ExpressionAttributeValues: { ':true': { BOOL: true }, ':false': { BOOL: false } },
          });
          if (await attempt(`poller '${key?.S}'`, () => deps.dynamoDb.send(turnOff, options)))
            pollersTurnedOff++;
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    });
  }

  if (options.abortSignal.aborted) problems.push(`gave up after ${budgetMs} ms`);
  return { executionsStopped, pollersTurnedOff, problems };
}
