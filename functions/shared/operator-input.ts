import { FIELD } from './contract';
import {
  jsonToAttribute,
  parsePayload,
  parseTarget,
  parseTimeZoneField,
  parseWindowsField,
} from './control-item';
import { isRecord } from './decode';
import { InvalidControlItemError, renderJson } from './errors';

/**
 * Operator fields given as text (the CLI's `--target`, `--payload`; `--every` is `parseWaitSecondsText`), checked
 * by the controller's own decoders: a value accepted here is one the loop will use, and a refusal reads as the
 * `lastError` the controller would record for it.
 */

/** A function name or ARN to fire instead of the stack's worker. */
export function parseTargetText(pollerId: string, text: string): string | InvalidControlItemError {
  const target = parseTarget(pollerId, { S: text });
  // `{ S: text }` is never absent, so the decoder answers with the name or an error.
  return target ?? new InvalidControlItemError(pollerId, FIELD.target, renderJson(text), 'must not be empty');
}

/** An IANA time zone name for window rules; the result is undefined for UTC (the default, stored as absent). */
export function parseTimeZoneText(
  pollerId: string,
  text: string,
): string | undefined | InvalidControlItemError {
  return parseTimeZoneField(pollerId, { S: text });
}

/**
 * Window rules given one per option (`--window RULE`, repeated): checked as the list the item will hold, so a
 * refusal names the rule by its place, as the loop's lastError would. The texts are kept as written.
 */
export function parseWindowTexts(
  pollerId: string,
  rules: readonly string[],
): readonly string[] | InvalidControlItemError {
  const parsed = parseWindowsField(pollerId, { L: rules.map((rule) => ({ S: rule })) });
  if (parsed instanceof InvalidControlItemError) return parsed;
  return (parsed ?? []).map((rule) => rule.text);
}

/** Magnitudes DynamoDB stores (38 digits of precision aside): from `min` up to, not including, `below`. */
const DYNAMODB_NUMBER_MAGNITUDE = { min: 1e-130, below: 1e126 } as const;

/** A JSON object passed to the worker as `payload`: valid JSON, an object, storable, and within the size limit. */
export function parsePayloadText(
  pollerId: string,
  text: string,
): Readonly<Record<string, unknown>> | InvalidControlItemError {
  const refuse = (expected: string) =>
    new InvalidControlItemError(pollerId, FIELD.payload, renderJson(text, 60), expected);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refuse('must be a JSON object, e.g. {"url":"https://example.com"}');
  }
  if (!isRecord(parsed)) return refuse('must be a JSON object (a map), not a list or a scalar');
  const unstorable = findUnstorableNumber(parsed);
  if (unstorable !== undefined) {
    return refuse(
      `holds the number ${unstorable}, outside what DynamoDB stores (1e-130 to 1e126 in magnitude)`,
    );
  }
  const payload = parsePayload(pollerId, jsonToAttribute(parsed));
  return payload ?? refuse('must be a JSON object');
}

function findUnstorableNumber(value: unknown): number | undefined {
  if (typeof value === 'number') {
    const magnitude = Math.abs(value);
    const storable =
      magnitude === 0 ||
      (magnitude >= DYNAMODB_NUMBER_MAGNITUDE.min && magnitude < DYNAMODB_NUMBER_MAGNITUDE.below);
    return storable ? undefined : value;
  }
  const inner = Array.isArray(value) ? value : isRecord(value) ? Object.values(value) : [];
  for (const item of inner) {
    const found = findUnstorableNumber(item);
    if (found !== undefined) return found;
  }
  return undefined;
}
