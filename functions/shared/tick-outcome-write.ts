import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { KEY_ATTRIBUTE, OUTCOME_FIELD } from './contract';
import {
  MAX_TICK_DETAIL_LENGTH,
  RECENT_RESULTS_KEPT,
  RECENT_RESULTS_TRIM_AT,
  type TickOutcome,
} from './contract';
import type { RawItem } from './control-item';

/**
 * What recording a tick outcome did: `written`; `counted` (a failure older than the outcome the item shows, or any
 * outcome of a `ctl trigger` fire: added to the recent list, and a failure to `failedTicks`, `lastResult` left
 * alone); `refused` (no item, which is never re-created, or a success older than the outcome the item shows).
 */
export type OutcomeWrite = 'written' | 'counted' | 'refused';

/**
 * Placeholders of the outcome writes. The expressions are written out rather than built (control-table.ts's
 * UpdateBuilder): this module is all the worker's bundle carries of the table, and the template inlines it.
 */
const NAMES = {
  '#id': 'id',
  '#result': 'lastResult',
  '#seq': 'lastResultSeq',
  '#at': 'lastResultAt',
  '#ms': 'lastResultMs',
  '#detail': 'lastResultDetail',
  '#failed': 'failedTicks',
  '#recent': 'recentResults',
  // Literals, held to the contract by the compiler: a property access here would keep this module (and
  // OUTCOME_FIELD) in every bundle that imports control-table.ts.
} as const satisfies Record<
  `#${string}`,
  typeof KEY_ATTRIBUTE | (typeof OUTCOME_FIELD)[keyof typeof OUTCOME_FIELD]
>;
type Name = keyof typeof NAMES;

const APPEND_RECENT = '#recent = list_append(if_not_exists(#recent, :none), :entry)';

/**
 * Records a tick's outcome on the item: `lastResult*` and one entry appended to `recentResults`, and for a failure
 * `failedTicks` + 1. Never creates an item (a worker finishing after its poller was deleted leaves it deleted), and
 * an older `seq` never replaces a newer outcome: a late failure is still counted and listed. Part of the control
 * table repository (control-table.ts re-exports it).
 */
export async function recordTickOutcome(
  client: DynamoDBClient,
  tableName: string,
  pollerId: string,
  outcome: TickOutcome,
): Promise<OutcomeWrite> {
  const detail = outcome.detail?.slice(0, MAX_TICK_DETAIL_LENGTH);
  const seq = { N: String(outcome.seq) };
  const ms = { N: String(Math.round(outcome.durationMs)) };
  const appended = {
    ':none': { L: [] },
    ':entry': {
      L: [
        {
          M: {
            seq,
            result: { S: outcome.result },
            at: { S: outcome.at },
            ms,
            ...(detail !== undefined ? { detail: { S: detail } } : {}),
            ...(outcome.trigger !== undefined ? { trigger: { S: outcome.trigger } } : {}),
          },
        },
      ],
    },
  };
  const failed = outcome.result === 'failed';
  const count = failed ? ' ADD #failed :one' : '';
  const one: Record<string, AttributeValue> = failed ? { ':one': { N: '1' } } : {};
  // A trigger's seq is negative, no scheduled tick's: it skips this write and is only listed (a failure counted).
  const written = await (outcome.trigger === undefined ? update : skip)(client, tableName, pollerId, {
    expression: `SET #result = :result, #seq = :seq, #at = :at, #ms = :ms, ${APPEND_RECENT}${detail !== undefined ? ', #detail = :detail' : ' REMOVE #detail'}${count}`,
    condition: 'attribute_exists(#id) AND (attribute_not_exists(#seq) OR #seq < :seq)',
    names: [
      '#id',
      '#result',
      '#seq',
      '#at',
      '#ms',
      '#detail',
      '#recent',
      ...(failed ? ['#failed' as const] : []),
    ],
    values: {
      ':result': { S: outcome.result },
      ':seq': seq,
      ':at': { S: outcome.at },
      ':ms': ms,
      ...(detail !== undefined ? { ':detail': { S: detail } } : {}),
      ...appended,
      ...one,
    },
  });
  if (written !== 'refused') {
    await trimRecent(client, tableName, pollerId, written);
    return 'written';
  }
  if (!failed && outcome.trigger === undefined) return 'refused';
  // An older failure (a slow worker, a redelivery), or a trigger's outcome: the newer outcome stays, this one is
  // listed (and a failure counted).
  const counted = await update(client, tableName, pollerId, {
    expression: `SET ${APPEND_RECENT}${count}`,
    condition: 'attribute_exists(#id)',
    names: ['#id', '#recent', ...(failed ? ['#failed' as const] : [])],
    values: { ...appended, ...one },
  });
  if (counted === 'refused') return 'refused';
  await trimRecent(client, tableName, pollerId, counted);
  return 'counted';
}

interface OutcomeUpdate {
  readonly expression: string;
  readonly condition: string;
  /** Exactly the placeholders the expressions use: DynamoDB refuses unused ones. */
  readonly names: readonly Name[];
  readonly values: Record<string, AttributeValue>;
}

/** No write: what `update` answers when its condition fails. */
const skip = async (..._: Parameters<typeof update>): Promise<'refused'> => 'refused';

/** One conditional UpdateItem returning the attributes it updated, or 'refused' when its condition failed. */
async function update(
  client: DynamoDBClient,
  tableName: string,
  pollerId: string,
  { expression, condition, names, values }: OutcomeUpdate,
): Promise<RawItem | 'refused'> {
  try {
    const result = await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { [NAMES['#id']]: { S: pollerId } },
        UpdateExpression: expression,
        ConditionExpression: condition,
        ExpressionAttributeNames: Object.fromEntries(names.map((name) => [name, NAMES[name]])),
        ExpressionAttributeValues: values,
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return result.Attributes ?? {};
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return 'refused';
    throw error;
  }
}

/**
 * Trims `recentResults` back to RECENT_RESULTS_KEPT once it has reached RECENT_RESULTS_TRIM_AT (DynamoDB cannot append
 * to and remove from one list in one write), only while the list still has the length just written: a racing
 * append makes this one give way, and the next write trims.
 */
async function trimRecent(
  client: DynamoDBClient,
  tableName: string,
  pollerId: string,
  updated: RawItem,
): Promise<void> {
  const length = updated[NAMES['#recent']]?.L?.length ?? 0;
  if (length < RECENT_RESULTS_TRIM_AT) return;
  const oldest = Array.from({ length: length - RECENT_RESULTS_KEPT }, (_, index) => `#recent[${index}]`);
  await update(client, tableName, pollerId, {
    expression: `REMOVE ${oldest.join(', ')}`,
    condition: 'size(#recent) = :length',
    names: ['#recent'],
    values: { ':length': { N: String(length) } },
  });
}
