import type { PollerItem } from '../../../functions/shared/control-item';
import type { OperatorFieldEdit } from '../../../functions/shared/control-table';
import { ControlItemMissingError } from '../errors';
import { type CtlSession, writeItem } from '../session';

export interface SetResult {
  readonly command: 'set';
  readonly pollerId: string;
  readonly table: string;
  /** What was changed: a value was set, null removed the field. */
  readonly edit: OperatorFieldEdit;
}

/**
 * Changes operator fields of an existing poller, and nothing else (one conditional write); the loop reads them
 * before its next tick. A missing item is refused, never created: a deleted poller stays deleted.
 */
export async function set(
  session: CtlSession,
  pollerId: string,
  edit: OperatorFieldEdit,
): Promise<SetResult> {
  const { tableName } = session.target;
  const updated: PollerItem | 'missing' = await writeItem(
    session,
    pollerId,
    'changing operator fields',
    (table) => table.editOperatorFields(pollerId, edit),
  );
  if (updated === 'missing') {
    throw new ControlItemMissingError(
      pollerId,
      tableName,
      `create it with \`ctl create ${pollerId} --every S\``,
    );
  }
  return { command: 'set', pollerId, table: tableName, edit };
}
