import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { FIELD, KEY_ATTRIBUTE, OUTCOME_FIELD } from './contract';
import {
  MAX_RECENT_DETAIL_LENGTH,
  MAX_TICK_DETAIL_LENGTH,
  RECENT_RESULTS_KEPT,
  RECENT_RESULTS_TRIM_AT,
  type TickOutcome,
} from './contract';
import type { RawItem } from './control-item';

/**
 * What recording a tick outcome did: `written`; `counted` (a failure older than the outcome the item shows, or any
 * outcome of a `ctl trigger` fire: added to the recent list, and a failure to `failedTicks`, `lastResult` left
 * alone); `refused` (no item, which is never re-created; a seq above the item's `claimedSeq`, a tick this item never
 * claimed; a success older than the outcome the item shows; a failure already recorded); `out-of-time` (nothing
 * written: the invocation had no time left for the write, or for the second write that counts a failure older than
 * the outcome the item shows).
 */
export type OutcomeWrite = 'written' | 'counted' | 'refused' | 'out-of-time';

/**
 * The longest one outcome write can take with the worker kit's client (CONTROL_PLANE_TIMEOUTS, two attempts:
 * 2 × (0.5 + 1.5) s), plus a margin for the rest of the invocation. A write (the outcome, the count of an older
 * failure, a trim) is begun only while the invocation has this long left, so recording never runs a tick into
 * its Lambda timeout.
 */
export const OUTCOME_WRITE_BUDGET_MS = 4_250;

/** How recording is bounded: the invocation's remaining time (Lambda's `context.getRemainingTimeInMillis`). */
export interface OutcomeRecording {
  readonly remainingMs?: (() => number) | undefined;
}

/**
 * How many entries of `recentResults` a failure's count looks through for its own seq (redelivery is at least
 * once): the list holds at most RECENT_RESULTS_TRIM_AT entries while its trims succeed, and a trim that gave way
 * is done by the next write.
 */
const RECENT_RESULTS_SEARCHED = 2 * RECENT_RESULTS_TRIM_AT;

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
  // The loop's claim, only read (in conditions): a report above it is of a tick this item never claimed.
  '#claimed': 'claimedSeq',
  // Literals, held to the contract by the compiler: a property access here would keep this module (and
  // OUTCOME_FIELD) in every bundle that imports control-table.ts.
} as const satisfies Record<
  `#${string}`,
  typeof KEY_ATTRIBUTE | (typeof OUTCOME_FIELD)[keyof typeof OUTCOME_FIELD] | (typeof FIELD)['claimedSeq']
>;
type Name = keyof typeof NAMES;

const APPEND_RECENT = '#recent = list_append(if_not_exists(#recent, :none), :entry)';

/**
 * The item's identity fence, in every outcome write: the item exists (a worker finishing after its poller was
 * deleted leaves it deleted) and its loop claimed this seq (`claimedSeq` is written before a tick is fired, and a
 * new loop starts above it). A report of a deleted poller's tick reaching an item created again under its id
 * (up to the worker's maximum event age plus its timeout later) names a seq that item has not claimed yet, and
 * does not hold back the new poller's own outcomes.
 */
const SAME_ITEM = 'attribute_exists(#id) AND #claimed >= :seq';

/** Whether the recent list already has an entry of this seq (a redelivered or retried failure): searched by index. */
const LISTED = Array.from(
  { length: RECENT_RESULTS_SEARCHED },
  (_, index) => `#recent[${index}].seq = :seq`,
).join(' OR ');

/**
 * Records a tick's outcome on the item: `lastResult*` and one entry appended to `recentResults`, and for a failure
 * `failedTicks` + 1. Never creates an item, never records a seq the item's loop has not claimed (SAME_ITEM), and
 * an older `seq` never replaces a newer outcome: a late failure is still counted and listed, once (a seq already
 * recorded is refused). Each write is begun only with OUTCOME_WRITE_BUDGET_MS of the invocation left; a trim that
 * fails or has no time is left to the next write (the outcome is recorded either way). Part of the control table
 * repository (control-table.ts re-exports it).
 */
export async function recordTickOutcome(
  client: DynamoDBClient,
  tableName: string,
  pollerId: string,
  outcome: TickOutcome,
  recording: OutcomeRecording = {},
): Promise<OutcomeWrite> {
  const hasTime = () => (recording.remainingMs?.() ?? Number.POSITIVE_INFINITY) >= OUTCOME_WRITE_BUDGET_MS;
  const detail = cutDetail(outcome.detail, MAX_TICK_DETAIL_LENGTH);
  const recentDetail = cutDetail(outcome.detail, MAX_RECENT_DETAIL_LENGTH);
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
            ...(recentDetail !== undefined ? { detail: { S: recentDetail } } : {}),
            ...(outcome.trigger !== undefined ? { trigger: { S: outcome.trigger } } : {}),
          },
        },
      ],
    },
  };
  const failed = outcome.result === 'failed';
  const count = failed ? ' ADD #failed :one' : '';
  const one: Record<string, AttributeValue> = failed ? { ':one': { N: '1' } } : {};
  if (!hasTime()) return 'out-of-time';
  // A trigger's seq is negative, no scheduled tick's: it skips this write and is only listed (a failure counted).
  const written = await (outcome.trigger === undefined ? update : skip)(client, tableName, pollerId, {
    expression: `SET #result = :result, #seq = :seq, #at = :at, #ms = :ms, ${APPEND_RECENT}${detail !== undefined ? ', #detail = :detail' : ' REMOVE #detail'}${count}`,
    condition: `${SAME_ITEM} AND (attribute_not_exists(#seq) OR #seq < :seq)`,
    names: [
      '#id',
      '#claimed',
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
    if (hasTime()) await trimRecent(client, tableName, pollerId, written);
    return 'written';
  }
  const triggered = outcome.trigger !== undefined;
  if (!failed && !triggered) return 'refused';
  if (!hasTime()) return 'out-of-time';
  // An older failure (a slow worker), or a trigger's outcome (which the item may not have claimed: a stopped poller
  // fires too): the newer outcome stays, this one is listed and a failure counted, unless this seq is listed already
  // (a redelivery, or the SDK retrying a write that was applied).
  const counted = await update(client, tableName, pollerId, {
    expression: `SET ${APPEND_RECENT}${count}`,
    condition: triggered
      ? `attribute_exists(#id) AND NOT (${LISTED})`
      : `${SAME_ITEM} AND #seq <> :seq AND NOT (${LISTED})`,
    names: triggered
      ? ['#id', '#recent', ...(failed ? ['#failed' as const] : [])]
      : ['#id', '#claimed', '#seq', '#recent', '#failed'],
    values: { ':seq': seq, ...appended, ...one },
  });
  if (counted === 'refused') return 'refused';
  if (hasTime()) await trimRecent(client, tableName, pollerId, counted);
  return 'counted';
}

/**
 * A detail cut to `max` UTF-16 code units, never inside a surrogate pair (DynamoDB refuses a string that is not
 * valid UTF-8, which half a pair would make).
 */
export function cutDetail(detail: string | undefined, max: number): string | undefined {
  if (detail === undefined || detail.length <= max) return detail;
  const cut = detail.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
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
 * append makes this one give way, and the next write trims. A trim that fails (throttled, unreachable) is left to
 * the next write too: the outcome is recorded either way.
 */
async function trimRecent(
  client: DynamoDBClient,
  tableName: string,
  pollerId: string,
  updated: RawItem,
): Promise<void> {
  const length = updated[NAMES['#recent']]?.L?.length ?? 0;
  if (length < RECENT_RESULTS_TRIM_AT) return;
  // Highest index first: the same entries go whether the indexes of one REMOVE are positions in the list as it was
  // or are applied one after another, shifting the rest (dynalite does the latter).
  const dropped = length - RECENT_RESULTS_KEPT;
  const oldest = Array.from({ length: dropped }, (_, index) => `#recent[${dropped - 1 - index}]`);
  try {
    await update(client, tableName, pollerId, {
      expression: `REMOVE ${oldest.join(', ')}`,
      condition: 'size(#recent) = :length',
      names: ['#recent'],
      values: { ':length': { N: String(length) } },
    });
  } catch {
    // Left to the next write (see above).
  }
}
