import { isDeepStrictEqual } from 'node:util';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { FIELD } from '../../functions/shared/contract';
import { decodePollerItem, keyOf, type PollerItem, type RawItem } from '../../functions/shared/control-item';
import type { ControlItemStore } from '../../functions/shared/control-item-store';
import {
  type GenerationTake,
  type RoundRecord,
  replacedFieldsMessage,
  type TakeOutcome,
  type WriteGuard,
  type WriteOutcome,
} from '../../functions/shared/control-table';
import { ControlTableUnavailableError } from '../../functions/shared/errors';

/** Mirrors ControlTable: a lastError message is cut to this length. */
const MAX_ERROR_MESSAGE_LENGTH = 1_000;

/** A write the controller asked for, refused or not, in order. */
export type StoreWrite =
  | { readonly kind: 'take'; readonly pollerId: string; readonly take: GenerationTake }
  | {
      readonly kind: 'record';
      readonly pollerId: string;
      readonly record: RoundRecord;
      readonly guard: WriteGuard;
    };

/**
 * The control table in memory, for the controller's unit tests: items are stored as DynamoDB images and decoded
 * as ControlTable decodes them, and every write applies the same conditions as ControlTable's conditional writes.
 * test/functions/shared/control-store-contract.test.ts runs one suite against both, so they cannot drift apart.
 */
export class InMemoryControlStore implements ControlItemStore {
  private readonly images = new Map<string, RawItem>();
  /** Every write asked for, in order (what a test observes instead of the UpdateItem requests). */
  readonly writes: StoreWrite[] = [];
  /** Runs before each recordRound is applied: a test's way to race a write or make it slow. */
  beforeRecord: ((write: StoreWrite & { kind: 'record' }) => void) | undefined;
  /** While set, every operation fails as on an unreachable table (a read with ControlTableUnavailableError). */
  unreachable = false;

  constructor(readonly tableName = 'pollers') {}

  /** Replaces the whole item (a PutItem): its id and these fields. */
  put(pollerId: string, fields: RawItem): void {
    this.images.set(pollerId, structuredClone({ ...keyOf(pollerId), ...fields }));
  }

  /** Sets one attribute of an item, creating the item when missing (as an operator's UpdateItem would). */
  setField(pollerId: string, field: string, value: AttributeValue): void {
    this.images.set(pollerId, { ...(this.images.get(pollerId) ?? keyOf(pollerId)), [field]: value });
  }

  /** The item as stored, a copy; undefined when there is none. */
  image(pollerId: string): RawItem | undefined {
    const image = this.images.get(pollerId);
    return image === undefined ? undefined : structuredClone(image);
  }

  async read(pollerId: string): Promise<PollerItem | undefined> {
    if (this.unreachable)
      throw new ControlTableUnavailableError(pollerId, this.tableName, connectionRefused());
    const image = this.images.get(pollerId);
    return image === undefined ? undefined : decodePollerItem(pollerId, structuredClone(image));
  }

  async takeGeneration(pollerId: string, take: GenerationTake): Promise<TakeOutcome> {
    if (this.unreachable) throw connectionRefused();
    this.writes.push({ kind: 'take', pollerId, take });
    const image = this.images.get(pollerId);
    if (image === undefined) return { kind: 'missing' };
    const { expected } = take;
    const corruptAsRead = (field: string) =>
      expected.corrupt?.find((corrupt) => corrupt.field === field)?.stored;
    const generationAsRead = corruptAsRead(FIELD.generation);
    const heartbeatAsRead = corruptAsRead(FIELD.heartbeatAt);
    const holds =
      image[FIELD.running]?.BOOL === true &&
      (expected.generation === undefined && generationAsRead !== undefined
        ? isDeepStrictEqual(image[FIELD.generation], generationAsRead)
        : sameNumber(image[FIELD.generation], expected.generation)) &&
      (expected.heartbeatAt === undefined && heartbeatAsRead !== undefined
        ? isDeepStrictEqual(image[FIELD.heartbeatAt], heartbeatAsRead)
        : sameString(image[FIELD.heartbeatAt], expected.heartbeatAt));
    if (!holds) return { kind: 'changed', item: decodePollerItem(pollerId, structuredClone(image)) };
    const next: RawItem = {
      ...image,
      [FIELD.generation]: { N: String(take.generation) },
      [FIELD.executionArn]: { S: take.executionArn },
      [FIELD.heartbeatAt]: { S: take.at },
    };
    delete next[FIELD.stoppedReason];
    delete next[FIELD.nextTickAt];
    const replaced = replacedFieldsMessage(take);
    if (replaced !== undefined) {
      next[FIELD.lastError] = {
        M: { message: { S: replaced.slice(0, MAX_ERROR_MESSAGE_LENGTH) }, at: { S: take.at } },
      };
    }
    if (take.restartReason !== undefined) {
      next[FIELD.lastRestartAt] = { S: take.at };
      next[FIELD.lastRestartReason] = { S: take.restartReason.slice(0, MAX_ERROR_MESSAGE_LENGTH) };
      next[FIELD.restarts] = added(image[FIELD.restarts], 1);
    }
    this.images.set(pollerId, next);
    return { kind: 'taken' };
  }

  async recordRound(pollerId: string, record: RoundRecord, guard: WriteGuard): Promise<WriteOutcome> {
    if (this.unreachable) throw connectionRefused();
    const write = { kind: 'record', pollerId, record, guard } as const;
    this.writes.push(write);
    this.beforeRecord?.(write);
    const changes = changesOf(record);
    if (changes === undefined) return 'written';
    const image = this.images.get(pollerId);
    if (image === undefined) return 'missing';
    const holds =
      sameNumber(image[FIELD.generation], guard.generation) &&
      (!guard.whileNotRunning || image[FIELD.running]?.BOOL !== true) &&
      (guard.claimedSeq === undefined || sameNumber(image[FIELD.claimedSeq], guard.claimedSeq));
    if (!holds) return 'superseded';
    this.images.set(pollerId, changes(image));
    return 'written';
  }
}

/** What the DynamoDB client throws for a table it cannot reach; ControlTable wraps it only for reads. */
function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1'), { code: 'ECONNREFUSED' });
}

/**
 * What a round record changes on an item, as ControlTable builds its UpdateExpression (SET, REMOVE, ADD);
 * undefined when it changes nothing (ControlTable then sends no write at all).
 */
function changesOf(record: RoundRecord): ((image: RawItem) => RawItem) | undefined {
  const sets: RawItem = {};
  if (record.seq !== undefined) sets[FIELD.seq] = { N: String(record.seq) };
  if (record.claimedSeq !== undefined) sets[FIELD.claimedSeq] = { N: String(record.claimedSeq) };
  if (record.heartbeatAt !== undefined) sets[FIELD.heartbeatAt] = { S: record.heartbeatAt };
  if (record.lastTickAt !== undefined) sets[FIELD.lastTickAt] = { S: record.lastTickAt };
  if (record.nextTickAt !== undefined) sets[FIELD.nextTickAt] = { S: record.nextTickAt };
  if (record.executionArn !== undefined) sets[FIELD.executionArn] = { S: record.executionArn };
  if (record.lastError !== undefined) {
    sets[FIELD.lastError] = {
      M: {
        message: { S: record.lastError.message.slice(0, MAX_ERROR_MESSAGE_LENGTH) },
        at: { S: record.lastError.at },
      },
    };
  }
  if (record.lastFinishedSeq !== undefined)
    sets[FIELD.lastFinishedSeq] = { N: String(record.lastFinishedSeq) };
  if (record.lastFireMs !== undefined) sets[FIELD.lastFireMs] = { N: String(record.lastFireMs) };
  if (typeof record.stoppedReason === 'string') sets[FIELD.stoppedReason] = { S: record.stoppedReason };
  const removesStop = record.stoppedReason === null;
  const adds: [string, number][] = [];
  if (record.skippedTicksAdded) adds.push([FIELD.skippedTicks, record.skippedTicksAdded]);
  if (record.failedFiresAdded) adds.push([FIELD.failedFires, record.failedFiresAdded]);
  if (record.overlapSkipsAdded) adds.push([FIELD.overlapSkips, record.overlapSkipsAdded]);
  if (Object.keys(sets).length === 0 && !removesStop && adds.length === 0) return undefined;
  return (image) => {
    const next: RawItem = { ...image, ...sets };
    if (removesStop) delete next[FIELD.stoppedReason];
    for (const [field, amount] of adds) next[field] = added(image[field], amount);
    return next;
  };
}

/** DynamoDB's ADD on a number: a missing attribute counts as 0. */
function added(value: AttributeValue | undefined, amount: number): AttributeValue {
  return { N: String(Number(value?.N ?? '0') + amount) };
}

/** `attribute = :number`, or `attribute_not_exists(attribute)` when `expected` is undefined. */
function sameNumber(value: AttributeValue | undefined, expected: number | undefined): boolean {
  if (expected === undefined) return value === undefined;
  return value?.N !== undefined && Number(value.N) === expected;
}

/** `attribute = :string`, or `attribute_not_exists(attribute)` when `expected` is undefined. */
function sameString(value: AttributeValue | undefined, expected: string | undefined): boolean {
  if (expected === undefined) return value === undefined;
  return value?.S === expected;
}
