import { CreateTableCommand, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { createDynamoDbClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { DynamoDbStore } from '../../../scripts/local-stack/dynamodb-store';
import { type Meter, NO_LATENCY } from '../../../scripts/local-stack/latency-model';

/** A meter that keeps what the store reports. */
function recordingMeter() {
  const requests: string[] = [];
  const capacity: { operation: string; units: number; request: unknown }[] = [];
  const meter: Meter = {
    historyEvent() {},
    lambdaInvocation() {},
    dynamoDbRequest: (operation) => requests.push(operation),
    dynamoDbCapacity: (operation, units, request) => capacity.push({ operation, units, request }),
  };
  return { meter, requests, capacity };
}

describe('the local DynamoDB store meters consumed capacity', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('reports the units the table charges: by item size for writes, by bytes read for a Query', async () => {
    const recording = recordingMeter();
    const store = await DynamoDbStore.start('127.0.0.1', 0, undefined, NO_LATENCY, recording.meter);
    const client = createDynamoDbClient(localClientOptions(`http://127.0.0.1:${store.port}`));
    close = async () => {
      client.destroy();
      await store.close();
    };
    await client.send(
      new CreateTableCommand({
        TableName: 'meter',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'id', AttributeType: 'S' },
          { AttributeName: 'g', AttributeType: 'S' },
        ],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'by-g',
            KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
    const padding = 'x'.repeat(2_500); // ~2.5 KB: 3 write units, and 10 of them ~25 KB to read
    for (let index = 0; index < 10; index++) {
      await client.send(
        new PutItemCommand({
          TableName: 'meter',
          Item: { id: { S: `p${index}` }, g: { S: 'one' }, pad: { S: padding } },
        }),
      );
    }
    const got = await client.send(
      new GetItemCommand({ TableName: 'meter', Key: { id: { S: 'p0' } }, ConsistentRead: true }),
    );
    const queried = await client.send(
      new QueryCommand({
        TableName: 'meter',
        IndexName: 'by-g',
        KeyConditionExpression: 'g = :g',
        ExpressionAttributeValues: { ':g': { S: 'one' } },
      }),
    );
    // The answers are the ones the client asked for, capacity or not.
    expect(got.Item?.pad?.S).toBe(padding);
    expect(queried.Items).toHaveLength(10);

    const units = (operation: string) =>
      recording.capacity.filter((entry) => entry.operation === operation).map((entry) => entry.units);
    expect(units('PutItem')).toEqual(Array(10).fill(3));
    expect(units('GetItem')).toEqual([1]);
    // ~25 KB read, eventually consistent: ceil(25 KB / 4 KB) / 2 = 3.5 units, not one per item.
    const [queryUnits] = units('Query');
    expect(queryUnits).toBeGreaterThanOrEqual(3);
    expect(queryUnits).toBeLessThanOrEqual(4);
    expect(recording.requests.filter((operation) => operation === 'Query')).toHaveLength(1);
    // The request comes with its units, as the client sent it: what a meter reads a write's attributes from.
    const query = recording.capacity.find((entry) => entry.operation === 'Query');
    expect(query?.request).toMatchObject({ IndexName: 'by-g', KeyConditionExpression: 'g = :g' });
  });
});
