import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { createDynamoDbClient } from '../../functions/shared/aws-clients';
import type { PollerItem } from '../../functions/shared/control-item';
import { ControlTable } from '../../functions/shared/control-table';
import { ControlTableUnavailableError, describeCause } from '../../functions/shared/errors';
import { createSfnClient } from '../../functions/shared/sfn-client';
import { AwsCallError } from './errors';
import type { ResolvedTarget } from './target';

/** The clients and clock one CLI run uses; commands receive it so tests can point them at any endpoints. */
export interface CtlSession {
  readonly target: ResolvedTarget;
  readonly dynamoDb: DynamoDBClient;
  /** The target's control table, on `dynamoDb`. */
  readonly table: ControlTable;
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
    table: new ControlTable(dynamoDb, target.tableName),
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
export function readItem(session: CtlSession, pollerId: string): Promise<PollerItem | undefined> {
  const { tableName } = session.target;
  return awsCall(session, `reading poller '${pollerId}' from table ${tableName}`, () =>
    session.table.read(pollerId).catch((error: unknown) => {
      // The CLI says what it was doing itself: report the service's own error, as for every other call.
      throw error instanceof ControlTableUnavailableError ? error.cause : error;
    }),
  );
}

/** One write of the poller's item, named for the error the CLI prints if it fails. */
export function writeItem<T>(
  session: CtlSession,
  pollerId: string,
  action: string,
  write: (table: ControlTable) => Promise<T>,
): Promise<T> {
  return awsCall(session, `${action} (poller '${pollerId}', table ${session.target.tableName})`, () =>
    write(session.table),
  );
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
