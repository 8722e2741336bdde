import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll } from 'vitest';
import { createDynamoDbClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { FIELD } from '../../../functions/shared/contract';
import { ControlTable } from '../../../functions/shared/control-table';
import { InMemoryControlStore } from '../../support/in-memory-control-store';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';
import { describeControlStoreContract } from './control-store-contract';

const TABLE_NAME = 'contract';
let local: LocalDynamoDb | undefined;
/** Clients of unreachable tables, closed with the rest. */
const clients: DynamoDBClient[] = [];

afterAll(async () => {
  for (const client of clients) client.destroy();
  await local?.close();
});

describeControlStoreContract('ControlTable on dynalite', async () => {
  local = await startLocalDynamoDb({ controlTable: TABLE_NAME });
  const client = local.client;
  return {
    store: new ControlTable(client, TABLE_NAME),
    unreachable: async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
      const endpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const unreachableClient = createDynamoDbClient(localClientOptions(endpoint, 1));
      clients.push(unreachableClient);
      return new ControlTable(unreachableClient, TABLE_NAME);
    },
    put: async (pollerId, fields) => {
      await client.send(
        new PutItemCommand({ TableName: TABLE_NAME, Item: { [FIELD.id]: { S: pollerId }, ...fields } }),
      );
    },
    image: async (pollerId) =>
      (
        await client.send(
          new GetItemCommand({
            TableName: TABLE_NAME,
            Key: { [FIELD.id]: { S: pollerId } },
            ConsistentRead: true,
          }),
        )
      ).Item,
  };
});

describeControlStoreContract('InMemoryControlStore', async () => {
  const store = new InMemoryControlStore(TABLE_NAME);
  return {
    store,
    put: async (pollerId, fields) => store.put(pollerId, fields),
    image: async (pollerId) => store.image(pollerId),
    unreachable: async () => {
      const unreachable = new InMemoryControlStore(TABLE_NAME);
      unreachable.unreachable = true;
      return unreachable;
    },
  };
});
