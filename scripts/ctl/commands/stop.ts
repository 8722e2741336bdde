import { FIELD } from '../../../functions/shared/contract';
import { ControlItemMissingError } from '../errors';
import { type CtlSession, updateItem } from '../session';

export interface StopResult {
  readonly command: 'stop';
  readonly pollerId: string;
  readonly table: string;
  /** The execution the item names (the loop that will see running=false), if any. */
  readonly executionArn: string | null;
  /** When that loop wakes next and ends. */
  readonly nextTickAt: string | null;
}

/** Sets running=false on an existing item; the loop sees it at its next tick and ends cleanly. */
export async function stop(session: CtlSession, pollerId: string): Promise<StopResult> {
  const updated = await updateItem(session, pollerId, 'setting running=false', {
    UpdateExpression: 'SET #running = :false',
    ConditionExpression: 'attribute_exists(#id)',
    ExpressionAttributeNames: { '#id': FIELD.id, '#running': FIELD.running },
    ExpressionAttributeValues: { ':false': { BOOL: false } },
    ReturnValues: 'ALL_NEW',
  });
  if (!updated) {
    throw new ControlItemMissingError(
      pollerId,
      session.target.tableName,
      'nothing to stop (create it with `ctl set --every S`)',
    );
  }
  return {
    command: 'stop',
    pollerId,
    table: session.target.tableName,
    executionArn: updated.attributes?.[FIELD.executionArn]?.S ?? null,
    nextTickAt: updated.attributes?.[FIELD.nextTickAt]?.S ?? null,
  };
}
