import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { FIELD } from '../../functions/shared/contract';
import { decodeItemChangeRecord, type ItemChangeRecord } from '../../functions/starter/item-change-record';

/**
 * The stream record DynamoDB Streams (NEW_AND_OLD_IMAGES) delivers for an item just created, built from the item as
 * the table now holds it and decoded as the control plane's router decodes it.
 */
export async function insertRecordOf(
  client: DynamoDBClient,
  tableName: string,
  pollerId: string,
  sequenceNumber = '1',
): Promise<ItemChangeRecord> {
  const key = { [FIELD.id]: { S: pollerId } };
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }),
  );
  if (Item === undefined)
    throw new Error(`no item '${pollerId}' in ${tableName} to make an INSERT record of`);
  return decodeItemChangeRecord({
    eventName: 'INSERT',
    eventSource: 'aws:dynamodb',
    dynamodb: { Keys: key, NewImage: Item, SequenceNumber: sequenceNumber },
  });
}
