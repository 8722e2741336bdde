import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { FIELD } from './contract';
import type { RawItem } from './control-item';
import { ControlTableUnavailableError } from './errors';

/** What the controller writes after a round. Only these system fields are ever SET; operator fields are untouched. */
export interface RoundRecord {
  readonly seq?: number;
  readonly claimedSeq?: number;
  readonly heartbeatAt?: string;
  readonly lastTickAt?: string;
  readonly nextTickAt?: string;
  readonly skippedTicksAdded?: number;
  readonly executionArn?: string;
  readonly lastError?: { readonly message: string; readonly at: string };
  readonly stoppedReason?: string | null;
}

/** A lastError message is for a human: keep the item well under DynamoDB's 400 KB and the console readable. */
const MAX_ERROR_MESSAGE_LENGTH = 1_000;

export class ControlTable {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  /** Strongly consistent, so an operator's edit is seen by the very next tick. */
  async read(pollerId: string): Promise<RawItem | undefined> {
    try {
      const result = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: { [FIELD.id]: { S: pollerId } }, ConsistentRead: true }),
      );
      return result.Item;
    } catch (error) {
      throw new ControlTableUnavailableError(pollerId, this.tableName, error);
    }
  }

  /**
   * Records a round on an existing item. Returns false when the item was deleted meanwhile: the write is
   * conditional so that a deleted poller is not resurrected as a husk of system fields.
   */
  async recordRound(pollerId: string, record: RoundRecord): Promise<boolean> {
    const sets: string[] = [];
    const removes: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, AttributeValue> = {};
    let addSkipped = '';
    const set = (field: string, value: AttributeValue) => {
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      sets.push(`#${field} = :${field}`);
    };

    if (record.seq !== undefined) set(FIELD.seq, { N: String(record.seq) });
    if (record.claimedSeq !== undefined) set(FIELD.claimedSeq, { N: String(record.claimedSeq) });
    if (record.heartbeatAt !== undefined) set(FIELD.heartbeatAt, { S: record.heartbeatAt });
    if (record.lastTickAt !== undefined) set(FIELD.lastTickAt, { S: record.lastTickAt });
    if (record.nextTickAt !== undefined) set(FIELD.nextTickAt, { S: record.nextTickAt });
    if (record.executionArn !== undefined) set(FIELD.executionArn, { S: record.executionArn });
    if (record.lastError !== undefined) {
      set(FIELD.lastError, {
        M: {
          message: { S: record.lastError.message.slice(0, MAX_ERROR_MESSAGE_LENGTH) },
          at: { S: record.lastError.at },
        },
      });
    }
    if (typeof record.stoppedReason === 'string') set(FIELD.stoppedReason, { S: record.stoppedReason });
    if (record.stoppedReason === null) {
      names[`#${FIELD.stoppedReason}`] = FIELD.stoppedReason;
      removes.push(`#${FIELD.stoppedReason}`);
    }
    if (record.skippedTicksAdded) {
      names[`#${FIELD.skippedTicks}`] = FIELD.skippedTicks;
      values[':skippedTicksAdded'] = { N: String(record.skippedTicksAdded) };
      addSkipped = ` ADD #${FIELD.skippedTicks} :skippedTicksAdded`;
    }
    if (sets.length === 0 && removes.length === 0 && !addSkipped) return true;

    names['#id'] = FIELD.id;
    const expression = [
      sets.length > 0 ? `SET ${sets.join(', ')}` : '',
      removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : '',
      addSkipped,
    ].join('');
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [FIELD.id]: { S: pollerId } },
          UpdateExpression: expression.trim(),
          ConditionExpression: 'attribute_exists(#id)',
          ExpressionAttributeNames: names,
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
