import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { SHARD_INDEX_NAME, SHARD_INDEX_PROJECTION } from '../../functions/fleet/shard-store';
import { FIELD } from '../../functions/shared/contract';
import { SubMinuteError } from '../../functions/shared/errors';

const TABLE_ACTIVE_TIMEOUT_MS = 5_000;

export interface ControlTableDefinition {
  /**
   * The fleet variant needs the shard index: a table that exists already (`--data`) without it is refused.
   * @default false
   */
  readonly requireShardIndex?: boolean;
}

/** A persisted table (`--data`) lacks the shard index the fleet variant needs; the value is the table's name. */
export class MissingShardIndexError extends SubMinuteError {
  override readonly name = 'MissingShardIndexError';

  constructor(tableName: string) {
    super(
      `table ${tableName} has no ${SHARD_INDEX_NAME} (it was created before the fleet variant): give --fleet another --data directory (or none)`,
      { value: tableName },
    );
  }
}

/**
 * Creates the control table on a local DynamoDB (the stack's key: `id`, a string; on demand; the fleet variant's
 * sparse GSI `shard-index` on `shard`, projecting SHARD_INDEX_PROJECTION) unless it exists, and waits until it is ACTIVE. The index is
 * created in both variants: a single-loop stack never writes `shard`, so it stays empty. The local stack and the tests that run on dynalite create it only through here.
 */
export async function ensureControlTable(
  client: DynamoDBClient,
  tableName: string,
  definition: ControlTableDefinition = {},
): Promise<void> {
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
    if (definition.requireShardIndex === true) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      const indexes = Table?.GlobalSecondaryIndexes ?? [];
      if (!indexes.some((index) => index.IndexName === SHARD_INDEX_NAME))
        throw new MissingShardIndexError(tableName);
    }
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
