import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { SHARD_KEY_PREFIX } from '../fleet/shard-store';
import { FIELD, type OverlapPolicy } from './contract';
import {
  decodePollerItem,
  jsonToAttribute,
  keyOf,
  type PollerItem,
  pollerIdOfKey,
  type RawItem,
} from './control-item';
import type { ControlItemStore } from './control-item-store';
import { ControlTableUnavailableError } from './errors';
import type { TakeExpectation } from './loop-ownership';

/**
 * Recording a tick's outcome is this repository's write too, in a module of its own so that the worker's inline
 * bundle carries that one write and not the item's decoders (the template's 51,200-byte budget).
 */
export { type OutcomeWrite, recordTickOutcome } from './tick-outcome-write';
/** `ctl trigger`'s writes, in a module apart for the same reason (the control plane never triggers). */
export {
  type ClaimOutcome,
  claimTrigger,
  settleTrigger,
  type TriggerClaim,
  type TriggerSettlement,
} from './trigger-write';

/** What the controller writes. Only these system fields are ever SET; operator fields are untouched. */
export interface RoundRecord {
  readonly seq?: number;
  readonly claimedSeq?: number;
  readonly heartbeatAt?: string;
  readonly lastTickAt?: string;
  readonly nextTickAt?: string;
  readonly skippedTicksAdded?: number;
  readonly failedFiresAdded?: number;
  readonly overlapSkipsAdded?: number;
  /** The last fire (overlap `skip`) that answered well, and how long it ran in ms. */
  readonly lastFinishedSeq?: number;
  readonly lastFireMs?: number;
  readonly executionArn?: string;
  readonly lastError?: { readonly message: string; readonly at: string };
  readonly stoppedReason?: string | null;
}

/**
 * The fencing condition of a write. Every controller write holds only for its own generation, so a superseded
 * loop can neither fire claimed ticks nor overwrite what the newer loop records. (A new loop's generation is
 * taken by `takeGeneration`, never by a round's write.)
 */
export interface WriteGuard {
  /** The item's generation must still be this one. */
  readonly generation: number;
  /** And its claim still this one, when given (a claim extends only the claim it read). */
  readonly claimedSeq?: number | undefined;
  /**
   * Also require `running` to be anything but true: a loop records that it stopped for `running=false` only
   * while that still holds, so a start racing the stop finds either a live loop or a stopped one, never a
   * loop that is about to vanish.
   */
  readonly whileNotRunning?: boolean | undefined;
}

export type WriteOutcome = 'written' | 'superseded' | 'missing';

/** A start taking a generation for the execution that will run the loop (see loop-ownership.ts). */
export interface GenerationTake {
  readonly generation: number;
  readonly expected: TakeExpectation;
  /** The execution that runs the new loop: its first round recognises itself by this. */
  readonly executionArn: string;
  /** ISO time of the take; it doubles as the first heartbeat, so a loop that is still starting counts as alive. */
  readonly at: string;
  /** Set when the watchdog restarts a loop it found dead: counted and recorded on the item. */
  readonly restartReason?: string | undefined;
}

export type TakeOutcome =
  | { readonly kind: 'taken' }
  | { readonly kind: 'missing' }
  /** Someone wrote first (a racing start, or the loop came back): decide again from `item` (the item as it is). */
  | { readonly kind: 'changed'; readonly item: PollerItem | undefined };

/**
 * What a take records in `lastError` when it replaces corrupt fields (the operator sees what was wrong and that the
 * start fixed it); undefined when it replaces none.
 */
export function replacedFieldsMessage(take: GenerationTake): string | undefined {
  const corrupt = take.expected.corrupt ?? [];
  if (corrupt.length === 0) return undefined;
  const problems = corrupt.map((field) => field.problem.message).join('; ');
  return `${problems}; replaced by the start of generation ${take.generation}`;
}

/** Per call: the seeder and the stack's deletion give up on a budget. */
export interface CallOptions {
  readonly abortSignal?: AbortSignal;
}

/** An item as scanned, undecoded: the local stack's stand-in for DynamoDB Streams hands images on as they are. */
export interface ScannedImage {
  readonly pollerId: string;
  readonly image: RawItem;
}

/** What a seed writes: the operator fields a stack parameter (or `npm start`) sets. */
export interface SeedFields {
  readonly running: boolean;
  /** The interval in seconds as decimal text (a stack parameter is text; DynamoDB stores numbers as text). */
  readonly waitSeconds: string;
  /** Keep a `waitseconds` the item already has; `waitSeconds` only fills it in when missing. */
  readonly keepWaitSeconds?: boolean;
}

/**
 * The operator fields an edit changes (absent keys stay as they are): a value sets the field, `null` removes it
 * (`target`: back to the stack's worker; `payload`: none). `running` is not here: it is switched by
 * `switchOn`/`switchOff`, whose callers start and stop loops. A new operator field is one key here and one entry
 * in OPERATOR_FIELD_CODECS (the compiler asks for it).
 */
export interface OperatorFieldEdit {
  readonly waitSeconds?: number;
  readonly target?: string | null;
  readonly payload?: Readonly<Record<string, unknown>> | null;
  /** An IANA zone name for the window rules; `null`: UTC (the field removed). */
  readonly timeZone?: string | null;
  /** Window rules as written, in order (stored as a list of strings); `null`: none. */
  readonly windows?: readonly string[] | null;
  /** `null`: removed (allow, the default). */
  readonly overlap?: OverlapPolicy | null;
}

/** A poller as `createPoller` writes it: its switch and cadence, and any other operator field. */
export interface NewPoller extends OperatorFieldEdit {
  readonly running: boolean;
  readonly waitSeconds: number;
}

export type CreateOutcome = 'created' | 'exists';

export type DeleteOutcome =
  | { readonly kind: 'deleted'; readonly item: PollerItem }
  | { readonly kind: 'missing' }
  /** `running` was turned back on before the delete: the item stays, as it now is. */
  | { readonly kind: 'running'; readonly item: PollerItem };

interface FieldCodec<K extends keyof OperatorFieldEdit> {
  readonly attribute: string;
  readonly encode: (value: NonNullable<OperatorFieldEdit[K]>) => AttributeValue;
}

/** How each operator field is stored: the one place an edit becomes attribute values. */
type OperatorFieldKey = keyof OperatorFieldEdit;

const OPERATOR_FIELD_CODECS: { readonly [K in OperatorFieldKey]: FieldCodec<K> } = {
  waitSeconds: { attribute: FIELD.waitSeconds, encode: (seconds) => ({ N: String(seconds) }) },
  target: { attribute: FIELD.target, encode: (target) => ({ S: target }) },
  payload: { attribute: FIELD.payload, encode: (payload) => jsonToAttribute(payload) },
  timeZone: { attribute: FIELD.timezone, encode: (zone) => ({ S: zone }) },
  windows: { attribute: FIELD.windows, encode: (rules) => ({ L: rules.map((rule) => ({ S: rule })) }) },
  overlap: { attribute: FIELD.overlap, encode: (policy) => ({ S: policy }) },
};

const OPERATOR_FIELD_KEYS = Object.keys(OPERATOR_FIELD_CODECS).filter(
  (key): key is keyof OperatorFieldEdit => key in OPERATOR_FIELD_CODECS,
);

/** What a seed writes to one item: `running` when given, and each operator field the edit names (null: REMOVE). */
export interface SeedWrite extends OperatorFieldEdit {
  readonly running?: boolean;
}

/**
 * What `writeSeed` did: 'missing', the item is gone (an operator deleted it) and was not re-created; 'written', with
 * the attribute name of each field it was to remove but left, since an operator changed it after the seed wrote it.
 */
export type SeedWriteOutcome =
  | { readonly kind: 'missing' }
  | { readonly kind: 'written'; readonly kept: readonly string[] };

/**
 * The operator fields of `current` that differ from `previous` (compared as stored, through the codecs), and `null`
 * for each field `previous` set and `current` no longer names: two declarations of one poller, what to write.
 */
export function changedOperatorFields(
  previous: OperatorFieldEdit,
  current: OperatorFieldEdit,
): OperatorFieldEdit {
  return OPERATOR_FIELD_KEYS.reduce(
    (changed: OperatorFieldEdit, key) => withChange(changed, key, previous[key], current[key]),
    {},
  );
}

function withChange<K extends OperatorFieldKey>(
  edit: OperatorFieldEdit,
  key: K,
  before: OperatorFieldEdit[K],
  now: OperatorFieldEdit[K],
): OperatorFieldEdit {
  const stays = stored(key, now);
  if (stays === stored(key, before)) return edit;
  // `waitseconds` is always declared, so only a field that may be absent is ever removed here.
  return { ...edit, [key]: stays === undefined ? null : now };
}

/** A field's value as the item stores it, as text (null and undefined: not stored), to compare two values. */
function stored<K extends OperatorFieldKey>(key: K, value: OperatorFieldEdit[K]): string | undefined {
  const codec: FieldCodec<K> = OPERATOR_FIELD_CODECS[key];
  return value === undefined || value === null ? undefined : JSON.stringify(codec.encode(value));
}

/** Two attribute values hold the same: a map's keys in any order, a number by its text as stored. */
function sameAttribute(a: AttributeValue, b: AttributeValue): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([name, entry]) => `${JSON.stringify(name)}:${canonicalJson(entry)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A lastError message is for a human: keep the item well under DynamoDB's 400 KB and the console readable. */
const MAX_ERROR_MESSAGE_LENGTH = 1_000;

/**
 * The control table: every read and write of a control item goes through here and hands back the decoded view
 * (control-item.ts), so no caller sees attribute values. The conditions of `takeGeneration` and `recordRound` are
 * the fencing that gives one loop and one fire per tick; the operator's writes (switches, cadence, seed) never
 * touch a system field.
 */
export class ControlTable implements ControlItemStore {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  /** Strongly consistent, so an operator's edit is seen by the very next tick. */
  async read(pollerId: string): Promise<PollerItem | undefined> {
    const item = await this.readImage(pollerId);
    return item === undefined ? undefined : decodePollerItem(pollerId, item);
  }

  private async readImage(pollerId: string, options: CallOptions = {}): Promise<RawItem | undefined> {
    try {
      const result = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: keyOf(pollerId), ConsistentRead: true }),
        options,
      );
      return result.Item;
    } catch (error) {
      throw new ControlTableUnavailableError(pollerId, this.tableName, error);
    }
  }

  /**
   * Every item in the table, decoded (items without a string id are no poller's and left out). Strongly
   * consistent, all pages: the watchdog must not miss a poller because the table outgrew one page.
   */
  async listAll(options: CallOptions = {}): Promise<PollerItem[]> {
    return (await this.scanImages(options)).map(({ pollerId, image }) => decodePollerItem(pollerId, image));
  }

  /**
   * Every poller's item as stored, with its poller id. The fleet's shard items (`~shard/…`, shard-table.ts) are no
   * poller's and are left out.
   */
  async scanImages(options: CallOptions = {}): Promise<ScannedImage[]> {
    return (await this.scanEveryImage(options)).filter(
      ({ pollerId }) => !pollerId.startsWith(SHARD_KEY_PREFIX),
    );
  }

  /**
   * Every item as stored, the fleet's shard items included (the fleet planner reads both in one Scan); the one Scan
   * loop of the project.
   */
  async scanEveryImage(options: CallOptions = {}): Promise<ScannedImage[]> {
    const images: ScannedImage[] = [];
    let startKey: RawItem | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
        options,
      );
      for (const image of page.Items ?? []) {
        const pollerId = pollerIdOfKey(image);
        if (pollerId !== undefined) images.push({ pollerId, image });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return images;
  }

  /**
   * Takes a generation for a new loop: only if the item still runs, still has the generation and heartbeat the
   * start judged, and so has no live loop. It names the loop's execution, counts as the first heartbeat and
   * clears the last stop reason. It removes `nextTickAt`, the old loop's plan: the heartbeat it writes makes the
   * poller look alive, and no one must read the old loop's grid as the new loop's ticks (`claimedSeq` stays: a new
   * loop continues above it). Never creates an item.
   */
  async takeGeneration(pollerId: string, take: GenerationTake): Promise<TakeOutcome> {
    const update = new UpdateBuilder();
    update.set(FIELD.generation, { N: String(take.generation) });
    update.set(FIELD.executionArn, { S: take.executionArn });
    update.set(FIELD.heartbeatAt, { S: take.at });
    update.remove(FIELD.stoppedReason);
    update.remove(FIELD.nextTickAt);
    if (take.restartReason !== undefined) {
      update.set(FIELD.lastRestartAt, { S: take.at });
      update.set(FIELD.lastRestartReason, { S: take.restartReason.slice(0, MAX_ERROR_MESSAGE_LENGTH) });
      update.add(FIELD.restarts, 1);
    }
    const { expected } = take;
    const asRead = (
      field: typeof FIELD.generation | typeof FIELD.heartbeatAt,
      valid: AttributeValue | undefined,
    ) => {
      const name = update.name(field);
      // A corrupt value counts as absent when deciding, but the write must find exactly what was read: a racing
      // start that replaced it first makes this one lose, as for any other value.
      const stored = valid ?? expected.corrupt?.find((corrupt) => corrupt.field === field)?.stored;
      return stored === undefined
        ? `attribute_not_exists(${name})`
        : `${name} = ${update.value(`expected${field}`, stored)}`;
    };
    const conditions = [
      `attribute_exists(${update.name(FIELD.id)})`,
      `${update.name(FIELD.running)} = ${update.value('runningTrue', { BOOL: true })}`,
      asRead(
        FIELD.generation,
        expected.generation === undefined ? undefined : { N: String(expected.generation) },
      ),
      asRead(FIELD.heartbeatAt, expected.heartbeatAt === undefined ? undefined : { S: expected.heartbeatAt }),
    ];
    const replaced = replacedFieldsMessage(take);
    if (replaced !== undefined) {
      update.set(FIELD.lastError, {
        M: { message: { S: replaced.slice(0, MAX_ERROR_MESSAGE_LENGTH) }, at: { S: take.at } },
      });
    }
    const refused = await this.conditionalUpdate(pollerId, update, conditions);
    if (refused === undefined) return { kind: 'taken' };
    return refused.item === undefined
      ? { kind: 'missing' }
      : { kind: 'changed', item: decodePollerItem(pollerId, refused.item) };
  }

  /**
   * Records a problem a start found (e.g. no valid configuration) where the operator looks, once: not again while
   * the same message stands. Never creates an item.
   */
  async recordError(pollerId: string, message: string, at: string): Promise<void> {
    const text = message.slice(0, MAX_ERROR_MESSAGE_LENGTH);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: keyOf(pollerId),
          UpdateExpression: 'SET #lastError = :error',
          ConditionExpression:
            'attribute_exists(#id) AND (attribute_not_exists(#lastError) OR #lastError.#message <> :message)',
          ExpressionAttributeNames: { '#id': FIELD.id, '#lastError': FIELD.lastError, '#message': 'message' },
          ExpressionAttributeValues: {
            ':error': { M: { message: { S: text }, at: { S: at } } },
            ':message': { S: text },
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /**
   * Writes system fields under a fencing guard. Never creates an item: a deleted poller is not resurrected as a
   * husk of system fields. A failed condition says whether the item is gone ('missing') or moved on ('superseded').
   */
  async recordRound(pollerId: string, record: RoundRecord, guard: WriteGuard): Promise<WriteOutcome> {
    const update = new UpdateBuilder();
    if (record.seq !== undefined) update.set(FIELD.seq, { N: String(record.seq) });
    if (record.claimedSeq !== undefined) update.set(FIELD.claimedSeq, { N: String(record.claimedSeq) });
    if (record.heartbeatAt !== undefined) update.set(FIELD.heartbeatAt, { S: record.heartbeatAt });
    if (record.lastTickAt !== undefined) update.set(FIELD.lastTickAt, { S: record.lastTickAt });
    if (record.nextTickAt !== undefined) update.set(FIELD.nextTickAt, { S: record.nextTickAt });
    if (record.executionArn !== undefined) update.set(FIELD.executionArn, { S: record.executionArn });
    if (record.lastError !== undefined) {
      update.set(FIELD.lastError, {
        M: {
          message: { S: record.lastError.message.slice(0, MAX_ERROR_MESSAGE_LENGTH) },
          at: { S: record.lastError.at },
        },
      });
    }
    if (typeof record.stoppedReason === 'string')
      update.set(FIELD.stoppedReason, { S: record.stoppedReason });
    if (record.stoppedReason === null) update.remove(FIELD.stoppedReason);
    if (record.skippedTicksAdded) update.add(FIELD.skippedTicks, record.skippedTicksAdded);
    if (record.failedFiresAdded) update.add(FIELD.failedFires, record.failedFiresAdded);
    if (record.overlapSkipsAdded) update.add(FIELD.overlapSkips, record.overlapSkipsAdded);
    if (record.lastFinishedSeq !== undefined)
      update.set(FIELD.lastFinishedSeq, { N: String(record.lastFinishedSeq) });
    if (record.lastFireMs !== undefined) update.set(FIELD.lastFireMs, { N: String(record.lastFireMs) });
    if (update.isEmpty()) return 'written';

    const conditions = [
      `attribute_exists(${update.name(FIELD.id)})`,
      `${update.name(FIELD.generation)} = ${update.value('holdGeneration', { N: String(guard.generation) })}`,
    ];
    if (guard.whileNotRunning) {
      conditions.push(`${update.name(FIELD.running)} <> ${update.value('runningTrue', { BOOL: true })}`);
    }
    if (guard.claimedSeq !== undefined) {
      conditions.push(
        `${update.name(FIELD.claimedSeq)} = ${update.value('expectedClaim', { N: String(guard.claimedSeq) })}`,
      );
    }
    const refused = await this.conditionalUpdate(pollerId, update, conditions);
    if (refused === undefined) return 'written';
    return refused.item === undefined ? 'missing' : 'superseded';
  }

  /**
   * One conditional UpdateItem. Returns undefined when written; when the condition failed, the item as it is
   * (DynamoDB returns it with the failure; an emulator without that feature gets a read), or undefined inside if
   * there is none.
   */
  private async conditionalUpdate(
    pollerId: string,
    update: UpdateBuilder,
    conditions: readonly string[],
  ): Promise<{ readonly item: RawItem | undefined } | undefined> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: keyOf(pollerId),
          ...update.build(),
          ConditionExpression: conditions.join(' AND '),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // DynamoDB returns the item with the failure (ReturnValuesOnConditionCheckFailure); dynalite does not, and
      // neither does DynamoDB when there is no item: the read answers for both (undefined: the item is gone).
      return { item: error.Item ?? (await this.readImage(pollerId)) };
    }
  }

  /**
   * The operator's switch, on: SET running=true (and the cadence, when given). Without a cadence the item must
   * exist (a poller needs one to run); with it, a missing item is created. Returns the item as it was (undefined:
   * created), or 'missing'.
   */
  async switchOn(
    pollerId: string,
    waitSeconds?: number,
  ): Promise<{ readonly before: PollerItem | undefined } | 'missing'> {
    const update = new UpdateBuilder();
    update.set(FIELD.running, { BOOL: true });
    if (waitSeconds !== undefined) update.set(FIELD.waitSeconds, { N: String(waitSeconds) });
    const condition = waitSeconds === undefined ? `attribute_exists(${update.name(FIELD.id)})` : undefined;
    const written = await this.update(pollerId, update, condition, 'ALL_OLD');
    if (written === 'refused') return 'missing';
    return { before: written === undefined ? undefined : decodePollerItem(pollerId, written) };
  }

  /** The operator's switch, off: SET running=false on an existing item. Returns the item as it now is, or 'missing'. */
  async switchOff(pollerId: string): Promise<PollerItem | 'missing'> {
    const update = new UpdateBuilder();
    update.set(FIELD.running, { BOOL: false });
    const written = await this.update(
      pollerId,
      update,
      `attribute_exists(${update.name(FIELD.id)})`,
      'ALL_NEW',
    );
    return written === 'refused' || written === undefined ? 'missing' : decodePollerItem(pollerId, written);
  }

  /**
   * Turns a running poller off (the stack is being deleted), only while it still runs: an item deleted meanwhile
   * is not resurrected. Returns whether it was turned off.
   */
  async switchOffIfRunning(pollerId: string, options: CallOptions = {}): Promise<boolean> {
    const update = new UpdateBuilder();
    update.set(FIELD.running, { BOOL: false });
    const condition = `${update.name(FIELD.running)} = ${update.value('runningTrue', { BOOL: true })}`;
    return (await this.update(pollerId, update, condition, 'NONE', options)) !== 'refused';
  }

  /**
   * Creates a poller's item with its operator fields, only if no item has that id: an existing poller (and its
   * loop's system fields) is never overwritten. Returns 'exists' without writing anything otherwise.
   */
  async createPoller(pollerId: string, fields: NewPoller): Promise<CreateOutcome> {
    const update = new UpdateBuilder();
    update.set(FIELD.running, { BOOL: fields.running });
    applyEdit(update, fields, { skipRemovals: true });
    const condition = `attribute_not_exists(${update.name(FIELD.id)})`;
    return (await this.update(pollerId, update, condition)) === 'refused' ? 'exists' : 'created';
  }

  /**
   * Changes operator fields of an existing item, and nothing else; a missing item (never created, or deleted) is
   * not created. Returns the item as it now is, or 'missing'.
   */
  async editOperatorFields(pollerId: string, edit: OperatorFieldEdit): Promise<PollerItem | 'missing'> {
    const update = new UpdateBuilder();
    applyEdit(update, edit, { skipRemovals: false });
    if (update.isEmpty()) {
      return (await this.read(pollerId)) ?? 'missing';
    }
    const condition = `attribute_exists(${update.name(FIELD.id)})`;
    const written = await this.update(pollerId, update, condition, 'ALL_NEW');
    return written === 'refused' || written === undefined ? 'missing' : decodePollerItem(pollerId, written);
  }

  /**
   * Deletes a poller's item, only while `running` is not true: an operator stops the loop first (`switchOff`), and
   * a start that turned it back on meanwhile wins. The loop, if any, reads no item at its next tick and ends.
   */
  async deletePoller(pollerId: string): Promise<DeleteOutcome> {
    const running = `#${FIELD.running}`;
    try {
      const result = await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: keyOf(pollerId),
          ConditionExpression: `attribute_exists(#id) AND (attribute_not_exists(${running}) OR ${running} <> :runningTrue)`,
          ExpressionAttributeNames: { '#id': FIELD.id, [running]: FIELD.running },
          ExpressionAttributeValues: { ':runningTrue': { BOOL: true } },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return result.Attributes === undefined
        ? { kind: 'missing' }
        : { kind: 'deleted', item: decodePollerItem(pollerId, result.Attributes) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // As in conditionalUpdate: dynalite returns no item with the failure, so read it.
      const item = error.Item ?? (await this.readImage(pollerId));
      return item === undefined
        ? { kind: 'missing' }
        : { kind: 'running', item: decodePollerItem(pollerId, item) };
    }
  }

  /**
   * Writes the seeded operator fields, creating the item when missing; every other attribute (system fields,
   * target, payload) stays as it is.
   */
  async seed(pollerId: string, fields: SeedFields, options: CallOptions = {}): Promise<void> {
    const update = new UpdateBuilder();
    update.set(FIELD.running, { BOOL: fields.running });
    if (fields.keepWaitSeconds) {
      const wait = update.name(FIELD.waitSeconds);
      update.setExpression(
        `${wait} = if_not_exists(${wait}, ${update.value(FIELD.waitSeconds, { N: fields.waitSeconds })})`,
      );
    } else {
      update.set(FIELD.waitSeconds, { N: fields.waitSeconds });
    }
    await this.update(pollerId, update, undefined, 'NONE', options);
  }

  /**
   * A seed's write of declared fields (`write`). `previous` is the last declaration the seed wrote, undefined for a
   * poller new in the declaration: then the item is created when missing, with every declared field. With a
   * `previous` (an Update), the item must exist: an item an operator deleted is not re-created ('missing'), so a
   * deployment never brings back a poller half-made (only the changed fields) that would fire the default worker.
   * A field `write` removes (null) goes only while the item still holds the value `previous` declared (the seed
   * wrote it); an operator's later value stays, and is named in `kept`. A value `write` sets is written whatever
   * the item holds (a changed declaration wins over a live edit). Every other attribute stays as it is.
   */
  async writeSeed(
    pollerId: string,
    write: SeedWrite,
    previous: SeedWrite | undefined,
    options: CallOptions = {},
  ): Promise<SeedWriteOutcome> {
    const update = new UpdateBuilder();
    if (write.running !== undefined) update.set(FIELD.running, { BOOL: write.running });
    applyEdit(update, write, { skipRemovals: true });
    const removals = OPERATOR_FIELD_KEYS.filter((key) => write[key] === null);
    if (previous === undefined || update.isEmpty()) {
      // A new poller: created with its fields. Or removals only: their conditions check the item exists.
      if (!update.isEmpty()) await this.update(pollerId, update, undefined, 'NONE', options);
    } else {
      const exists = `attribute_exists(${update.name(FIELD.id)})`;
      if ((await this.update(pollerId, update, exists, 'NONE', options)) === 'refused')
        return { kind: 'missing' };
    }
    const kept: string[] = [];
    for (const key of removals) {
      const outcome = await this.removeSeeded(pollerId, key, previous?.[key], options);
      if (outcome === 'missing') return { kind: 'missing' };
      if (outcome === 'kept') kept.push(OPERATOR_FIELD_CODECS[key].attribute);
    }
    return { kind: 'written', kept };
  }

  /**
   * REMOVEs one field the seed wrote as `was`, only while the item exists and still holds it: 'kept', the operator
   * changed it since (the field stays); 'removed' also when it is already gone. The item is compared on a consistent
   * read (a list or a map compared whole, key order aside); the REMOVE is conditional on the item existing and, for
   * a scalar field (target, timezone, overlap), on its value too, so only an operator's edit of a list or map
   * field landing between that read and the REMOVE (milliseconds) is not seen.
   */
  private async removeSeeded<K extends OperatorFieldKey>(
    pollerId: string,
    key: K,
    was: OperatorFieldEdit[K] | undefined,
    options: CallOptions,
  ): Promise<'removed' | 'kept' | 'missing'> {
    const codec: FieldCodec<K> = OPERATOR_FIELD_CODECS[key];
    const seeded = was === undefined || was === null ? undefined : codec.encode(was);
    const item = await this.readImage(pollerId, options);
    if (item === undefined) return 'missing';
    const live = item[codec.attribute];
    if (live === undefined) return 'removed';
    if (seeded === undefined || !sameAttribute(live, seeded)) return 'kept';
    const update = new UpdateBuilder();
    update.remove(codec.attribute);
    const exists = `attribute_exists(${update.name(FIELD.id)})`;
    const scalar = seeded.S !== undefined || seeded.N !== undefined || seeded.BOOL !== undefined;
    const condition = scalar
      ? `${exists} AND ${update.name(codec.attribute)} = ${update.value(`${codec.attribute}Seeded`, seeded)}`
      : exists;
    if ((await this.update(pollerId, update, condition, 'NONE', options)) !== 'refused') return 'removed';
    const now = await this.readImage(pollerId, options);
    if (now === undefined) return 'missing';
    return now[codec.attribute] === undefined ? 'removed' : 'kept';
  }

  /**
   * One UpdateItem of operator fields. Returns the attributes asked for (undefined when there are none), or
   * 'refused' when the condition failed.
   */
  private async update(
    pollerId: string,
    update: UpdateBuilder,
    condition: string | undefined,
    returnValues: 'NONE' | 'ALL_OLD' | 'ALL_NEW' = 'NONE',
    options: CallOptions = {},
  ): Promise<RawItem | undefined | 'refused'> {
    try {
      const result = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: keyOf(pollerId),
          ...update.build(),
          ...(condition === undefined ? {} : { ConditionExpression: condition }),
          ...(returnValues === 'NONE' ? {} : { ReturnValues: returnValues }),
        }),
        options,
      );
      return result.Attributes;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'refused';
      throw error;
    }
  }
}

/** Adds each field the edit names: SET for a value, REMOVE for null (a new item has nothing to remove). */
function applyEdit(update: UpdateBuilder, edit: OperatorFieldEdit, options: { skipRemovals: boolean }): void {
  for (const key of OPERATOR_FIELD_KEYS) applyField(update, key, edit[key], options);
}

function applyField<K extends keyof OperatorFieldEdit>(
  update: UpdateBuilder,
  key: K,
  value: OperatorFieldEdit[K],
  options: { skipRemovals: boolean },
): void {
  const codec: FieldCodec<K> = OPERATOR_FIELD_CODECS[key];
  if (value === undefined) return;
  if (value === null) {
    if (!options.skipRemovals) update.remove(codec.attribute);
    return;
  }
  update.set(codec.attribute, codec.encode(value));
}

/**
 * Collects an UpdateExpression with placeholder names and values, so no attribute name clashes with a reserved word.
 * The fleet's store (functions/fleet/shard-table.ts) builds its writes with it too.
 */
export class UpdateBuilder {
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  private readonly names: Record<string, string> = {};
  private readonly values: Record<string, AttributeValue> = {};

  name(attribute: string): string {
    this.names[`#${attribute}`] = attribute;
    return `#${attribute}`;
  }

  value(placeholder: string, value: AttributeValue): string {
    this.values[`:${placeholder}`] = value;
    return `:${placeholder}`;
  }

  set(attribute: string, value: AttributeValue): void {
    this.sets.push(`${this.name(attribute)} = ${this.value(attribute, value)}`);
  }

  /** A SET clause built from `name` and `value` placeholders (e.g. with `if_not_exists`). */
  setExpression(clause: string): void {
    this.sets.push(clause);
  }

  remove(attribute: string): void {
    this.removes.push(this.name(attribute));
  }

  add(attribute: string, amount: number): void {
    this.adds.push(`${this.name(attribute)} ${this.value(`${attribute}Added`, { N: String(amount) })}`);
  }

  isEmpty(): boolean {
    return this.sets.length + this.removes.length + this.adds.length === 0;
  }

  build() {
    const clauses = [
      this.sets.length > 0 ? `SET ${this.sets.join(', ')}` : '',
      this.removes.length > 0 ? `REMOVE ${this.removes.join(', ')}` : '',
      this.adds.length > 0 ? `ADD ${this.adds.join(', ')}` : '',
    ].filter((clause) => clause !== '');
    return {
      UpdateExpression: clauses.join(' '),
      ExpressionAttributeNames: this.names,
      ...(Object.keys(this.values).length > 0 ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}
