import { SubMinuteError } from '../../functions/shared/errors';

/**
 * Lambda event filtering (the `FilterCriteria` of an event source mapping), for the subset of the pattern
 * language the stack's filters use: nested keys that must all match, a leaf that lists the accepted values
 * (strings, numbers, booleans, null), and `{ "exists": true | false }`. Patterns are parsed once, and anything
 * else (prefix, numeric, anything-but, …) is refused rather than matched wrongly.
 *
 * The rules are EventBridge's, which Lambda applies to each record as delivered: a pattern's fields are AND-ed,
 * the values listed for a field are OR-ed, the filters of a mapping are OR-ed, a value that is an array in the
 * event matches when any of its elements does, and `exists` matches only leaf values (a field holding an object
 * does not "exist" for it).
 */

type Scalar = string | number | boolean | null;

/** One accepted value of a leaf: an exact value or an `exists` test. */
export type LeafRule =
  | { readonly kind: 'equals'; readonly value: Scalar }
  | { readonly kind: 'exists'; readonly exists: boolean };

export interface FilterPattern {
  readonly [field: string]: FilterPattern | readonly LeafRule[];
}

/** A pattern that is not JSON, not an object, or uses matching this local implementation does not provide. */
export class UnsupportedFilterPatternError extends SubMinuteError {
  override readonly name = 'UnsupportedFilterPatternError';
  constructor(
    readonly pattern: string,
    detail: string,
  ) {
    super(`event filter pattern ${pattern}: ${detail}`);
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isScalar = (value: unknown): value is Scalar =>
  value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

/** Parses a filter's `Pattern` (the JSON string CloudFormation and the CDK's FilterCriteria carry). */
export function parseFilterPattern(pattern: string): FilterPattern {
  let parsed: unknown;
  try {
    parsed = JSON.parse(pattern);
  } catch {
    throw new UnsupportedFilterPatternError(pattern, 'is not JSON');
  }
  if (!isPlainObject(parsed)) throw new UnsupportedFilterPatternError(pattern, 'is not a JSON object');
  return parseNode(parsed, pattern, '');
}

function parseNode(node: Record<string, unknown>, pattern: string, path: string): FilterPattern {
  const fields: Record<string, FilterPattern | readonly LeafRule[]> = {};
  for (const [key, value] of Object.entries(node)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (Array.isArray(value)) fields[key] = value.map((rule) => parseRule(rule, pattern, at));
    else if (isPlainObject(value)) fields[key] = parseNode(value, pattern, at);
    else
      throw new UnsupportedFilterPatternError(
        pattern,
        `${at} must be an object or a list of values; got ${JSON.stringify(value)}`,
      );
  }
  return fields;
}

function parseRule(rule: unknown, pattern: string, at: string): LeafRule {
  if (isScalar(rule)) return { kind: 'equals', value: rule };
  if (isPlainObject(rule)) {
    const keys = Object.keys(rule);
    if (keys.length === 1 && typeof rule.exists === 'boolean') return { kind: 'exists', exists: rule.exists };
  }
  throw new UnsupportedFilterPatternError(
    pattern,
    `${at}: only exact values and { "exists": boolean } are supported locally; got ${JSON.stringify(rule)}`,
  );
}

/** Whether `event` (a record as Lambda would deliver it, as JSON) matches `pattern`. */
export function matchesFilter(pattern: FilterPattern, event: unknown): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const value = isPlainObject(event) ? event[key] : undefined;
    if (isRuleList(expected)) return expected.some((rule) => matchesRule(rule, value));
    return matchesFilter(expected, value);
  });
}

/** Filters are OR-ed: a record passes when any of them matches. */
export function passesAnyFilter(patterns: readonly FilterPattern[], event: unknown): boolean {
  return patterns.some((pattern) => matchesFilter(pattern, event));
}

function isRuleList(node: FilterPattern | readonly LeafRule[]): node is readonly LeafRule[] {
  return Array.isArray(node);
}

function matchesRule(rule: LeafRule, value: unknown): boolean {
  const leaves = (Array.isArray(value) ? value : [value]).filter(
    (leaf) => leaf !== undefined && !isPlainObject(leaf),
  );
  if (rule.kind === 'exists') return rule.exists ? leaves.length > 0 : value === undefined;
  return leaves.some((leaf) => leaf === rule.value);
}
