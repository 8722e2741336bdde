/**
 * The deployed control plane is one function with four entry points, because the pre-generated template inlines
 * every function's code and must stay under CloudFormation's 51,200-byte limit for a template sent without a
 * bucket: one bundle serves them all. Each event source has an unmistakable shape.
 */
export type ControlPlaneRoute =
  /** CloudFormation's custom resource request (Custom::ControlItemSeed): seed the control item. */
  | 'seed'
  /** A batch from the control table's stream (filtered to running → true): start loops. */
  | 'start'
  /** The every-minute EventBridge schedule: restart loops whose heartbeat is stale. */
  | 'watchdog'
  /** Anything else is a Step Functions round of a poller loop. */
  | 'round';

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function routeEvent(event: unknown): ControlPlaneRoute {
  if (!isObject(event)) return 'round';
  if (typeof event.RequestType === 'string' && typeof event.ResponseURL === 'string') return 'seed';
  if (
    Array.isArray(event.Records) &&
    event.Records.every((record) => isObject(record) && record.eventSource === 'aws:dynamodb')
  ) {
    return 'start';
  }
  if (event.source === 'aws.events' && event['detail-type'] === 'Scheduled Event') return 'watchdog';
  return 'round';
}
