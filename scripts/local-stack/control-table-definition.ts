import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { SHARD_INDEX_NAME, SHARD_INDEX_PROJECTION } from '../../functions/fleet/shard-store';
import { FIELD } from '../../functions/shared/contract';

const TABLE_ACTIVE_TIMEOUT_MS = 5_000;

/**
 * Creates the control table on a local DynamoDB (the stack's key: `id`, a string; on demand; the fleet variant's
 * sparse GSI `shard-index` on `shard`, projecting SHARD_INDEX_PROJECTION) unless it exists, and waits until it is ACTIVE. The index is
 * created in both variants: a single-loop stack never writes `shard`, so it stays empty. The local stack and the tests that run on dynalite create it only through here.
 */
export async function ensureControlTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: FIELD.id, AttributeType: 'S' },
          { AttributeName: FIELD.shard, AttributeType: 'S' },
        ],
        KeySchema: [{ AttributeName: FIELD.id, KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: SHARD_INDEX_NAME,
            KeySchema: [{ AttributeName: FIELD.shard, KeyType: 'HASH' }],
            Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...SHARD_INDEX_PROJECTION] },
          },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  // dynalite answers CreateTable with a CREATING table and turns it ACTIVE a moment later: wait for it, so no item
  // call meets a table that is not there yet, and a stack stopped at once never persists a half-created table.
  for (const startedAt = Date.now(); ; ) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() - startedAt > TABLE_ACTIVE_TIMEOUT_MS) {
      throw new Error(
        `table ${tableName} is still ${Table?.TableStatus} after ${TABLE_ACTIVE_TIMEOUT_MS} ms (a --data directory from an interrupted start? remove it)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
