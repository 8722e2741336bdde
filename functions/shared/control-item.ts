import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { parseLoopState } from '../controller/parse-input';
import { SHARD_NAME_PATTERN } from '../fleet/shard-store';
import { DEFAULT_TIME_ZONE, parseTimeZone, parseWindowRules, type WindowRule } from '../scheduling/windows';
import {
  FIELD,
  type LoopState,
  MAX_PAYLOAD_BYTES,
  MAX_WINDOW_RULES,
  OVERLAP_POLICIES,
  type OverlapPolicy,
  type PollerConfig,
  TICK_RESULTS,
  type TickOutcome,
  type TickResult,
  TRIGGER_STATES,
  type TriggerState,
  WAIT_SECONDS_LIMITS,
} from './contract';
import { isRecord } from './decode';
import { InvalidControlItemError, InvalidIntervalError, InvalidTimeZoneError, renderJson } from './errors';
import { parseWaitInterval } from './wait-interval';

/**
 * The control item as DynamoDB stores it. Only this module and the table repository (control-table.ts) read or
 * write attribute values; everything else works on the `PollerItem` view decoded here.
 */
export type RawItem = Record<string, AttributeValue>;

export interface ConfigReading {
  /** The configuration to use: valid fields from the item, the rest from `previous`; undefined if neither has one. */
  readonly config: PollerConfig | undefined;
  /** One error per invalid field, each naming the field and the value found. */
  readonly problems: readonly InvalidControlItemError[];
}

/** Each operator field as read: its valid value, or the error that says why it cannot be used. */
export interface OperatorFields {
  readonly running: boolean | InvalidControlItemError;
  /** The interval in whole milliseconds. */
  readonly intervalMs: number | InvalidControlItemError;
  /** undefined: the stack's default worker. */
  readonly target: string | undefined | InvalidControlItemError;
  readonly payload: Readonly<Record<string, unknown>> | undefined | InvalidControlItemError;
  /** undefined: UTC. */
  readonly timeZone: string | undefined | InvalidControlItemError;
  /** undefined: no window rules. */
  readonly windows: readonly WindowRule[] | undefined | InvalidControlItemError;
  /** undefined: `allow`. */
  readonly overlap: 'skip' | undefined | InvalidControlItemError;
}

export interface RecordedError {
  readonly message: string;
  /** ISO time; undefined on a hand-edited `lastError` without one. */
  readonly at: string | undefined;
}

/**
 * The fields only the system writes, decoded. A field holding a value the system never writes (a hand edit: a
 * string where a number belongs, 2.5, a negative count) counts as absent and is listed in `systemProblems`.
 */
export interface SystemFields {
  /** The fencing token of the loop that owns the poller: a whole number from 1. */
  readonly generation: number | undefined;
  /** The execution the item names as running the loop. */
  readonly executionArn: string | undefined;
  /** ISO time as written (kept verbatim: a take's condition compares it). */
  readonly heartbeatAt: string | undefined;
  readonly seq: number | undefined;
  readonly claimedSeq: number | undefined;
  readonly stoppedReason: string | undefined;
  readonly lastError: RecordedError | undefined;
  readonly skippedTicks: number | undefined;
  readonly failedFires: number | undefined;
  /** Ticks of an `overlap: skip` poller not fired because the previous fire was still running. */
  readonly overlapSkips: number | undefined;
  /** The last fire of an `overlap: skip` poller known to have finished well, and how long it ran (ms). */
  readonly lastFinishedSeq: number | undefined;
  readonly lastFireMs: number | undefined;
  readonly nextTickAt: string | undefined;
  readonly lastTickAt: string | undefined;
  readonly restarts: number | undefined;
  readonly lastRestartAt: string | undefined;
  readonly lastRestartReason: string | undefined;
  /** The fleet variant: the shard serving the poller (`s0`…), written by the fleet planner only (the GSI key). */
  readonly shard: string | undefined;
  /** A pending move: the shard the poller goes to at `movedAt` (the item still names the old one). */
  readonly moveTo: string | undefined;
  /** Epoch ms of the last (or pending) move: the shard named fires ticks due at or after it. */
  readonly movedAt: number | undefined;
  /** The poller's grid as the serving shard last recorded it (`shardLoop`, JSON of encodeLoopState). */
  readonly shardLoop: LoopState | undefined;
  /** The lease epoch of the shard that wrote `shardLoop`. */
  readonly shardEpoch: number | undefined;
  /** The shard that wrote `shardLoop` (its `by`; records written before shards named themselves have none). */
  readonly shardLoopBy: string | undefined;
}

/**
 * The tick outcomes the worker kit records (functions/worker-kit/), decoded on demand by `outcomeFieldsOf`: the
 * control plane never reads them, and its inline bundle need not carry their decoders. A field holding a value the
 * kit never writes counts as absent and is listed in `problems`.
 */
export interface OutcomeFields {
  /** The latest recorded outcome (successes are sampled, failures always recorded). */
  readonly lastResult: TickResult | undefined;
  readonly lastResultSeq: number | undefined;
  readonly lastResultAt: string | undefined;
  readonly lastResultMs: number | undefined;
  readonly lastResultDetail: string | undefined;
  /** Ticks the worker kit reported as failed. */
  readonly failedTicks: number | undefined;
  /** The recent recorded outcomes, in the order they were written (oldest first). */
  readonly recentResults: readonly TickOutcome[] | undefined;
  readonly problems: readonly InvalidControlItemError[];
}

/**
 * A system field holding a value the system never writes (a hand edit, a bad import), which the decoded view treats
 * as absent. Kept as stored so that a write replacing it can hold only while the item still has exactly this
 * value (control-table.ts), and a racing start still loses.
 */
export interface CorruptField {
  readonly field: keyof SystemFields;
  /** The attribute exactly as stored; only the table repository uses it (in a write's condition). */
  readonly stored: AttributeValue;
  readonly problem: InvalidControlItemError;
  /** The number the value still reads as (S "3" → 3, N "2.5" → 2.5), when it reads as a finite one. */
  readonly number: number | undefined;
}

/** One control item, decoded once: what the operator set (validated field by field) and what the system recorded. */
export interface PollerItem extends SystemFields {
  readonly pollerId: string;
  readonly operator: OperatorFields;
  /** `waitseconds` as the operator wrote it, when valid (status shows it; the scheduler uses `intervalMs`). */
  readonly waitSeconds: number | undefined;
  /** The operator fields as a configuration, with nothing earlier to fall back on (see `configOf`). */
  readonly config: ConfigReading;
  /** System fields holding values the system never writes; each counts as absent. */
  readonly systemProblems: readonly InvalidControlItemError[];
  /** The same fields as stored, by name: what a start that replaces them must find on the item. */
  readonly corruptFields: ReadonlyMap<keyof SystemFields, CorruptField>;
  /**
   * The system fields the item holds in the type the system writes them in (N, S, M), valid or not: what the
   * stream's filter criteria test (`NewImage.generation.N` exists), which the starter must agree with exactly.
   */
  readonly typedFields: ReadonlySet<keyof SystemFields>;
}

const LAMBDA_TARGET_PATTERN =
  /^(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$/;

/** Decodes an item whose key is known (a GetItem, a stream image). */
export function decodePollerItem(pollerId: string, item: RawItem): PollerItem {
  const operator = decodeOperatorFields(pollerId, item);
  const corruptFields = new Map<keyof SystemFields, CorruptField>();
  const typedFields = new Set<keyof SystemFields>();
  const system = decodeSystemFields(pollerId, item, corruptFields, typedFields);
  const waitSeconds =
    typeof operator.intervalMs === 'number' ? Number(item[FIELD.waitSeconds]?.N) : undefined;
  const decoded: PollerItem = {
    pollerId,
    operator,
    waitSeconds,
    config: configOf(operator),
    ...system,
    systemProblems: [...corruptFields.values()].map((corrupt) => corrupt.problem),
    corruptFields,
    typedFields,
  };
  IMAGES.set(decoded, item);
  return decoded;
}

/** The poller id of an item or of a stream record's `Keys`. */
export function pollerIdOfKey(key: RawItem | undefined): string | undefined {
  return key?.[FIELD.id]?.S;
}

/** The key of a poller's item. */
export function keyOf(pollerId: string): RawItem {
  return { [FIELD.id]: { S: pollerId } };
}

/**
 * Validates an operator-edited control item field by field. A bad field never discards the good ones, and a bad
 * or missing field falls back to the last valid value so that a typo does not stop (or restart) a running loop.
 */
export function readConfig(pollerId: string, item: RawItem, previous?: PollerConfig): ConfigReading {
  return configOf(decodeOperatorFields(pollerId, item), previous);
}

/** The configuration from decoded operator fields, each bad field falling back to its value in `previous`. */
export function configOf(fields: OperatorFields, previous?: PollerConfig): ConfigReading {
  const problems: InvalidControlItemError[] = [];
  const take = <T>(result: T | InvalidControlItemError, fallback: T | undefined): T | undefined => {
    if (result instanceof InvalidControlItemError) {
      problems.push(result);
      return fallback;
    }
    return result;
  };

  const running = take(fields.running, previous?.running);
  const intervalMs = take(fields.intervalMs, previous?.intervalMs);
  const target = take(fields.target, previous?.target);
  const payload = take(fields.payload, previous?.payload);
  const timeZone = take(fields.timeZone, previous?.timeZone);
  const windows = take(fields.windows, previous?.windows);
  const overlap = take(fields.overlap, previous?.overlap);
  // A loop with no earlier rules to keep does not start on rules it cannot read: running without them could fire
  // through a pause the operator wrote, or (an unreadable `overlap`, as `allow`) over a fire still running.
  const unsafeToGuess =
    fields.timeZone instanceof InvalidControlItemError ||
    fields.windows instanceof InvalidControlItemError ||
    fields.overlap instanceof InvalidControlItemError;

  if (running === undefined || intervalMs === undefined || (previous === undefined && unsafeToGuess)) {
    return { config: undefined, problems };
  }
  return {
    config: { running, intervalMs, target, payload, timeZone, windows, ...(overlap ? { overlap } : {}) },
    problems,
  };
}

function decodeOperatorFields(pollerId: string, item: RawItem): OperatorFields {
  return {
    running: parseRunning(pollerId, item[FIELD.running]),
    intervalMs: parseWaitSeconds(pollerId, item[FIELD.waitSeconds]),
    target: parseTarget(pollerId, item[FIELD.target]),
    payload: parsePayload(pollerId, item[FIELD.payload]),
    timeZone: parseTimeZoneField(pollerId, item[FIELD.timezone]),
    windows: parseWindowsField(pollerId, item[FIELD.windows]),
    overlap: parseOverlapField(pollerId, item[FIELD.overlap]),
  };
}

export function parseRunning(
  pollerId: string,
  value: AttributeValue | undefined,
): boolean | InvalidControlItemError {
  if (value?.BOOL !== undefined) return value.BOOL;
  return new InvalidControlItemError(
    pollerId,
    FIELD.running,
    describeAttribute(value),
    'must be a boolean (BOOL true or false)',
  );
}

/** Returns the interval in whole milliseconds, the resolution the scheduler works in. */
export function parseWaitSeconds(
  pollerId: string,
  value: AttributeValue | undefined,
): number | InvalidControlItemError {
  const expected = `must be a number (N) of seconds from ${WAIT_SECONDS_LIMITS.min} to ${WAIT_SECONDS_LIMITS.max}, decimals allowed`;
  if (value?.N === undefined)
    return new InvalidControlItemError(pollerId, FIELD.waitSeconds, describeAttribute(value), expected);
  const interval = parseWaitInterval(value.N);
  if (interval instanceof InvalidIntervalError) {
    return new InvalidControlItemError(pollerId, FIELD.waitSeconds, describeAttribute(value), expected);
  }
  return interval.intervalMs;
}

/** The same check on a `waitseconds` given as text (the CLI's --every), so the CLI accepts exactly what the loop will. */
export function parseWaitSecondsText(pollerId: string, text: string): number | InvalidControlItemError {
  return parseWaitSeconds(pollerId, { N: text });
}

export function parseTarget(
  pollerId: string,
  value: AttributeValue | undefined,
): string | undefined | InvalidControlItemError {
  if (value === undefined || value.NULL) return undefined;
  if (value.S !== undefined && LAMBDA_TARGET_PATTERN.test(value.S)) return value.S;
  return new InvalidControlItemError(
    pollerId,
    FIELD.target,
    describeAttribute(value),
    'must be a Lambda function name or ARN (S), or absent for the default worker',
  );
}

export function parsePayload(
  pollerId: string,
  value: AttributeValue | undefined,
): Readonly<Record<string, unknown>> | undefined | InvalidControlItemError {
  if (value === undefined || value.NULL) return undefined;
  if (value.M === undefined) {
    return new InvalidControlItemError(
      pollerId,
      FIELD.payload,
      describeAttribute(value),
      'must be a map (M), or absent',
    );
  }
  const payload = attributeMapToJson(value.M);
  const bytes = Buffer.byteLength(JSON.stringify(payload));
  if (bytes > MAX_PAYLOAD_BYTES) {
    return new InvalidControlItemError(
      pollerId,
      FIELD.payload,
      `a map of ${bytes} bytes`,
      `must be at most ${MAX_PAYLOAD_BYTES} bytes as JSON`,
    );
  }
  return payload;
}

/**
 * `timezone`: an IANA name (S) the platform's tz data knows; absent, NULL or blank means UTC (returned as undefined).
 * The CLI's --timezone calls this too, so it accepts exactly what the loop will.
 */
export function parseTimeZoneField(
  pollerId: string,
  value: AttributeValue | undefined,
): string | undefined | InvalidControlItemError {
  if (value === undefined || value.NULL) return undefined;
  const zone =
    value.S === undefined ? new InvalidTimeZoneError(value, pollerId) : parseTimeZone(value.S, pollerId);
  if (zone instanceof InvalidTimeZoneError) {
    return new InvalidControlItemError(
      pollerId,
      FIELD.timezone,
      describeAttribute(value),
      'must be an IANA time zone name (S) such as Europe/Berlin, or absent for UTC',
    );
  }
  return zone === DEFAULT_TIME_ZONE ? undefined : zone;
}

/**
 * `overlap`: `allow` or `skip` (S); absent, NULL or `allow` mean allow (returned as undefined, as the loop state
 * carries it). Anything else is an error naming the value; the loop keeps its last valid policy. The CLI's
 * --overlap and the fleet file call this too, so they accept exactly what the loop will.
 */
export function parseOverlapField(
  pollerId: string,
  value: AttributeValue | undefined,
): 'skip' | undefined | InvalidControlItemError {
  if (value === undefined || value.NULL) return undefined;
  const policy = OVERLAP_POLICIES.find((known) => known === value.S);
  if (policy !== undefined) return overlapAsCarried(policy);
  return new InvalidControlItemError(
    pollerId,
    FIELD.overlap,
    describeAttribute(value),
    `must be one of ${OVERLAP_POLICIES.join(', ')} (S), or absent for allow`,
  );
}

/** The same check on a policy given as text (the CLI's --overlap, a fleet file's `overlap`). */
export function parseOverlapText(pollerId: string, text: string): OverlapPolicy | InvalidControlItemError {
  const parsed = parseOverlapField(pollerId, { S: text });
  return parsed instanceof InvalidControlItemError ? parsed : (parsed ?? 'allow');
}

/** A policy as the configuration carries it: `allow`, the default, is absent. */
export function overlapAsCarried(policy: OverlapPolicy): 'skip' | undefined {
  return policy === 'skip' ? policy : undefined;
}

/** Where one String holds several rules (as typed in the console): `;` or a line break ends each. */
const RULE_SEPARATOR = /;|\r?\n/;

/** The rules one string holds, as the console form (`S`) of `windows` reads them. */
export function splitRuleText(text: string): string[] {
  return text.split(RULE_SEPARATOR);
}

/**
 * `windows`: a list (L) of rule strings, or one string (S) of rules separated by `;` or line breaks (what is
 * easiest to type in the DynamoDB console); absent, NULL, an empty list or a blank string means no rules. A bad
 * rule is an error naming the rule as written and the offending part. The CLI's --window calls this with the
 * rules it is given (`{ L: [{ S: rule }, …] }`), so it accepts exactly what the loop will.
 */
export function parseWindowsField(
  pollerId: string,
  value: AttributeValue | undefined,
): readonly WindowRule[] | undefined | InvalidControlItemError {
  if (value === undefined || value.NULL) return undefined;
  const refuse = (expected: string) =>
    new InvalidControlItemError(pollerId, FIELD.windows, describeAttribute(value), expected);
  let written: readonly unknown[];
  if (value.S !== undefined) {
    written = splitRuleText(value.S);
  } else if (value.L !== undefined) {
    // A rule that is not a string stays what it is, and the parser names it by its place in the list.
    written = value.L.map((rule) => (rule.S !== undefined ? rule.S : attributeToJson(rule)));
  } else if (value.SS !== undefined) {
    return refuse(
      'must be a list (L), not a string set (SS): a set keeps no order, and the first matching rule wins',
    );
  } else {
    return refuse(
      'must be a list (L) of rule strings, or one string (S) of rules separated by ; or line breaks',
    );
  }
  const texts = written
    .map((rule) => (typeof rule === 'string' ? rule.trim() : rule))
    .filter((rule) => rule !== '');
  if (texts.length === 0) return undefined;
  if (texts.length > MAX_WINDOW_RULES) return refuse(`must hold at most ${MAX_WINDOW_RULES} rules`);
  const rules = parseWindowRules(texts, pollerId);
  if (!(rules instanceof Error)) return rules;
  return new InvalidControlItemError(
    pollerId,
    FIELD.windows,
    rules.found ?? renderJson(rules.value, 80),
    `${rules.part} ${rules.expected}`,
    `${rules.where}:`,
  );
}

/** The smallest value of each whole-number system field: a generation is taken from 1, counts start at 0. */
const WHOLE_NUMBER_MIN = {
  [FIELD.generation]: 1,
  [FIELD.seq]: 0,
  [FIELD.claimedSeq]: 0,
  [FIELD.skippedTicks]: 0,
  [FIELD.failedFires]: 0,
  [FIELD.overlapSkips]: 0,
  [FIELD.lastFinishedSeq]: 1,
  [FIELD.lastFireMs]: 0,
  [FIELD.restarts]: 0,
  [FIELD.movedAt]: 0,
  [FIELD.shardEpoch]: 1,
  lastResultSeq: 0,
  lastResultMs: 0,
  failedTicks: 0,
} as const satisfies Partial<Record<(typeof FIELD)[keyof typeof FIELD], number>>;

type WholeNumberField = keyof typeof WHOLE_NUMBER_MIN;

/**
 * The one number decoder of the system fields: a safe integer from the field's minimum (DynamoDB keeps numbers
 * as decimal text, so `N "2.5"`, `N "-1"` and `N "1e400"` are all possible after a hand edit). Anything else is
 * an error naming the field and the value.
 */
export function decodeWholeNumber(
  pollerId: string,
  field: WholeNumberField,
  value: AttributeValue | undefined,
): number | undefined | InvalidControlItemError {
  if (value === undefined) return undefined;
  const min = WHOLE_NUMBER_MIN[field];
  const number = value.N === undefined ? Number.NaN : Number(value.N);
  if (Number.isSafeInteger(number) && number >= min) return number;
  return new InvalidControlItemError(
    pollerId,
    field,
    describeAttribute(value),
    `must be a whole number (N) from ${min}, as the system writes it`,
  );
}

function decodeText(
  pollerId: string,
  field: string,
  value: AttributeValue | undefined,
): string | undefined | InvalidControlItemError {
  if (value === undefined || value.S !== undefined) return value?.S;
  return new InvalidControlItemError(
    pollerId,
    field,
    describeAttribute(value),
    'must be a string (S), as the system writes it',
  );
}

/** `shard`/`moveTo`: a shard name (S) as the fleet planner writes it. */
function decodeShardName(
  pollerId: string,
  field: typeof FIELD.shard | typeof FIELD.moveTo,
  value: AttributeValue | undefined,
): string | undefined | InvalidControlItemError {
  if (value === undefined) return undefined;
  if (value.S !== undefined && SHARD_NAME_PATTERN.test(value.S)) return value.S;
  return new InvalidControlItemError(
    pollerId,
    field,
    describeAttribute(value),
    'must be a shard name (S) such as s0, as the fleet planner writes it',
  );
}

/** The `by` a shard writes into `shardLoop` beside the loop; undefined when absent or unreadable. */
function shardLoopAuthor(value: AttributeValue | undefined): string | undefined {
  try {
    const json: unknown = JSON.parse(value?.S ?? '');
    return isRecord(json) && typeof json.by === 'string' ? json.by : undefined;
  } catch {
    return undefined;
  }
}

/** `shardLoop`: the JSON text (S) of encodeLoopState, read back by the controller's own loop parser. */
function decodeShardLoop(
  pollerId: string,
  value: AttributeValue | undefined,
): LoopState | undefined | InvalidControlItemError {
  if (value === undefined) return undefined;
  const refuse = (why: string) =>
    new InvalidControlItemError(
      pollerId,
      FIELD.shardLoop,
      describeAttribute(value),
      `must be the JSON text (S) of a loop state, as a shard writes it (${why})`,
    );
  if (value.S === undefined) return refuse('not a string');
  let json: unknown;
  try {
    json = JSON.parse(value.S);
  } catch {
    return refuse('not JSON');
  }
  try {
    return parseLoopState(pollerId, json);
  } catch (error) {
    return refuse(error instanceof Error ? error.message : String(error));
  }
}

function decodeRecordedError(
  pollerId: string,
  value: AttributeValue | undefined,
): RecordedError | undefined | InvalidControlItemError {
  if (value === undefined) return undefined;
  const message = value.M?.message?.S;
  if (message !== undefined) return { message, at: value.M?.at?.S };
  return new InvalidControlItemError(
    pollerId,
    FIELD.lastError,
    describeAttribute(value),
    'must be a map (M) with a string message, as the system writes it',
  );
}

function decodeSystemFields(
  pollerId: string,
  item: RawItem,
  corruptFields: Map<keyof SystemFields, CorruptField>,
  typedFields: Set<keyof SystemFields>,
): SystemFields {
  const valid = <T>(
    field: keyof SystemFields,
    result: T | undefined | InvalidControlItemError,
  ): T | undefined => {
    if (!(result instanceof InvalidControlItemError)) return result;
    // The decoders refuse only an attribute that is there.
    const stored = item[field] ?? { NULL: true };
    corruptFields.set(field, { field, stored, problem: result, number: numberReadFrom(stored) });
    return undefined;
  };
  const typed = (field: keyof SystemFields, type: 'N' | 'S' | 'M') => {
    if (item[field]?.[type] !== undefined) typedFields.add(field);
  };
  const whole = (field: WholeNumberField & keyof SystemFields) => {
    typed(field, 'N');
    return valid(field, decodeWholeNumber(pollerId, field, item[field]));
  };
  const text = (field: keyof SystemFields) => {
    typed(field, 'S');
    return valid(field, decodeText(pollerId, field, item[field]));
  };
  const shardName = (field: typeof FIELD.shard | typeof FIELD.moveTo) => {
    typed(field, 'S');
    return valid(field, decodeShardName(pollerId, field, item[field]));
  };
  const shardLoopField = () => {
    typed(FIELD.shardLoop, 'S');
    return valid(FIELD.shardLoop, decodeShardLoop(pollerId, item[FIELD.shardLoop]));
  };
  typed(FIELD.lastError, 'M');
  return {
    generation: whole(FIELD.generation),
    executionArn: text(FIELD.executionArn),
    heartbeatAt: text(FIELD.heartbeatAt),
    seq: whole(FIELD.seq),
    claimedSeq: whole(FIELD.claimedSeq),
    stoppedReason: text(FIELD.stoppedReason),
    lastError: valid(FIELD.lastError, decodeRecordedError(pollerId, item[FIELD.lastError])),
    skippedTicks: whole(FIELD.skippedTicks),
    failedFires: whole(FIELD.failedFires),
    overlapSkips: whole(FIELD.overlapSkips),
    lastFinishedSeq: whole(FIELD.lastFinishedSeq),
    lastFireMs: whole(FIELD.lastFireMs),
    nextTickAt: text(FIELD.nextTickAt),
    lastTickAt: text(FIELD.lastTickAt),
    restarts: whole(FIELD.restarts),
    lastRestartAt: text(FIELD.lastRestartAt),
    lastRestartReason: text(FIELD.lastRestartReason),
    shard: shardName(FIELD.shard),
    moveTo: shardName(FIELD.moveTo),
    movedAt: whole(FIELD.movedAt),
    shardLoop: shardLoopField(),
    shardEpoch: whole(FIELD.shardEpoch),
    shardLoopBy: shardLoopAuthor(item[FIELD.shardLoop]),
  };
}

/** The item each decoded view came from, for the fields decoded on demand (`outcomeFieldsOf`). */
const IMAGES = new WeakMap<PollerItem, RawItem>();

/** The tick outcomes recorded on a decoded item (the CLI's status, list and history). */
export function outcomeFieldsOf(item: PollerItem): OutcomeFields {
  const image = IMAGES.get(item) ?? {};
  const problems: InvalidControlItemError[] = [];
  const valid = <T>(result: T | undefined | InvalidControlItemError): T | undefined => {
    if (!(result instanceof InvalidControlItemError)) return result;
    problems.push(result);
    return undefined;
  };
  const { pollerId } = item;
  const whole = (field: typeof FIELD.lastResultSeq | typeof FIELD.lastResultMs | typeof FIELD.failedTicks) =>
    valid(decodeWholeNumber(pollerId, field, image[field]));
  const text = (field: typeof FIELD.lastResultAt | typeof FIELD.lastResultDetail) =>
    valid(decodeText(pollerId, field, image[field]));
  return {
    lastResult: valid(decodeTickResult(pollerId, image[FIELD.lastResult])),
    lastResultSeq: whole(FIELD.lastResultSeq),
    lastResultAt: text(FIELD.lastResultAt),
    lastResultMs: whole(FIELD.lastResultMs),
    lastResultDetail: text(FIELD.lastResultDetail),
    failedTicks: whole(FIELD.failedTicks),
    recentResults: valid(decodeRecentResults(pollerId, image[FIELD.recentResults])),
    problems,
  };
}

function decodeTickResult(
  pollerId: string,
  value: AttributeValue | undefined,
): TickResult | undefined | InvalidControlItemError {
  if (value === undefined) return undefined;
  const result = TICK_RESULTS.find((known) => known === value.S);
  if (result !== undefined) return result;
  return new InvalidControlItemError(
    pollerId,
    FIELD.lastResult,
    describeAttribute(value),
    `must be one of ${TICK_RESULTS.join(', ')} (S), as the system writes it`,
  );
}

/** `recentResults`: a list (L) of maps {seq N, result S, at S, ms N, detail S?}, as the worker kit writes it. */
function decodeRecentResults(
  pollerId: string,
  value: AttributeValue | undefined,
): readonly TickOutcome[] | undefined | InvalidControlItemError {
  if (value === undefined) return undefined;
  const outcomes: TickOutcome[] = [];
  for (const entry of value.L ?? [undefined]) {
    const fields = entry?.M;
    const seq = Number(fields?.seq?.N);
    const durationMs = Number(fields?.ms?.N);
    const result = TICK_RESULTS.find((known) => known === fields?.result?.S);
    const at = fields?.at?.S;
    if (
      !Number.isSafeInteger(seq) ||
      !Number.isFinite(durationMs) ||
      result === undefined ||
      at === undefined
    ) {
      return new InvalidControlItemError(
        pollerId,
        FIELD.recentResults,
        describeAttribute(value),
        'must be a list (L) of maps {seq N, result S, at S, ms N, detail S}, as the system writes it',
      );
    }
    const detail = fields?.detail?.S;
    const trigger = fields?.trigger?.S;
    outcomes.push({
      seq,
      result,
      at,
      durationMs,
      ...(detail !== undefined ? { detail } : {}),
      ...(trigger !== undefined ? { trigger } : {}),
    });
  }
  return outcomes;
}

/** The last `ctl trigger` request, as scripts/ctl/commands/trigger.ts records it (`lastTrigger`). */
export interface TriggerRecord {
  readonly id: string;
  /** ISO time the request was recorded. */
  readonly at: string;
  readonly state: TriggerState;
  /** The function fired (the item's `target`, or the stack's worker). */
  readonly target: string;
  /** The fire's seq (negative: -n for the poller's n-th trigger). */
  readonly seq: number;
  /** The ctl run that recorded it (a nonce): a run recognises its own record after a retried write. */
  readonly claim: string;
  /** Lambda's status code for the invoke (202), when it answered. */
  readonly status: number | undefined;
  /** Why the invoke was refused (`refused`). */
  readonly error: string | undefined;
}

export interface TriggerFields {
  readonly lastTrigger: TriggerRecord | undefined;
  /** Trigger requests recorded (`fired`, `refused` or still `claimed`). */
  readonly triggers: number | undefined;
  /** The request ids remembered, oldest first: a request repeated with one of them fires nothing. */
  readonly recentTriggers: readonly string[] | undefined;
  /** The runs that recorded them (`id/claim/seq`, trigger-write.ts runEntry), oldest first. */
  readonly recentRuns: readonly string[] | undefined;
  readonly problems: readonly InvalidControlItemError[];
}

/** The trigger fields of a decoded item (the CLI's `trigger` and `status`; the control plane never reads them). */
export function triggerFieldsOf(item: PollerItem): TriggerFields {
  const image = IMAGES.get(item) ?? {};
  const problems: InvalidControlItemError[] = [];
  const refuse = (field: string, value: AttributeValue, expected: string) => {
    problems.push(new InvalidControlItemError(item.pollerId, field, describeAttribute(value), expected));
    return undefined;
  };
  const count = image[FIELD.triggers];
  const counted = count === undefined ? undefined : Number(count.N);
  const triggers =
    count === undefined || (Number.isSafeInteger(counted) && (counted ?? 0) >= 0)
      ? counted
      : refuse(FIELD.triggers, count, 'must be a whole number (N) from 0, as the system writes it');
  const list = image[FIELD.recentTriggers];
  const entries = list?.L?.map((entry) => entry.S);
  const listed =
    list === undefined
      ? undefined
      : entries?.every((id): id is string => id !== undefined)
        ? entries
        : refuse(FIELD.recentTriggers, list, 'must be a list (L) of strings (S), as the system writes it');
  // Two entries a request: its id, and the run that recorded it (`id/claim/seq`: `/` is in no request id).
  const recentTriggers = listed?.filter((entry) => !entry.includes('/'));
  const recentRuns = listed?.filter((entry) => entry.includes('/'));
  const record = image[FIELD.lastTrigger];
  const fields = record?.M;
  const state = TRIGGER_STATES.find((known) => known === fields?.state?.S);
  const seq = Number(fields?.seq?.N);
  const status = fields?.status?.N === undefined ? undefined : Number(fields.status.N);
  const [id, at, target, claim] = [fields?.id?.S, fields?.at?.S, fields?.target?.S, fields?.claim?.S];
  const lastTrigger =
    record === undefined
      ? undefined
      : id !== undefined &&
          at !== undefined &&
          target !== undefined &&
          claim !== undefined &&
          state !== undefined &&
          Number.isSafeInteger(seq)
        ? { id, at, state, target, seq, claim, status, error: fields?.error?.S }
        : refuse(
            FIELD.lastTrigger,
            record,
            'must be a map (M) {id S, at S, state S, target S, seq N, claim S}, as the system writes it',
          );
  return { lastTrigger, triggers, recentTriggers, recentRuns, problems };
}

/** The finite number a number or text attribute reads as (`N "2.5"`, `S " 3 "`); undefined for anything else. */
function numberReadFrom(value: AttributeValue): number | undefined {
  const text = value.N ?? value.S;
  if (text === undefined || text.trim() === '') return undefined;
  const number = Number(text);
  return Number.isFinite(number) ? number : undefined;
}

/** Renders an attribute the way an operator sees it in the console: type and value, e.g. `S "abc"`. */
export function describeAttribute(value: AttributeValue | undefined): string {
  if (value === undefined) return 'nothing (the attribute is missing)';
  const [type, raw] = Object.entries(value).find(([, v]) => v !== undefined) ?? ['?', undefined];
  if (type === 'NULL') return 'NULL';
  if (type === 'M' || type === 'L') return `${type} ${renderJson(attributeToJson(value), 60)}`;
  return `${type} ${renderJson(raw, 60)}`;
}

export function attributeMapToJson(map: Record<string, AttributeValue>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map).map(([key, value]) => [key, attributeToJson(value)]));
}

export function attributeToJson(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return Number(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.M !== undefined) return attributeMapToJson(value.M);
  if (value.L !== undefined) return value.L.map(attributeToJson);
  if (value.SS !== undefined) return [...value.SS];
  if (value.NS !== undefined) return value.NS.map(Number);
  if (value.B !== undefined) return Buffer.from(value.B).toString('base64');
  if (value.BS !== undefined) return value.BS.map((bytes) => Buffer.from(bytes).toString('base64'));
  return null;
}

export function jsonToAttribute(value: unknown): AttributeValue {
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(jsonToAttribute) };
  if (typeof value === 'object') {
    return {
      M: Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, jsonToAttribute(inner)])),
    };
  }
  return { S: String(value) };
}

const ATTRIBUTE_TYPES: ReadonlySet<string> = new Set([
  'S',
  'N',
  'B',
  'SS',
  'NS',
  'BS',
  'M',
  'L',
  'NULL',
  'BOOL',
]);

/** Every entry is one typed attribute value (`{ "S": "…" }`, `{ "N": "5" }`, …), as DynamoDB Streams sends them. */
export function isRawItem(value: unknown): value is RawItem {
  return (
    isRecord(value) &&
    Object.values(value).every((attribute) => {
      if (!isRecord(attribute)) return false;
      const types = Object.keys(attribute);
      return types.length === 1 && ATTRIBUTE_TYPES.has(types[0] ?? '');
    })
  );
}
