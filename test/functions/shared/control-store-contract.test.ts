import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { afterAll } from 'vitest';
import { createDynamoDbClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { FIELD } from '../../../functions/shared/contract';
import { ControlTable } from '../../../functions/shared/control-table';
import { InMemoryControlStore } from '../../support/in-memory-control-store';
import { describeControlStoreContract } from './control-store-contract';

const TABLE_NAME = 'contract';
let server: Server | undefined;
let dynamoDb: DynamoDBClient | undefined;
/** Clients of unreachable tables, closed with the rest. */
const clients: DynamoDBClient[] = [];

afterAll(async () => {
  dynamoDb?.destroy();
  for (const client of clients) client.destroy();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describeControlStoreContract('ControlTable on dynalite', async () => {
  const local = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  server = local;
  await new Promise<void>((resolve, reject) => {
    local.once('error', reject);
    local.listen(0, '127.0.0.1', () => resolve());
  });
  const client = createDynamoDbClient(
    localClientOptions(`http://127.0.0.1:${(local.address() as AddressInfo).port}`),
  );
  dynamoDb = client;
  await client.send(
    new CreateTableCommand({
      TableName: TABLE_NAME,
      AttributeDefinitions: [{ AttributeName: FIELD.id, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: FIELD.id, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
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
