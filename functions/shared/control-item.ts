import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { FIELD, MAX_PAYLOAD_BYTES, type PollerConfig, WAIT_SECONDS_LIMITS } from './contract';
import { InvalidControlItemError, InvalidIntervalError, renderJson } from './errors';
import { parseWaitInterval } from './wait-interval';

export type RawItem = Record<string, AttributeValue>;

export interface ConfigReading {
  /** The configuration to use: valid fields from the item, the rest from `previous`; undefined if neither has one. */
  readonly config: PollerConfig | undefined;
  /** One error per invalid field, each naming the field and the value found. */
  readonly problems: readonly InvalidControlItemError[];
}

const LAMBDA_TARGET_PATTERN =
  /^(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$/;

/**
 * Validates an operator-edited control item field by field. A bad field never discards the good ones, and a bad
 * or missing field falls back to the last valid value so that a typo does not stop (or restart) a running loop.
 */
export function readConfig(pollerId: string, item: RawItem, previous?: PollerConfig): ConfigReading {
  const problems: InvalidControlItemError[] = [];
  const take = <T>(result: T | InvalidControlItemError, fallback: T | undefined): T | undefined => {
    if (result instanceof InvalidControlItemError) {
      problems.push(result);
      return fallback;
    }
    return result;
  };

  const running = take(parseRunning(pollerId, item[FIELD.running]), previous?.running);
  const intervalMs = take(parseWaitSeconds(pollerId, item[FIELD.waitSeconds]), previous?.intervalMs);
  const target = take(parseTarget(pollerId, item[FIELD.target]), previous?.target);
  const payload = take(parsePayload(pollerId, item[FIELD.payload]), previous?.payload);

  if (running === undefined || intervalMs === undefined) return { config: undefined, problems };
  return { config: { running, intervalMs, target, payload }, problems };
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
