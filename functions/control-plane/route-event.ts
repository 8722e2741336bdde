import { isRecord } from '../shared/decode';
import { decodeItemChangeRecord, type ItemChangeRecord } from '../starter/item-change-record';

/**
 * The deployed control plane is one function with four entry points, because the pre-generated template inlines
 * every function's code and must stay under CloudFormation's 51,200-byte limit for a template sent without a
 * bucket: one bundle serves them all. Each event source has an unmistakable shape; routing decodes the event
 * into the form its entry point takes.
 */
export type ControlPlaneEvent =
  /**
   * CloudFormation's custom resource request (Custom::ControlItemSeed): seed the control item. The seeder decodes
   * the request itself (parseSeedEvent), so that whatever it can read of a bad one goes into its FAILED answer.
   */
  | { readonly kind: 'seed'; readonly request: Readonly<Record<string, unknown>> }
  /** A batch from the control table's stream (filtered to running → true): start loops. */
  | { readonly kind: 'start'; readonly records: readonly ItemChangeRecord[] }
  /** The every-minute EventBridge schedule: restart loops whose heartbeat is stale. */
  | { readonly kind: 'watchdog' }
  /**
   * Anything else is a Step Functions round of a poller loop. The round decodes its input (parseControllerInput),
   * since an input it cannot read still ends the loop cleanly, with the reason.
   */
  | { readonly kind: 'round'; readonly input: unknown };

export type ControlPlaneRoute = ControlPlaneEvent['kind'];

export function routeEvent(event: unknown): ControlPlaneEvent {
  if (!isRecord(event)) return { kind: 'round', input: event };
  if (typeof event.RequestType === 'string' && typeof event.ResponseURL === 'string') {
    return { kind: 'seed', request: event };
  }
  const records = event.Records;
  if (
    Array.isArray(records) &&
    records.every((record) => isRecord(record) && record.eventSource === 'aws:dynamodb')
  ) {
    return { kind: 'start', records: records.map(decodeItemChangeRecord) };
  }
  if (event.source === 'aws.events' && event['detail-type'] === 'Scheduled Event')
    return { kind: 'watchdog' };
  return { kind: 'round', input: event };
}
