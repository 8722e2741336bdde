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
import type { TakeExpectation } from './loop-ownership';

/** What the controller writes. Only these system fields are ever SET; operator fields are untouched. */
export interface RoundRecord {
  readonly seq?: number;
  readonly claimedSeq?: number;
  readonly heartbeatAt?: string;
  readonly lastTickAt?: string;
  readonly nextTickAt?: string;
  readonly skippedTicksAdded?: number;
  readonly failedFiresAdded?: number;
  readonly executionArn?: string;
  readonly lastError?: { readonly message: string; readonly at: string };
  readonly stoppedReason?: string | null;
}

/**
 * The fencing condition of a write. Every controller write holds only for its own generation, so a superseded
 * loop can neither fire claimed ticks nor overwrite what the newer loop records.
 */
export type WriteGuard =
  /** Keep: the item's generation is still `generation` (undefined: the item has none yet). */
  | {
      readonly kind: 'hold';
      readonly generation: number | undefined;
      readonly claimedSeq?: number | undefined;
      /**
       * Also require `running` to be anything but true: a loop records that it stopped for `running=false` only
       * while that still holds, so a start racing the stop finds either a live loop or a stopped one, never a
       * loop that is about to vanish.
       */
      readonly whileNotRunning?: boolean | undefined;
    }
  /** Take over: raise the generation to `generation` if it is below it and nobody claimed since `claimedSeq` was read. */
  | { readonly kind: 'take'; readonly generation: number; readonly claimedSeq: number | undefined };

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
  | { readonly kind: 'changed'; readonly item: RawItem | undefined };

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
        new GetItemCommand({
          TableName: this.tableName,
          Key: { [FIELD.id]: { S: pollerId } },
          ConsistentRead: true,
        }),
      );
      return result.Item;
    } catch (error) {
      throw new ControlTableUnavailableError(pollerId, this.tableName, error);
    }
  }

  /**
   * Takes a generation for a new loop: only if the item still runs, still has the generation and heartbeat the
   * start judged, and so has no live loop. It names the loop's execution, counts as the first heartbeat and
   * clears the last stop reason. Never creates an item.
   */
  async takeGeneration(pollerId: string, take: GenerationTake): Promise<TakeOutcome> {
    const update = new UpdateBuilder();
    update.set(FIELD.generation, { N: String(take.generation) });
    update.set(FIELD.executionArn, { S: take.executionArn });
    update.set(FIELD.heartbeatAt, { S: take.at });
    update.remove(FIELD.stoppedReason);
    if (take.restartReason !== undefined) {
      update.set(FIELD.lastRestartAt, { S: take.at });
      update.set(FIELD.lastRestartReason, { S: take.restartReason.slice(0, MAX_ERROR_MESSAGE_LENGTH) });
      update.add(FIELD.restarts, 1);
    }
    const generation = update.name(FIELD.generation);
    const heartbeat = update.name(FIELD.heartbeatAt);
    const conditions = [
      `attribute_exists(${update.name(FIELD.id)})`,
      `${update.name(FIELD.running)} = ${update.value('runningTrue', { BOOL: true })}`,
      take.expected.generation === undefined
        ? `attribute_not_exists(${generation})`
        : `${generation} = ${update.value('expectedGeneration', { N: String(take.expected.generation) })}`,
      take.expected.heartbeatAt === undefined
        ? `attribute_not_exists(${heartbeat})`
        : `${heartbeat} = ${update.value('expectedHeartbeat', { S: take.expected.heartbeatAt })}`,
    ];
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [FIELD.id]: { S: pollerId } },
          ...update.build(),
          ConditionExpression: conditions.join(' AND '),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { kind: 'taken' };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // DynamoDB returns the item that failed the condition; an emulator without that feature gets a read.
      const item = error.Item ?? (await this.read(pollerId));
      return item === undefined ? { kind: 'missing' } : { kind: 'changed', item };
    }
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
          Key: { [FIELD.id]: { S: pollerId } },
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
   * husk of system fields. On a failed condition it reads the item once to tell 'missing' from 'superseded'.
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
    if (guard.kind === 'take') update.set(FIELD.generation, { N: String(guard.generation) });
    if (update.isEmpty()) return 'written';

    const conditions = [`attribute_exists(${update.name(FIELD.id)})`];
    const generation = update.name(FIELD.generation);
    if (guard.kind === 'take') {
      conditions.push(
        `(attribute_not_exists(${generation}) OR ${generation} < ${update.value('takeGeneration', { N: String(guard.generation) })})`,
      );
    } else if (guard.generation === undefined) {
      conditions.push(`attribute_not_exists(${generation})`);
    } else {
      conditions.push(`${generation} = ${update.value('holdGeneration', { N: String(guard.generation) })}`);
    }
    if (guard.kind === 'hold' && guard.whileNotRunning) {
      conditions.push(`${update.name(FIELD.running)} <> ${update.value('runningTrue', { BOOL: true })}`);
    }
    if (guard.claimedSeq === undefined && guard.kind === 'take') {
      conditions.push(`attribute_not_exists(${update.name(FIELD.claimedSeq)})`);
    } else if (guard.claimedSeq !== undefined) {
      conditions.push(
        `${update.name(FIELD.claimedSeq)} = ${update.value('expectedClaim', { N: String(guard.claimedSeq) })}`,
      );
    }

    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [FIELD.id]: { S: pollerId } },
          ...update.build(),
          ConditionExpression: conditions.join(' AND '),
        }),
      );
      return 'written';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return (await this.read(pollerId)) === undefined ? 'missing' : 'superseded';
    }
  }
}

/** Collects an UpdateExpression with placeholder names and values, so no attribute name clashes with a reserved word. */
class UpdateBuilder {
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
