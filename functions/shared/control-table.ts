import { ConditionalCheckFailedException, DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { FIELD } from './contract';
import { decodePollerItem, keyOf, type PollerItem } from './control-item';
import { LoopTable } from './loop-table';
import { applyEdit, type CallOptions, type OperatorFieldEdit, UpdateBuilder } from './poller-table';

/**
 * The whole control table: LoopTable (loop-table.ts) and PollerTable (poller-table.ts) are its parts a deployed
 * bundle carries; what is re-exported here is theirs, so the CLI, the local stack and the tests import one module.
 */
export {
  type GenerationTake,
  LoopTable,
  type RoundRecord,
  replacedFieldsMessage,
  type TakeOutcome,
  type WriteGuard,
  type WriteOutcome,
} from './loop-table';
export {
  type CallOptions,
  changedOperatorFields,
  type OperatorFieldEdit,
  PollerTable,
  type ScannedImage,
  type SeedWrite,
  type SeedWriteOutcome,
} from './poller-table';
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

/** What a seed writes: the operator fields a stack parameter (or `npm start`) sets. */
export interface SeedFields {
  readonly running: boolean;
  /** The interval in seconds as decimal text (a stack parameter is text; DynamoDB stores numbers as text). */
  readonly waitSeconds: string;
  /** Keep a `waitseconds` the item already has; `waitSeconds` only fills it in when missing. */
  readonly keepWaitSeconds?: boolean;
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

/**
 * The control table with the operator's writes (switches, cadence, create, delete, seed), which never touch a
 * system field: the CLI, the local stack and the benchmark use it; no deployed bundle does (each carries only the
 * part it writes with, PollerTable or LoopTable).
 */
export class ControlTable extends LoopTable {
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
}
