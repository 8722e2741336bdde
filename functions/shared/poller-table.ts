import {
  type AttributeValue,
  ConditionalCheckFailedException,
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
import { ControlTableUnavailableError } from './errors';

/**
 * The control table as every deployed control plane uses it: reads, the Scan, and the seed's writes of operator
 * fields. The table's repository is three classes, each in a module of its own, so that an inline bundle carries
 * only the writes it makes (the template's 51,200-byte budget; a class's unused methods cannot be left out):
 * PollerTable here (the fleet's control plane), LoopTable (loop-table.ts: the fencing writes of a loop per poller)
 * and ControlTable (control-table.ts: the operator's writes, for the CLI and the local stack).
 */

/** Per call: the seeder and the stack's deletion give up on a budget. */
export interface CallOptions {
  readonly abortSignal?: AbortSignal;
}

/** An item as scanned, undecoded: the local stack's stand-in for DynamoDB Streams hands images on as they are. */
export interface ScannedImage {
  readonly pollerId: string;
  readonly image: RawItem;
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
export const MAX_ERROR_MESSAGE_LENGTH = 1_000;

/**
 * Reads and the seed's writes (control-item.ts decodes what is read, so no caller sees attribute values). The seed
 * never touches a system field.
 */
export class PollerTable {
  constructor(
    protected readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  /** Strongly consistent, so an operator's edit is seen by the very next tick. */
  async read(pollerId: string): Promise<PollerItem | undefined> {
    const item = await this.readImage(pollerId);
    return item === undefined ? undefined : decodePollerItem(pollerId, item);
  }

  protected async readImage(pollerId: string, options: CallOptions = {}): Promise<RawItem | undefined> {
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
  protected async update(
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
export function applyEdit(
  update: UpdateBuilder,
  edit: OperatorFieldEdit,
  options: { skipRemovals: boolean },
): void {
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

/** Collects an UpdateExpression with placeholder names and values, so no attribute name clashes with a reserved word. */
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
