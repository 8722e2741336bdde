import { POLLER_ID_PATTERN, WAIT_SECONDS_LIMITS } from '../shared/contract';
import { parseOverlapText } from '../shared/control-item';
import { isRecord } from '../shared/decode';
import { InvalidControlItemError, InvalidIntervalError, InvalidSeedPropertyError } from '../shared/errors';
import {
  parsePayloadText,
  parseTargetText,
  parseTimeZoneText,
  parseWindowTexts,
} from '../shared/operator-input';
import { changedOperatorFields, type OperatorFieldEdit, type SeedWrite } from '../shared/poller-table';
import { parseWaitInterval } from '../shared/wait-interval';

/** The custom resource type and its property names: the stack writes them, the seeder reads them. */
export const SEED_RESOURCE_TYPE = 'Custom::ControlItemSeed';

export const SEED_PROPERTY = {
  tableName: 'TableName',
  pollerId: 'PollerId',
  running: 'Running',
  waitSeconds: 'WaitSeconds',
  /** The optional operator fields, as `ctl create` sets them (each absent when not declared). */
  target: 'Target',
  /** JSON text of an object: CloudFormation would turn the numbers and booleans of a nested object into strings. */
  payload: 'Payload',
  timezone: 'TimeZone',
  /** A list of rule texts. */
  windows: 'Windows',
  overlap: 'Overlap',
  /** Many pollers in one seed: a list of `{ PollerId, Running, WaitSeconds, … }` (instead of the ones above). */
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
  /**
   * The other operator fields the poller declares (target, payload, timeZone, windows, overlap), decoded by the
   * validators `ctl create` uses; a key is absent when not declared (`timeZone: null` is a declared UTC).
   */
  readonly fields: OperatorFieldEdit;
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
    fields: parseOperatorFields(props, pollerId),
  };
}

/** The seed properties of the optional operator fields, each passed only when declared. */
export const OPTIONAL_SEED_PROPERTIES = [
  SEED_PROPERTY.target,
  SEED_PROPERTY.payload,
  SEED_PROPERTY.timezone,
  SEED_PROPERTY.windows,
  SEED_PROPERTY.overlap,
] as const;

export type OptionalSeedProperty = (typeof OPTIONAL_SEED_PROPERTIES)[number];

/** A decoder's answer: the edit, the validator's refusal, or what the property must be (its shape is wrong). */
type FieldDecoder = (
  pollerId: string,
  value: unknown,
) => OperatorFieldEdit | InvalidControlItemError | string;

/**
 * Each optional operator field's decoder: the `ctl create` validator of its value (functions/shared/
 * operator-input.ts and control-item.ts), so a declared poller holds exactly what an operator could set.
 */
const OPTIONAL_FIELD_DECODERS: { readonly [P in OptionalSeedProperty]: FieldDecoder } = {
  [SEED_PROPERTY.target]: (pollerId, value) =>
    typeof value === 'string' ? edit('target', parseTargetText(pollerId, value)) : 'must be text',
  [SEED_PROPERTY.payload]: (pollerId, value) =>
    typeof value === 'string'
      ? edit('payload', parsePayloadText(pollerId, value))
      : 'must be the JSON text of an object',
  [SEED_PROPERTY.timezone]: (pollerId, value) => {
    if (typeof value !== 'string') return 'must be text';
    const zone = parseTimeZoneText(pollerId, value);
    return zone instanceof InvalidControlItemError ? zone : { timeZone: zone ?? null };
  },
  [SEED_PROPERTY.windows]: (pollerId, value) =>
    Array.isArray(value) && value.length > 0 && value.every((rule) => typeof rule === 'string')
      ? edit('windows', parseWindowTexts(pollerId, value))
      : 'must be a list of one or more rule texts (leave it out for none)',
  [SEED_PROPERTY.overlap]: (pollerId, value) =>
    typeof value === 'string' ? edit('overlap', parseOverlapText(pollerId, value)) : 'must be text',
};

function edit<K extends keyof OperatorFieldEdit>(
  key: K,
  value: NonNullable<OperatorFieldEdit[K]> | InvalidControlItemError,
): OperatorFieldEdit | InvalidControlItemError {
  return value instanceof InvalidControlItemError ? value : { [key]: value };
}

function parseOperatorFields(props: Record<string, unknown>, pollerId: string): OperatorFieldEdit {
  let fields: OperatorFieldEdit = {};
  for (const property of OPTIONAL_SEED_PROPERTIES) {
    const value = props[property];
    if (value === undefined) continue;
    const decoded = OPTIONAL_FIELD_DECODERS[property](pollerId, value);
    if (typeof decoded === 'string') throw new InvalidSeedPropertyError(property, value, decoded, pollerId);
    if (decoded instanceof InvalidControlItemError) {
      throw new InvalidSeedPropertyError(
        property,
        value,
        `fails the controller's check (${decoded.problem})`,
        pollerId,
      );
    }
    fields = { ...fields, ...decoded };
  }
  return fields;
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

/**
 * What a seed writes to one poller's item: on Create (no `previous`), every declared field; on Update, only the
 * fields whose declared value changed since the previous seed (operators steer the item live in between), and a
 * REMOVE (null) of each optional field the previous seed declared and this one does not (the seed wrote it; a field
 * never declared is the operators' and stays). The table's `writeSeed` applies it on Update only to an existing
 * item, and a REMOVE only while the item holds the previous declared value. Undefined: nothing to write.
 */
export function seedWrite(current: SeedRequest, previous: SeedRequest | undefined): SeedWrite | undefined {
  if (previous === undefined || previous.tableName !== current.tableName) return declaredFields(current);
  const { running, ...declared } = declaredFields(current);
  const { running: wasRunning, ...before } = declaredFields(previous);
  const write: SeedWrite = {
    ...(running === wasRunning ? {} : { running }),
    ...changedOperatorFields(before, declared),
  };
  return Object.keys(write).length === 0 ? undefined : write;
}

/** Every field a poller declares, as the seed writes it on Create. */
export function declaredFields(request: SeedRequest): SeedWrite {
  return { running: request.running, ...request.fields, waitSeconds: Number(request.waitSeconds) };
}

/** Stable across updates that keep the table and the poller: CloudFormation replaces the seed only if they change. */
export function seedPhysicalId(request: Pick<SeedRequest, 'tableName' | 'pollerId'>): string {
  return `${request.tableName}/${request.pollerId}`;
}
