import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { FIELD, TRIGGER_IDS_KEPT, TRIGGER_IDS_TRIM_AT, type TriggerState } from './contract';
import { decodePollerItem, keyOf, type PollerItem, type RawItem, triggerFieldsOf } from './control-item';

/**
 * The writes of `ctl trigger` (scripts/ctl/commands/trigger.ts), part of the control table repository
 * (control-table.ts re-exports them; a module apart so the control plane's inline bundle does not carry them).
 * They touch only the trigger fields (`lastTrigger`, `triggers`, `recentTriggers`) and, for a refused invoke,
 * `lastError`: never the loop's seq, claim, generation or schedule.
 */

/** What a ctl run asks to record before it fires. */
export interface TriggerClaim {
  /** The request id: one fire per id, however often the request is repeated. */
  readonly id: string;
  /** This run's nonce: it recognises its own record when a retried write finds it already there. */
  readonly claim: string;
  readonly at: string;
  readonly target: string;
}

export type ClaimOutcome =
  /** Recorded by this run: fire it as `seq`. */
  | { readonly kind: 'claimed'; readonly seq: number }
  | { readonly kind: 'missing' }
  /** The id was already taken (by another run, or an earlier one): the item as it is; nothing is recorded. */
  | { readonly kind: 'duplicate'; readonly item: PollerItem }
  /** Other requests took the count first CLAIM_ATTEMPTS times: nothing is recorded, the id is free to try again. */
  | { readonly kind: 'gave-up'; readonly item: PollerItem };

/** A claim that keeps losing to other triggers (a new id each) gives up after this many tries. */
export const CLAIM_ATTEMPTS = 5;

/**
 * Each recorded request appends two entries to `recentTriggers`: its id, and `id/claim/seq` (the run that recorded
 * it: `/` is in no request id, TRIGGER_ID_PATTERN), so a run whose write was applied and retried recognises its own
 * record even after a newer request replaced `lastTrigger`. The list is trimmed in entries, twice the ids.
 */
export function runEntry(id: string, claim: string, seq: number): string {
  return `${id}/${claim}/${seq}`;
}

/** The seq a run recorded for `id`, from its entry in `recentTriggers`; undefined when it recorded none. */
function seqRecordedBy(entries: readonly string[], id: string, claim: string): number | undefined {
  const prefix = `${id}/${claim}/`;
  const entry = entries.find((candidate) => candidate.startsWith(prefix));
  const seq = Number(entry?.slice(prefix.length));
  return entry === undefined || !Number.isSafeInteger(seq) ? undefined : seq;
}

const NAMES = {
  '#id': FIELD.id,
  '#last': FIELD.lastTrigger,
  '#count': FIELD.triggers,
  '#recent': FIELD.recentTriggers,
  '#rid': 'id',
  '#claim': 'claim',
  '#state': 'state',
  '#status': 'status',
  '#error': 'error',
  '#lastError': FIELD.lastError,
} as const;
type Name = keyof typeof NAMES;

/**
 * Every attribute name these writes put in a request (top-level, and the keys of `lastTrigger` they name in a
 * document path): the IAM condition of `grantTrigger` (infra/sub-minute-scheduler.ts) allows exactly these.
 */
export const TRIGGER_WRITE_ATTRIBUTES: readonly string[] = [...new Set(Object.values(NAMES))];
/** What these writes ask back (`UpdateItem`'s ReturnValues): the grant allows no more. */
export const TRIGGER_WRITE_RETURN_VALUES = 'UPDATED_NEW';

/**
 * Records a trigger request on an existing item, once per request id: the condition holds only while the id is
 * not among the ids the item remembers (or is the last request, refused: it may be tried again), and while the
 * count is the one read, so the n-th trigger is fired as seq -n and two racing requests never share one. A write
 * that finds this run's own record (an SDK retry of a write that had succeeded) counts as claimed.
 */
export async function claimTrigger(
  client: DynamoDBClient,
  tableName: string,
  pollerId: string,
  request: TriggerClaim,
  read: PollerItem,
): Promise<ClaimOutcome> {
  let item = read;
  for (let attempt = 1; ; attempt += 1) {
    const decided = decide(item, request);
    if (decided !== undefined) return decided;
    const { triggers: count, lastTrigger } = triggerFieldsOf(item);
    // A refused request tried again keeps its seq (nothing fired with it), so a worker keyed on pollerId#seq sees
    // one fire per request; the count is not moved. Any other request takes the next count, fenced on the one read.
    const retry = lastTrigger?.id === request.id && lastTrigger.state === 'refused' ? lastTrigger : undefined;
    const next = (count ?? 0) + 1;
    const seq = retry?.seq ?? -next;
    const record: AttributeValue = {
      M: {
        id: { S: request.id },
        at: { S: request.at },
        state: { S: 'claimed' satisfies TriggerState },
        target: { S: request.target },
        seq: { N: String(seq) },
        claim: { S: request.claim },
      },
    };
    const appended = {
      ':none': { L: [] },
      ':ids': {
        L: [
          ...(retry === undefined ? [{ S: request.id }] : []),
          { S: runEntry(request.id, request.claim, seq) },
        ],
      },
    };
    const written = await update(
      client,
      tableName,
      pollerId,
      retry === undefined
        ? {
            expression:
              'SET #last = :record, #count = :next, #recent = list_append(if_not_exists(#recent, :none), :ids)',
            condition: `attribute_exists(#id) AND ${count === undefined ? 'attribute_not_exists(#count)' : '#count = :count'} AND (attribute_not_exists(#recent) OR NOT contains(#recent, :rid))`,
            names: ['#id', '#last', '#count', '#recent'],
            values: {
              ':record': record,
              ':next': { N: String(next) },
              ...(count === undefined ? {} : { ':count': { N: String(count) } }),
              ...appended,
              ':rid': { S: request.id },
            },
          }
        : {
            expression: 'SET #last = :record, #recent = list_append(if_not_exists(#recent, :none), :ids)',
            condition:
              'attribute_exists(#id) AND #last.#rid = :rid AND #last.#state = :refused AND #last.#claim = :earlier',
            names: ['#id', '#last', '#recent', '#rid', '#state', '#claim'],
            values: {
              ':record': record,
              ...appended,
              ':rid': { S: request.id },
              ':refused': { S: 'refused' satisfies TriggerState },
              ':earlier': { S: retry.claim },
            },
          },
    );
    if (written !== 'refused') {
      await trimIds(client, tableName, pollerId, written);
      return { kind: 'claimed', seq };
    }
    const now = await readImage(client, tableName, pollerId);
    if (now === undefined) return { kind: 'missing' };
    item = decodePollerItem(pollerId, now);
    if (attempt >= CLAIM_ATTEMPTS) {
      // Still no decision: other requests keep taking the count first. Nothing was recorded for this one.
      return decide(item, request) ?? { kind: 'gave-up', item };
    }
  }
}

/** The claim's answer from the item alone, or undefined when a write should try. */
function decide(item: PollerItem, request: TriggerClaim): ClaimOutcome | undefined {
  const { lastTrigger, recentTriggers, recentRuns } = triggerFieldsOf(item);
  if (lastTrigger?.id === request.id && lastTrigger.claim === request.claim) {
    return { kind: 'claimed', seq: lastTrigger.seq };
  }
  // This run's record, already replaced by a newer request (its write applied, then retried by the SDK).
  const own = seqRecordedBy(recentRuns ?? [], request.id, request.claim);
  if (own !== undefined) return { kind: 'claimed', seq: own };
  const retryOfRefused = lastTrigger?.id === request.id && lastTrigger.state === 'refused';
  if (!retryOfRefused && recentTriggers?.includes(request.id)) return { kind: 'duplicate', item };
  return undefined;
}

/** How a fire ended, recorded on the run's own request. */
export interface TriggerSettlement {
  readonly id: string;
  readonly claim: string;
  readonly state: Exclude<TriggerState, 'claimed'>;
  /** Lambda's status code, when it answered. */
  readonly status?: number | undefined;
  /** Why the invoke was refused (`refused`), or why its end is not known (`unknown`); also recorded as `lastError`. */
  readonly error?: string | undefined;
  readonly at: string;
}

/**
 * Records how this run's fire ended: on its own record only (a newer request replaced it: that one stays). A
 * refused invoke is also recorded as `lastError`, where operators look, whether or not the record is still there.
 * Returns whether the record was still this run's.
 */
export async function settleTrigger(
  client: DynamoDBClient,
  tableName: string,
  pollerId: string,
  settlement: TriggerSettlement,
): Promise<boolean> {
  const lastError: Record<string, AttributeValue> =
    settlement.error === undefined
      ? {}
      : {
          ':lastError': {
            M: {
              message: {
                S: `trigger ${settlement.id} ${settlement.state === 'unknown' ? 'may have fired' : 'not fired'}: ${settlement.error}`.slice(
                  0,
                  1_000,
                ),
              },
              at: { S: settlement.at },
            },
          },
        };
  const sets = [
    '#last.#state = :state',
    ...(settlement.status === undefined ? [] : ['#last.#status = :status']),
    ...(settlement.error === undefined ? [] : ['#last.#error = :error', '#lastError = :lastError']),
  ];
  const written = await update(client, tableName, pollerId, {
    expression: `SET ${sets.join(', ')}`,
    condition: 'attribute_exists(#id) AND #last.#rid = :rid AND #last.#claim = :claim',
    names: [
      '#id',
      '#last',
      '#rid',
      '#claim',
      '#state',
      ...(settlement.status === undefined ? [] : ['#status' as const]),
      ...(settlement.error === undefined ? [] : ['#error' as const, '#lastError' as const]),
    ],
    values: {
      ':state': { S: settlement.state },
      ':rid': { S: settlement.id },
      ':claim': { S: settlement.claim },
      ...(settlement.status === undefined ? {} : { ':status': { N: String(settlement.status) } }),
      ...(settlement.error === undefined ? {} : { ':error': { S: settlement.error.slice(0, 1_000) } }),
      ...lastError,
    },
  });
  if (written !== 'refused') return true;
  if (settlement.error !== undefined) {
    await update(client, tableName, pollerId, {
      expression: 'SET #lastError = :lastError',
      condition: 'attribute_exists(#id)',
      names: ['#id', '#lastError'],
      values: lastError,
    });
  }
  return false;
}

interface TriggerUpdate {
  readonly expression: string;
  readonly condition: string;
  /** Exactly the placeholders the expressions use: DynamoDB refuses unused ones. */
  readonly names: readonly Name[];
  readonly values: Record<string, AttributeValue>;
}

async function update(
  client: DynamoDBClient,
  tableName: string,
  pollerId: string,
  { expression, condition, names, values }: TriggerUpdate,
): Promise<RawItem | 'refused'> {
  try {
    const result = await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: keyOf(pollerId),
        UpdateExpression: expression,
        ConditionExpression: condition,
        ExpressionAttributeNames: Object.fromEntries(names.map((name) => [name, NAMES[name]])),
        ExpressionAttributeValues: values,
        ReturnValues: TRIGGER_WRITE_RETURN_VALUES,
      }),
    );
    return result.Attributes ?? {};
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return 'refused';
    throw error;
  }
}

async function readImage(
  client: DynamoDBClient,
  tableName: string,
  pollerId: string,
): Promise<RawItem | undefined> {
  const result = await client.send(
    new GetItemCommand({ TableName: tableName, Key: keyOf(pollerId), ConsistentRead: true }),
  );
  return result.Item;
}

/**
 * Trims `recentTriggers` back to TRIGGER_IDS_KEPT requests once it reached TRIGGER_IDS_TRIM_AT (two entries a
 * request, runEntry), only while the list is still the one just written (a racing append makes this one give way;
 * the next claim trims). A trim that fails (throttled, unreachable) is left to the next claim too: the request
 * is recorded either way, and this run fires it.
 */
async function trimIds(
  client: DynamoDBClient,
  tableName: string,
  pollerId: string,
  updated: RawItem,
): Promise<void> {
  const entries = updated[FIELD.recentTriggers]?.L ?? [];
  const length = entries.length;
  const last = entries.at(-1);
  if (length < 2 * TRIGGER_IDS_TRIM_AT || last === undefined) return;
  // The kept tail is written whole, not REMOVEd by index: dynalite applies `REMOVE l[0], l[1]` one index after
  // the other (shifting), and DynamoDB against the list as it was. The last entry names its run's nonce, so the
  // list is still exactly the one written.
  try {
    await update(client, tableName, pollerId, {
      expression: 'SET #recent = :kept',
      condition: `size(#recent) = :length AND #recent[${length - 1}] = :last`,
      names: ['#recent'],
      values: {
        ':kept': { L: entries.slice(-2 * TRIGGER_IDS_KEPT) },
        ':length': { N: String(length) },
        ':last': last,
      },
    });
  } catch {
    // Left to the next claim (see above).
  }
}
