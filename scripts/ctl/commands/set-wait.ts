import { FIELD } from '../../../functions/shared/contract';
import { CtlError } from '../errors';
import { type CtlSession, updateItem } from '../session';

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
  const names = { '#id': FIELD.id, '#wait': FIELD.waitSeconds };
  const wait = { N: String(waitSeconds) };
  const setOnly = () =>
    updateItem(session, pollerId, 'setting waitseconds', {
      UpdateExpression: 'SET #wait = :wait',
      ConditionExpression: 'attribute_exists(#id)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ':wait': wait },
    });

  if (await setOnly()) return { ...result, created: false };
  const created = await updateItem(session, pollerId, 'creating the control item', {
    UpdateExpression: 'SET #wait = :wait, #running = :false',
    ConditionExpression: 'attribute_not_exists(#id)',
    ExpressionAttributeNames: { ...names, '#running': FIELD.running },
    ExpressionAttributeValues: { ':wait': wait, ':false': { BOOL: false } },
  });
  if (created) return { ...result, created: true };
  // Created by someone else between the two writes: set the cadence on theirs.
  if (await setOnly()) return { ...result, created: false };
  throw new CtlError(
    `poller '${pollerId}': its control item was created and deleted while setting waitseconds; try again`,
  );
}
