import { POLLER_ID_PATTERN, WAIT_SECONDS_LIMITS } from '../shared/contract';
import { isRecord } from '../shared/decode';
import { InvalidIntervalError, InvalidSeedPropertyError } from '../shared/errors';
import { parseWaitInterval } from '../shared/wait-interval';

/** The custom resource type and its property names: the stack writes them, the seeder reads them. */
export const SEED_RESOURCE_TYPE = 'Custom::ControlItemSeed';

export const SEED_PROPERTY = {
  tableName: 'TableName',
  pollerId: 'PollerId',
  running: 'Running',
  waitSeconds: 'WaitSeconds',
  /** Many pollers in one seed: a list of `{ PollerId, Running, WaitSeconds }` (instead of the three above). */
  pollers: 'Pollers',
} as const;

/**
 * How long CloudFormation waits for the seed's answer (its ServiceTimeout) instead of the default hour. The seeder
 * answers well within it (seed-control-item's budgets), cold start included.
 */
export const SEED_SERVICE_TIMEOUT_SECONDS = 300;

export type SeedPropertyName = (typeof SEED_PROPERTY)[keyof typeof SEED_PROPERTY];

/** What the seeder writes: the operator fields of one control item, validated. */
export interface SeedRequest {
  readonly tableName: string;
  readonly pollerId: string;
  readonly running: boolean;
  /** The canonical decimal text of the interval in seconds, as stored in the item's N attribute. */
  readonly waitSeconds: string;
}

/**
 * Validates the seed resource's properties. CloudFormation passes every parameter as a string, so `Running` is
 * the text 'true' or 'false' and `WaitSeconds` the text of a number. `expectedTableName` is the table the seeder
 * may write (its environment); a seed pointing elsewhere is refused instead of failing on AccessDenied.
 */
export function parseSeedProperties(properties: unknown, expectedTableName: string): SeedRequest {
  const props = isRecord(properties) ? properties : {};
  const tableName = parseTableName(props[SEED_PROPERTY.tableName], expectedTableName);
  const pollerId = parsePollerId(props[SEED_PROPERTY.pollerId]);
  return {
    tableName,
    pollerId,
    running: parseRunning(props[SEED_PROPERTY.running], pollerId),
    waitSeconds: parseWaitSeconds(props[SEED_PROPERTY.waitSeconds], pollerId),
  };
}

function parseTableName(value: unknown, expectedTableName: string): string {
  if (value === expectedTableName) return expectedTableName;
  throw new InvalidSeedPropertyError(
    SEED_PROPERTY.tableName,
    value,
    `must be this seeder's table '${expectedTableName}'`,
  );
}

function parsePollerId(value: unknown): string {
  if (typeof value === 'string' && POLLER_ID_PATTERN.test(value)) return value;
  throw new InvalidSeedPropertyError(SEED_PROPERTY.pollerId, value, 'must be 1-64 of A-Z a-z 0-9 . _ -');
}

function parseRunning(value: unknown, pollerId: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidSeedPropertyError(
    SEED_PROPERTY.running,
    value,
    "must be the text 'true' or 'false'",
    pollerId,
  );
}

/** CloudFormation passes the text of a number; the canonical text (`05.50` → `5.5`) is what the item stores. */
function parseWaitSeconds(value: unknown, pollerId: string): string {
  const interval = parseWaitInterval(value);
  if (interval instanceof InvalidIntervalError) {
    throw new InvalidSeedPropertyError(
      SEED_PROPERTY.waitSeconds,
      value,
      `must be a number of seconds from ${WAIT_SECONDS_LIMITS.min} to ${WAIT_SECONDS_LIMITS.max}`,
      pollerId,
    );
  }
  return String(interval.seconds);
}

/**
 * The pollers one seed writes: the single form (`PollerId`, `Running`, `WaitSeconds`, what the template's
 * parameters feed) or the list form (`Pollers`, what pollers declared in a CDK app give). Each entry is checked by
 * the same decoders as the single form; a poller named twice is refused (which of the two would win?).
 */
export function parseSeedPollers(properties: unknown, expectedTableName: string): SeedRequest[] {
  const props = isRecord(properties) ? properties : {};
  const list = props[SEED_PROPERTY.pollers];
  if (list === undefined) return [parseSeedProperties(properties, expectedTableName)];
  // An empty list is a seed of no poller: it writes nothing, and on Delete still stops every loop.
  if (!Array.isArray(list)) {
    throw new InvalidSeedPropertyError(SEED_PROPERTY.pollers, list, 'must be a list of pollers');
  }
  const requests = list.map((entry: unknown) =>
    parseSeedProperties(
      { ...(isRecord(entry) ? entry : {}), [SEED_PROPERTY.tableName]: props[SEED_PROPERTY.tableName] },
      expectedTableName,
    ),
  );
  const seen = new Set<string>();
  for (const { pollerId } of requests) {
    if (seen.has(pollerId)) {
      throw new InvalidSeedPropertyError(
        SEED_PROPERTY.pollers,
        pollerId,
        'must name each poller once',
        pollerId,
      );
    }
    seen.add(pollerId);
  }
  return requests;
}

/** Whether a stack update changed what the seed writes (a new ServiceToken alone must not reset the item). */
export function seedChanged(current: SeedRequest, previous: SeedRequest): boolean {
  return (
    current.tableName !== previous.tableName ||
    current.pollerId !== previous.pollerId ||
    current.running !== previous.running ||
    current.waitSeconds !== previous.waitSeconds
  );
}

/** Stable across updates that keep the table and the poller: CloudFormation replaces the seed only if they change. */
export function seedPhysicalId(request: Pick<SeedRequest, 'tableName' | 'pollerId'>): string {
  return `${request.tableName}/${request.pollerId}`;
}
