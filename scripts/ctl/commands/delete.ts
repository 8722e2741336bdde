import { ControlItemMissingError, CtlError } from '../errors';
import { type CtlSession, writeItem } from '../session';
import { stop } from './stop';

export interface DeleteResult {
  readonly command: 'delete';
  readonly pollerId: string;
  readonly table: string;
  /** The loop the item named, which ends at its next tick (it reads no item), if any. */
  readonly executionArn: string | null;
  readonly nextTickAt: string | null;
}

/**
 * Stops the poller as `stop` does (running=false), then deletes its item, only while running is still not true:
 * a start that turned it back on in between wins, and the item stays. The loop ends at its next tick (it reads
 * running=false, or no item) without firing it.
 */
export async function deletePoller(session: CtlSession, pollerId: string): Promise<DeleteResult> {
  const { tableName } = session.target;
  const stopped = await stop(session, pollerId);
  const outcome = await writeItem(session, pollerId, 'deleting the control item', (table) =>
    table.deletePoller(pollerId),
  );
  if (outcome.kind === 'missing') {
    throw new ControlItemMissingError(pollerId, tableName, 'it was deleted by someone else meanwhile');
  }
  if (outcome.kind === 'running') {
    throw new CtlError(
      `poller '${pollerId}': running was turned back on while deleting; not deleted (stop it and delete again)`,
    );
  }
  return {
    command: 'delete',
    pollerId,
    table: tableName,
    executionArn: stopped.executionArn,
    nextTickAt: stopped.nextTickAt,
  };
}
