import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient, localClientOptions } from '../../functions/shared/aws-clients';
import { ensureControlTable } from '../../scripts/local-stack/control-table-definition';
import { DynamoDbStore } from '../../scripts/local-stack/dynamodb-store';

/** The local stack's DynamoDB (dynalite, in memory) on a free port, with a real SDK client on it. */
export interface LocalDynamoDb {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  /** Creates a control table as the local stack does, and waits until it is ACTIVE. */
  createControlTable(tableName: string): Promise<void>;
  /** Destroys the client and closes the server. */
  close(): Promise<void>;
}

/**
 * Starts dynalite for tests that run on the real DynamoDB API, optionally with a control table already created.
 * `maxAttempts` is the client's (1: a refused request is not retried).
 */
export async function startLocalDynamoDb(
  options: { readonly controlTable?: string; readonly maxAttempts?: number } = {},
): Promise<LocalDynamoDb> {
  const store = await DynamoDbStore.start('127.0.0.1', 0);
  const endpoint = `http://127.0.0.1:${store.port}`;
  const client = createDynamoDbClient(localClientOptions(endpoint, options.maxAttempts));
  const local: LocalDynamoDb = {
    endpoint,
    client,
    createControlTable: (tableName) => ensureControlTable(client, tableName),
    async close() {
      client.destroy();
      await store.close();
    },
  };
  if (options.controlTable !== undefined) await local.createControlTable(options.controlTable);
  return local;
}
