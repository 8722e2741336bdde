import {
  type AttributeValue,
  ConditionalCheckFailedException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { FIELD } from './contract';
import { decodePollerItem, keyOf, type PollerItem, type RawItem } from './control-item';
import type { ControlItemStore } from './control-item-store';
import type { TakeExpectation } from './loop-ownership';
import { MAX_ERROR_MESSAGE_LENGTH, PollerTable, UpdateBuilder } from './poller-table';

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

/**
 * The control table of a loop per poller (handler.ts, the controller, the starter, the watchdog): PollerTable's
 * reads and seed writes, and the loop's own writes. The conditions of `takeGeneration` and `recordRound` are the
 * fencing that gives one loop and one fire per tick.
 */
export class LoopTable extends PollerTable implements ControlItemStore {
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
}
