import { ControlItemMissingError } from '../errors';
import { type CtlSession, writeItem } from '../session';

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
  const updated = await writeItem(session, pollerId, 'setting running=false', (table) =>
    table.switchOff(pollerId),
  );
  if (updated === 'missing') {
    throw new ControlItemMissingError(
      pollerId,
      session.target.tableName,
      `nothing to stop (create it with \`ctl create ${pollerId} --every S\`)`,
    );
  }
  return {
    command: 'stop',
    pollerId,
    table: session.target.tableName,
    executionArn: updated.executionArn ?? null,
    nextTickAt: updated.nextTickAt ?? null,
  };
}
