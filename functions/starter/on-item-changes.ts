import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { FIELD } from '../shared/contract';
import type { RawItem } from '../shared/control-item';
import { describeCause } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { type LoopStarterDeps, startLoop } from './start-loop';

/** The part of a DynamoDB Streams record the starter reads (NEW_AND_OLD_IMAGES). */
export interface ItemChangeRecord {
  readonly eventID?: string;
  readonly eventName?: string;
  readonly dynamodb?: {
    readonly Keys?: Record<string, AttributeValue>;
    readonly NewImage?: Record<string, AttributeValue>;
    readonly OldImage?: Record<string, AttributeValue>;
    /** Lambda checkpoints a stream by it, so a partial batch failure names the record by it (not by eventID). */
    readonly SequenceNumber?: string;
  };
}

/** The partial batch response of a stream batch: Lambda retries from the lowest sequence number named. */
export interface StreamBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

/**
 * A loop starts when an item is created with running=true or flips to true. The stream's filter criteria
 * (infra) already drop everything else; this check keeps the local change feed and the deployed stream equal.
 */
export function shouldStart(before: RawItem | undefined, after: RawItem | undefined): boolean {
  return after?.[FIELD.running]?.BOOL === true && before?.[FIELD.running]?.BOOL !== true;
}

const generationOf = (item: RawItem | undefined): number => Number(item?.[FIELD.generation]?.N ?? 0);

/**
 * Whether a loop was started after the change was written: every start takes a generation above the item's, so an
 * item whose generation is now higher than the change's new image has been served already. The stream mapping
 * reads from TRIM_HORIZON (a new mapping replays up to 24 h of records), so an old record must not restart a loop
 * that is running fine; the seed custom resource also starts the loop whose INSERT the stream delivers later.
 */
export function changeAlreadyServed(changed: RawItem | undefined, current: RawItem | undefined): boolean {
  return generationOf(current) > generationOf(changed);
}

/** Starts a loop for each qualifying change not served yet; returns the records to retry (a partial batch failure). */
export async function startLoopsForChanges(
  records: readonly ItemChangeRecord[],
  deps: LoopStarterDeps,
  log: Logger,
): Promise<StreamBatchResponse> {
  const failures: { itemIdentifier: string }[] = [];
  for (const record of records) {
    const change = record.dynamodb;
    const pollerId = change?.Keys?.[FIELD.id]?.S;
    if (pollerId === undefined || !shouldStart(change?.OldImage, change?.NewImage)) continue;
    try {
      if (changeAlreadyServed(change?.NewImage, await deps.table.read(pollerId))) {
        log.info('start already served', { pollerId });
        continue;
      }
      const outcome = await startLoop(pollerId, deps, 'running set to true');
      log.info('start requested by a table change', { pollerId, outcome: outcome.kind });
    } catch (error) {
      log.error('could not start a loop', { pollerId, error: describeCause(error) });
      // A record without one cannot be named: an empty identifier makes Lambda retry the whole batch.
      failures.push({ itemIdentifier: change?.SequenceNumber ?? '' });
    }
  }
  return { batchItemFailures: failures };
}
