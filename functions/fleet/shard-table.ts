import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { encodeLoopState } from '../controller/parse-input';
import { FIELD, type LoopState } from '../shared/contract';
import {
  decodePollerItem,
  describeAttribute,
  keyOf,
  type PollerItem,
  pollerIdOfKey,
  type RawItem,
} from '../shared/control-item';
import { ControlTableUnavailableError, InvalidShardItemError } from '../shared/errors';
import { type CallOptions, UpdateBuilder } from '../shared/poller-table';
import type { PollerPlacement, ShardLease } from './shard-lease';
import {
  type LeaseWrite,
  type PlacementOutcome,
  type PlacementWrite,
  type PollerWrite,
  type PollerWriteOutcome,
  recordedByAnother,
  SHARD_INDEX_NAME,
  SHARD_KEY_PREFIX,
  type ShardItem,
  type ShardMemberRead,
  type ShardStore,
  shardItemKey,
  shardOfKey,
} from './shard-store';

/** The attributes of a shard item (`~shard/s0`); only this module reads or writes them. */
export const SHARD_ITEM_FIELD = {
  leaseOwner: 'leaseOwner',
  leaseEpoch: 'leaseEpoch',
  /** Epoch ms. */
  leaseUntil: 'leaseUntil',
  /** Epoch ms: set while the owner sleeps in a Wait state with the lease released. */
  sleepUntil: 'sleepUntil',
} as const;

/** A `lastError` message is for a human (as control-table.ts keeps it). */
const MAX_ERROR_MESSAGE_LENGTH = 1_000;

/**
 * The fleet's store over the control table (shard-store.ts fixes the item layout). Every write is conditional:
 * a lease write holds only for the lease read (take) or held (renew, release), and a shard's write on a poller
 * only while the item names that shard and no later epoch of it wrote there. A failed condition comes back as an
 * outcome with the item as it now is; any other failure as ControlTableUnavailableError naming the key.
 */
export class ShardTable implements ShardStore {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  async readShard(shard: string, options: CallOptions = {}): Promise<ShardItem | undefined> {
    const key = shardItemKey(shard);
    const image = await this.readImage(key, options);
    return image === undefined ? undefined : decodeShardItem(shard, image);
  }

  async listShards(options: CallOptions = {}): Promise<ShardItem[]> {
    const shards: ShardItem[] = [];
    let startKey: RawItem | undefined;
    do {
      const page = await this.call(SHARD_KEY_PREFIX, () =>
        this.client.send(
          new ScanCommand({
            TableName: this.tableName,
            ConsistentRead: true,
            FilterExpression: 'begins_with(#id, :prefix)',
            ExpressionAttributeNames: { '#id': FIELD.id },
            ExpressionAttributeValues: { ':prefix': { S: SHARD_KEY_PREFIX } },
            ExclusiveStartKey: startKey,
          }),
          options,
        ),
      );
      for (const image of page.Items ?? []) {
        const shard = shardOfKey(pollerIdOfKey(image) ?? '');
        if (shard !== undefined) shards.push(decodeShardItem(shard, image));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return shards;
  }

  async takeLease(shard: string, next: ShardLease, expected: ShardLease | undefined): Promise<LeaseWrite> {
    const update = new UpdateBuilder();
    setLease(update, next);
    update.remove(SHARD_ITEM_FIELD.sleepUntil);
    const epoch = update.name(SHARD_ITEM_FIELD.leaseEpoch);
    const until = update.name(SHARD_ITEM_FIELD.leaseUntil);
    // Exactly the lease read: a renewal that landed after the read (a slow owner coming back) makes the take lose,
    // so the owner it renewed for is never taken over while it believes it holds the shard.
    const condition =
      expected === undefined
        ? `attribute_not_exists(${epoch})`
        : `${epoch} = ${update.value('expectedEpoch', number(expected.epoch))} AND ${until} = ${update.value('expectedUntil', number(expected.validUntilMs))}`;
    return this.leaseWrite(shard, next, update, condition);
  }

  async renewLease(shard: string, lease: ShardLease, nowMs: number): Promise<LeaseWrite> {
    const update = new UpdateBuilder();
    update.set(SHARD_ITEM_FIELD.leaseUntil, number(lease.validUntilMs));
    update.remove(SHARD_ITEM_FIELD.sleepUntil);
    // Only a live lease: one that ran out may have been judged dead and its pollers reassigned meanwhile.
    const live = `${update.name(SHARD_ITEM_FIELD.leaseUntil)} > ${update.value('now', number(nowMs))}`;
    return this.leaseWrite(shard, lease, update, `${heldCondition(update, lease)} AND ${live}`);
  }

  async releaseLease(shard: string, lease: ShardLease, sleepUntilMs: number): Promise<LeaseWrite> {
    const update = new UpdateBuilder();
    update.set(SHARD_ITEM_FIELD.leaseUntil, number(lease.validUntilMs));
    update.set(SHARD_ITEM_FIELD.sleepUntil, number(sleepUntilMs));
    return this.leaseWrite(shard, lease, update, heldCondition(update, lease));
  }

  async queryMembers(shard: string, options: CallOptions = {}): Promise<ShardMemberRead[]> {
    const members: ShardMemberRead[] = [];
    let startKey: RawItem | undefined;
    do {
      const page = await this.call(shardItemKey(shard), () =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: SHARD_INDEX_NAME,
            KeyConditionExpression: '#shard = :shard',
            ExpressionAttributeNames: { '#shard': FIELD.shard },
            ExpressionAttributeValues: { ':shard': { S: shard } },
            ExclusiveStartKey: startKey,
          }),
          options,
        ),
      );
      for (const image of page.Items ?? []) {
        const pollerId = pollerIdOfKey(image);
        if (pollerId === undefined || pollerId.startsWith(SHARD_KEY_PREFIX)) continue;
        members.push(memberOf(decodePollerItem(pollerId, image), shard));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return members;
  }

  async writePoller(
    pollerId: string,
    shard: string,
    epoch: number,
    write: PollerWrite,
  ): Promise<PollerWriteOutcome> {
    const update = new UpdateBuilder();
    const conditions = conditionsFor(update, shard, epoch);
    switch (write.kind) {
      case 'claim': {
        setClaimProgress(update, write, shard, epoch);
        const claimed = update.name(FIELD.claimedSeq);
        const rises = `(attribute_not_exists(${claimed}) OR ${claimed} <= ${update.value('claimRises', number(write.claimedSeq))})`;
        update.set(FIELD.claimedSeq, number(write.claimedSeq));
        const outcome = await this.pollerUpdate(pollerId, update, [...conditions, rises]);
        if (outcome.kind === 'written' || outcome.item === undefined) return outcomeOf(outcome);
        // Refused: not ours (any more), or a higher claim is already recorded (it stays; the rest is written).
        const now = decodePollerItem(pollerId, outcome.item);
        if (
          now.shard !== shard ||
          ((now.shardEpoch ?? 0) > epoch && !recordedByAnother(now.shardLoopBy, shard))
        )
          return 'not-ours';
        const again = new UpdateBuilder();
        setClaimProgress(again, write, shard, epoch);
        const retried = await this.pollerUpdate(pollerId, again, conditionsFor(again, shard, epoch));
        return outcomeOf(retried);
      }
      case 'stopped':
        update.set(FIELD.stoppedReason, { S: write.reason.slice(0, MAX_ERROR_MESSAGE_LENGTH) });
        update.remove(FIELD.nextTickAt);
        break;
      case 'notes': {
        const message = write.notes.join('; ').slice(0, MAX_ERROR_MESSAGE_LENGTH);
        if (message === '') update.remove(FIELD.lastError);
        else update.set(FIELD.lastError, { M: { message: { S: message }, at: { S: write.at } } });
        break;
      }
      case 'moved-out':
        // The new shard counts its own epochs: the old shard's epoch must not fence its writes.
        update.set(FIELD.shard, { S: write.to });
        update.remove(FIELD.moveTo);
        update.remove(FIELD.shardEpoch);
        if (write.loop !== undefined) update.set(FIELD.shardLoop, loopAttribute(write.loop, shard));
        addCounts(update, write);
        conditions.push(`${update.name(FIELD.moveTo)} = ${update.value('moveTo', { S: write.to })}`);
        break;
    }
    return outcomeOf(await this.pollerUpdate(pollerId, update, conditions));
  }

  async place(pollerId: string, write: PlacementWrite): Promise<PlacementOutcome> {
    const update = new UpdateBuilder();
    const shardName = update.name(FIELD.shard);
    const conditions = [`attribute_exists(${update.name(FIELD.id)})`];
    switch (write.kind) {
      case 'place':
        update.set(FIELD.shard, { S: write.to });
        update.remove(FIELD.moveTo);
        update.remove(FIELD.movedAt);
        update.remove(FIELD.shardEpoch);
        conditions.push(`attribute_not_exists(${shardName})`);
        break;
      case 'move':
        update.set(FIELD.moveTo, { S: write.to });
        update.set(FIELD.movedAt, number(write.atMs));
        conditions.push(`${shardName} = ${update.value('from', { S: write.from })}`);
        conditions.push(`attribute_not_exists(${update.name(FIELD.moveTo)})`);
        break;
      case 'reassign':
        // `shardLoop` stays: the new shard resumes it at `movedAt`. Its epochs are its own.
        update.set(FIELD.shard, { S: write.to });
        update.set(FIELD.movedAt, number(write.atMs));
        update.remove(FIELD.moveTo);
        update.remove(FIELD.shardEpoch);
        conditions.push(`${shardName} = ${update.value('from', { S: write.from })}`);
        break;
    }
    const outcome = await this.pollerUpdate(pollerId, update, conditions);
    if (outcome.kind === 'written') return 'written';
    return outcome.item === undefined ? 'missing' : 'changed';
  }

  private async leaseWrite(
    shard: string,
    lease: ShardLease,
    update: UpdateBuilder,
    condition: string,
  ): Promise<LeaseWrite> {
    const key = shardItemKey(shard);
    try {
      await this.call(key, () =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: keyOf(key),
            ...update.build(),
            ConditionExpression: condition,
          }),
        ),
      );
      return { kind: 'written', lease };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { kind: 'lost', current: await this.readShard(shard) };
    }
  }

  /** One conditional UpdateItem on a poller's item; when refused, the item as it now is (undefined: gone). */
  private async pollerUpdate(
    pollerId: string,
    update: UpdateBuilder,
    conditions: readonly string[],
  ): Promise<
    { readonly kind: 'written' } | { readonly kind: 'refused'; readonly item: RawItem | undefined }
  > {
    try {
      await this.call(pollerId, () =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: keyOf(pollerId),
            ...update.build(),
            ConditionExpression: conditions.join(' AND '),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return { kind: 'written' };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // DynamoDB returns the item with the failure; dynalite does not: the read answers for both.
      return { kind: 'refused', item: error.Item ?? (await this.readImage(pollerId)) };
    }
  }

  private async readImage(key: string, options: CallOptions = {}): Promise<RawItem | undefined> {
    const result = await this.call(key, () =>
      this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: keyOf(key), ConsistentRead: true }),
        options,
      ),
    );
    return result.Item;
  }

  /** A call whose failure (other than a refused condition) is the table's being unavailable, naming the key. */
  private async call<T>(key: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw error;
      throw new ControlTableUnavailableError(key, this.tableName, error);
    }
  }
}

/** The pure core's view of a poller as a shard's Query returns it (shard-store.ts ShardMemberRead). */
export function memberOf(item: PollerItem, queried: string): ShardMemberRead {
  const placement: PollerPlacement =
    item.moveTo !== undefined
      ? { shard: item.moveTo, movedAtMs: item.movedAt }
      : { shard: item.shard ?? queried, movedAtMs: item.movedAt };
  return {
    item,
    placement,
    recordedLoop: item.shardLoop,
    recordedEpoch: item.shardEpoch,
    recordedBy: item.shardLoopBy,
  };
}

function outcomeOf(
  outcome: { readonly kind: 'written' } | { readonly kind: 'refused'; readonly item: RawItem | undefined },
): PollerWriteOutcome {
  if (outcome.kind === 'written') return 'written';
  return outcome.item === undefined ? 'missing' : 'not-ours';
}

/**
 * A shard's write holds while the item names it and no later epoch of its own wrote there. An epoch another shard
 * recorded (its `by` in `shardLoop`: a hand edit of `shard` keeps it) says nothing of this shard's epochs, which
 * count on their own: compared with it, a shard behind the other would never serve the poller.
 */
function conditionsFor(update: UpdateBuilder, shard: string, epoch: number): string[] {
  const epochName = update.name(FIELD.shardEpoch);
  const loopName = update.name(FIELD.shardLoop);
  return [
    `attribute_exists(${update.name(FIELD.id)})`,
    `${update.name(FIELD.shard)} = ${update.value('ourShard', { S: shard })}`,
    `(attribute_not_exists(${epochName}) OR ${epochName} <= ${update.value('ourEpoch', number(epoch))} OR (begins_with(${loopName}, ${update.value('byAny', { S: '{"by":"' })}) AND NOT begins_with(${loopName}, ${update.value('byUs', { S: `{"by":${JSON.stringify(shard)}` })})))`,
  ];
}

/** The counts a claim or a flip ADDs to the item. */
function addCounts(
  update: UpdateBuilder,
  write: Extract<PollerWrite, { kind: 'claim' | 'moved-out' }>,
): void {
  const counts = [
    [FIELD.skippedTicks, write.skippedTicksAdded],
    [FIELD.failedFires, write.failedFiresAdded],
    [FIELD.overlapSkips, write.overlapSkipsAdded],
  ] as const;
  for (const [field, added] of counts) if (added !== undefined && added > 0) update.add(field, added);
  if (write.fireError !== undefined) {
    const { message, at } = write.fireError;
    update.set(FIELD.lastError, {
      M: { message: { S: message.slice(0, MAX_ERROR_MESSAGE_LENGTH) }, at: { S: at } },
    });
  }
}

/** A claim's grid and progress, without `claimedSeq` (written only when it rises). */
function setClaimProgress(
  update: UpdateBuilder,
  write: Extract<PollerWrite, { kind: 'claim' }>,
  shard: string,
  epoch: number,
): void {
  update.set(FIELD.shardLoop, loopAttribute(write.loop, shard));
  update.set(FIELD.shardEpoch, number(epoch));
  if (write.lastSeq !== undefined) update.set(FIELD.seq, number(write.lastSeq));
  if (write.lastTickAt !== undefined) update.set(FIELD.lastTickAt, { S: write.lastTickAt });
  if (write.nextTickAt !== undefined) update.set(FIELD.nextTickAt, { S: write.nextTickAt });
  else update.remove(FIELD.nextTickAt);
  addCounts(update, write);
  update.remove(FIELD.stoppedReason);
}

/**
 * The loop as JSON text, `by` first, naming the shard that recorded it: read back by control-item.ts, and matched
 * as a prefix by conditionsFor (a prefix is exact where a search inside could meet a payload's text).
 */
function loopAttribute(loop: LoopState, shard: string): AttributeValue {
  return { S: JSON.stringify({ by: shard, ...encodeLoopState(loop) }) };
}

function heldCondition(update: UpdateBuilder, lease: ShardLease): string {
  const owner = update.name(SHARD_ITEM_FIELD.leaseOwner);
  const epoch = update.name(SHARD_ITEM_FIELD.leaseEpoch);
  return `${owner} = ${update.value('heldOwner', { S: lease.owner })} AND ${epoch} = ${update.value('heldEpoch', number(lease.epoch))}`;
}

function setLease(update: UpdateBuilder, lease: ShardLease): void {
  update.set(SHARD_ITEM_FIELD.leaseOwner, { S: lease.owner });
  update.set(SHARD_ITEM_FIELD.leaseEpoch, number(lease.epoch));
  update.set(SHARD_ITEM_FIELD.leaseUntil, number(lease.validUntilMs));
}

function number(value: number): AttributeValue {
  return { N: String(value) };
}

/**
 * A shard item as stored. The lease is all three fields or none; anything else (a hand edit) is refused with the
 * field and the value named: the operator deletes the shard item and the next start takes it afresh.
 */
export function decodeShardItem(shard: string, image: RawItem): ShardItem {
  const key = shardItemKey(shard);
  const whole = (field: string): number | undefined => {
    const value = image[field];
    if (value === undefined) return undefined;
    const parsed = value.N === undefined ? Number.NaN : Number(value.N);
    if (Number.isSafeInteger(parsed) && parsed >= 0) return parsed;
    throw new InvalidShardItemError(
      key,
      field,
      describeAttribute(value),
      'must be a whole number (N), as a shard writes it',
    );
  };
  const ownerValue = image[SHARD_ITEM_FIELD.leaseOwner];
  if (ownerValue !== undefined && ownerValue.S === undefined) {
    throw new InvalidShardItemError(
      key,
      SHARD_ITEM_FIELD.leaseOwner,
      describeAttribute(ownerValue),
      'must be an execution ARN (S), as a shard writes it',
    );
  }
  const owner = ownerValue?.S;
  const epoch = whole(SHARD_ITEM_FIELD.leaseEpoch);
  const validUntilMs = whole(SHARD_ITEM_FIELD.leaseUntil);
  const sleepUntilMs = whole(SHARD_ITEM_FIELD.sleepUntil);
  const present = [owner, epoch, validUntilMs].filter((field) => field !== undefined).length;
  if (present !== 0 && present !== 3) {
    throw new InvalidShardItemError(
      key,
      'lease',
      `${present} of the 3 lease fields`,
      `must hold ${SHARD_ITEM_FIELD.leaseOwner}, ${SHARD_ITEM_FIELD.leaseEpoch} and ${SHARD_ITEM_FIELD.leaseUntil} together`,
    );
  }
  const lease =
    owner !== undefined && epoch !== undefined && validUntilMs !== undefined
      ? { owner, epoch, validUntilMs }
      : undefined;
  return { shard, lease, sleepUntilMs };
}
