import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { createDynamoDbClient } from '../../functions/shared/aws-clients';
import { FIELD } from '../../functions/shared/contract';
import type { RawItem } from '../../functions/shared/control-item';
import { describeCause } from '../../functions/shared/errors';
import { createSfnClient } from '../../functions/shared/sfn-client';
import { AwsCallError } from './errors';
import type { ResolvedTarget } from './target';

/** The clients and clock one CLI run uses; commands receive it so tests can point them at any endpoints. */
export interface CtlSession {
  readonly target: ResolvedTarget;
  readonly dynamoDb: DynamoDBClient;
  readonly sfn: SFNClient;
  readonly nowMs: () => number;
}

export function openSession(
  target: ResolvedTarget,
  nowMs: () => number = Date.now,
): CtlSession & { close(): void } {
  const dynamoDb = createDynamoDbClient(target.dynamoDb);
  const sfn = createSfnClient(target.stepFunctions);
  return {
    target,
    dynamoDb,
    sfn,
    nowMs,
    close: () => {
      dynamoDb.destroy();
      sfn.destroy();
    },
  };
}

/** Runs one AWS call; any failure becomes an AwsCallError that says what was being done. */
export async function awsCall<T>(session: CtlSession, action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new AwsCallError(action, error, session.target.connectionHint);
  }
}

/** Strongly consistent, so the CLI shows what the loop's next tick will read. */
export function readItem(session: CtlSession, pollerId: string): Promise<RawItem | undefined> {
  const { tableName } = session.target;
  return awsCall(session, `reading poller '${pollerId}' from table ${tableName}`, async () => {
    const result = await session.dynamoDb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { [FIELD.id]: { S: pollerId } },
        ConsistentRead: true,
      }),
    );
    return result.Item;
  });
}

/**
 * An UpdateItem on the poller's item. Returns undefined when its ConditionExpression failed (the caller knows
 * what that means), the attributes asked for with ReturnValues otherwise.
 */
export function updateItem(
  session: CtlSession,
  pollerId: string,
  action: string,
  update: Omit<UpdateItemCommandInput, 'TableName' | 'Key'>,
): Promise<{ readonly attributes: RawItem | undefined } | undefined> {
  const { tableName } = session.target;
  return awsCall(session, `${action} (poller '${pollerId}', table ${tableName})`, async () => {
    try {
      const result = await session.dynamoDb.send(
        new UpdateItemCommand({ TableName: tableName, Key: { [FIELD.id]: { S: pollerId } }, ...update }),
      );
      return { attributes: result.Attributes };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  });
}

export type ExecutionStatusReading =
  | { readonly status: string; readonly error?: undefined }
  | { readonly status: 'unknown'; readonly error: string };

/** The execution's status, or 'unknown' with the reason when DescribeExecution fails (gone, no access, offline). */
export async function readExecutionStatus(
  session: CtlSession,
  executionArn: string,
): Promise<ExecutionStatusReading> {
  try {
    const result = await session.sfn.send(new DescribeExecutionCommand({ executionArn }));
    return result.status
      ? { status: result.status }
      : { status: 'unknown', error: 'DescribeExecution returned no status' };
  } catch (error) {
    return { status: 'unknown', error: describeCause(error) };
  }
}
