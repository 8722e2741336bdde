import { SHARD_KEY_PREFIX } from '../fleet/shard-store';
import { FIELD } from '../shared/contract';
import { decodePollerItem, pollerIdOfKey, type RawItem } from '../shared/control-item';
import { describeCause } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { ItemChangeRecord } from './item-change-record';
import { type LoopStarterDeps, startLoop } from './start-loop';

/** The partial batch response of a stream batch: Lambda retries from the lowest sequence number named. */
export interface StreamBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

/**
 * A loop starts when an item is created with running=true or flips to true, and on any change of an item with
 * running=true that has no loop yet (no generation) or whose loop recorded a stop: the operator may just have
 * fixed the configuration it could not start or stopped on. The start itself decides (a live loop is left alone;
 * a configuration still invalid is recorded, once, instead). The stream's filter criteria (infra) already drop
 * everything else; this check keeps the local change feed and the deployed stream equal.
 */
export function shouldStart(oldImage: RawItem | undefined, newImage: RawItem | undefined): boolean {
  if (newImage === undefined) return false;
  // The images come from one item, so the key of either names it; the id only labels problems here.
  const pollerId = pollerIdOfKey(newImage) ?? '';
  const after = decodePollerItem(pollerId, newImage);
  if (after.operator.running !== true) return false;
  const before = oldImage === undefined ? undefined : decodePollerItem(pollerId, oldImage);
  return (
    before?.operator.running !== true ||
    !after.typedFields.has(FIELD.generation) ||
    after.stoppedReason !== undefined
  );
}

/**
 * Starts a loop for each qualifying change; returns the records to retry (a partial batch failure). The stream
 * mapping reads from TRIM_HORIZON (a new mapping replays up to 24 h of records), and the seed custom resource
 * starts the loop whose INSERT the stream delivers later: an old or repeated record is harmless, since a start
 * leaves a live loop alone (functions/shared/loop-ownership.ts).
 */
export async function startLoopsForChanges(
  records: readonly ItemChangeRecord[],
  deps: LoopStarterDeps,
  log: Logger,
): Promise<StreamBatchResponse> {
  const failures: { itemIdentifier: string }[] = [];
  for (const record of records) {
    const change = record.dynamodb;
    const pollerId = pollerIdOfKey(change?.Keys);
    // A fleet shard item (`~shard/s0`) is no poller: its lease writes start nothing.
    if (pollerId === undefined || pollerId.startsWith(SHARD_KEY_PREFIX)) continue;
    if (!shouldStart(change?.OldImage, change?.NewImage)) continue;
    try {
      const outcome = await startLoop(pollerId, deps);
      log.info('start requested by a table change', { pollerId, outcome: outcome.kind });
    } catch (error) {
      log.error('could not start a loop', { pollerId, error: describeCause(error) });
      // A record without one cannot be named: an empty identifier makes Lambda retry the whole batch.
      failures.push({ itemIdentifier: change?.SequenceNumber ?? '' });
    }
  }
  return { batchItemFailures: failures };
}
