import { CtlError } from '../errors';
import { type CtlSession, writeItem } from '../session';

export interface SetResult {
  readonly command: 'set';
  readonly pollerId: string;
  readonly table: string;
  readonly waitSeconds: number;
  /** The item did not exist: it was created with running=false. */
  readonly created: boolean;
}

/**
 * Sets `waitseconds` and nothing else. A missing item is created with running=false (so nothing starts), under
 * a condition that it is still missing; if someone created it meanwhile, their item gets the new cadence instead.
 */
export async function setWaitSeconds(
  session: CtlSession,
  pollerId: string,
  waitSeconds: number,
): Promise<SetResult> {
  const result = { command: 'set', pollerId, table: session.target.tableName, waitSeconds } as const;
  const outcome = await writeItem(session, pollerId, 'setting waitseconds', (table) =>
    table.setWaitSeconds(pollerId, waitSeconds),
  );
  if (outcome === 'vanished') {
    throw new CtlError(
      `poller '${pollerId}': its control item was created and deleted while setting waitseconds; try again`,
    );
  }
  return { ...result, created: outcome === 'created' };
}
