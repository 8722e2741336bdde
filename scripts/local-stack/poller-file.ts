import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseDocument, parse as parseYaml } from 'yaml';
import { POLLER_ID_PATTERN } from '../../functions/shared/contract';
import { parseOverlapText, splitRuleText } from '../../functions/shared/control-item';
import type { NewPoller, OperatorFieldEdit } from '../../functions/shared/control-table';
import { isRecord } from '../../functions/shared/decode';
import {
  InvalidControlItemError,
  InvalidIntervalError,
  renderJson,
  SubMinuteError,
} from '../../functions/shared/errors';
import {
  parsePayloadText,
  parseTargetText,
  parseTimeZoneText,
  parseWindowTexts,
} from '../../functions/shared/operator-input';
import { parseWaitInterval } from '../../functions/shared/wait-interval';

/**
 * `npm start -- --pollers FILE`: a fleet declared in a JSON or YAML file, decoded once into typed pollers by the
 * controller's own validators, so a file accepted here holds only values the loop will use. The one shape is a
 * list of pollers:
 *
 *   - id: bus-predictions        # required, 1-64 of A-Z a-z 0-9 . _ -, unique in the file
 *     every: 2                   # required: waitseconds, 0.1-3600, decimals allowed
 *     running: true              # optional, default true
 *     target: my-function        # optional: function name or ARN (default: the stack's worker)
 *     payload: { url: "…" }      # optional: a JSON object passed to the worker
 */

/** One poller as the file declares it, validated: its id and the operator fields its item gets. */
export interface DeclaredPoller {
  readonly id: string;
  readonly fields: NewPoller;
}

/** A fleet file that cannot be used: names the file, the entry or poller, and the offending value. */
export class PollerFileError extends SubMinuteError {
  override readonly name = 'PollerFileError';

  constructor(
    readonly file: string,
    message: string,
    details: {
      readonly pollerId?: string | undefined;
      readonly value?: unknown;
      readonly cause?: unknown;
    } = {},
  ) {
    super(`${file}: ${message}`, details);
  }
}

/** What a field's decoder gives: the edit it makes, or what was wrong (the controller's words when it has them). */
type FieldResult = Partial<NewPoller> | { readonly refused: string; readonly value: unknown };

interface FileField {
  /** Decodes the field's value for the poller `pollerId`. */
  readonly decode: (pollerId: string, value: unknown) => FieldResult;
  /** The field must be given. */
  readonly required?: boolean;
  /**
   * The edit that makes an existing item match a file that leaves this field out (`--data` resuming a table):
   * optional operator fields are removed, so the item says what the file says.
   */
  readonly whenAbsent?: OperatorFieldEdit;
}

/** The controller's refusal, as one line: its message names the poller, the field and the value already. */
function refusedBy(error: InvalidControlItemError, value: unknown): FieldResult {
  return { refused: error.message, value };
}

/**
 * Every field a poller entry may have besides `id`, one entry each: a key not in this table is refused (a typo
 * like `evrey` is an error, not a silently ignored field). A new operator field is one entry here, decoded by the
 * controller's validator for it, with its `whenAbsent` removal.
 */
const FILE_FIELDS: Readonly<Record<string, FileField>> = {
  every: {
    required: true,
    decode: (pollerId, value) => {
      const interval = parseWaitInterval(value);
      if (interval instanceof InvalidIntervalError) {
        return {
          refused: `poller '${pollerId}': every must be ${interval.expected}; got ${renderJson(value, 60)}`,
          value,
        };
      }
      return { waitSeconds: interval.seconds };
    },
  },
  running: {
    decode: (pollerId, value) =>
      typeof value === 'boolean'
        ? { running: value }
        : {
            refused: `poller '${pollerId}': running must be true or false; got ${renderJson(value, 60)}`,
            value,
          },
  },
  target: {
    whenAbsent: { target: null },
    decode: (pollerId, value) => {
      if (typeof value !== 'string') {
        return {
          refused: `poller '${pollerId}': target must be a Lambda function name or ARN (a string); got ${renderJson(value, 60)}`,
          value,
        };
      }
      const target = parseTargetText(pollerId, value);
      return target instanceof InvalidControlItemError ? refusedBy(target, value) : { target };
    },
  },
  payload: {
    whenAbsent: { payload: null },
    decode: (pollerId, value) => {
      const nonJson = findNonJson(value);
      if (nonJson !== undefined) {
        return {
          refused: `poller '${pollerId}': payload must be plain JSON; it holds ${nonJson}`,
          value,
        };
      }
      const payload = parsePayloadText(pollerId, JSON.stringify(value));
      return payload instanceof InvalidControlItemError ? refusedBy(payload, value) : { payload };
    },
  },
  timezone: {
    whenAbsent: { timeZone: null },
    decode: (pollerId, value) => {
      if (typeof value !== 'string') {
        return {
          refused: `poller '${pollerId}': timezone must be an IANA time zone name (a string) such as Europe/Berlin; got ${renderJson(value, 60)}`,
          value,
        };
      }
      const zone = parseTimeZoneText(pollerId, value);
      return zone instanceof InvalidControlItemError ? refusedBy(zone, value) : { timeZone: zone ?? null };
    },
  },
  windows: {
    whenAbsent: { windows: null },
    decode: (pollerId, value) => {
      // One string holds several rules as in the console (`;` or line breaks), a list one rule each.
      const texts = typeof value === 'string' ? splitRuleText(value) : Array.isArray(value) ? value : [value];
      if (!texts.every((text): text is string => typeof text === 'string')) {
        return {
          refused: `poller '${pollerId}': windows must be a list of rule strings (or one string of rules separated by ;) such as "Mon-Fri 06:00-20:00 every 2"; got ${renderJson(value, 60)}`,
          value,
        };
      }
      const rules = parseWindowTexts(pollerId, texts);
      if (rules instanceof InvalidControlItemError) return refusedBy(rules, value);
      return { windows: rules.length === 0 ? null : rules };
    },
  },
  overlap: {
    whenAbsent: { overlap: null },
    decode: (pollerId, value) => {
      const overlap = parseOverlapText(pollerId, typeof value === 'string' ? value : renderJson(value, 60));
      return overlap instanceof InvalidControlItemError ? refusedBy(overlap, value) : { overlap };
    },
  },
};

const KNOWN_KEYS = ['id', ...Object.keys(FILE_FIELDS)];

/**
 * The edit that makes an existing item say what a declared poller says: the declared fields, and every optional
 * field the file leaves out removed. `running` is not in it: it is switched on or off (control-table.ts).
 */
export function editMatching(poller: DeclaredPoller): OperatorFieldEdit {
  const { running: _running, ...declared } = poller.fields;
  let edit: OperatorFieldEdit = {};
  for (const field of Object.values(FILE_FIELDS)) edit = { ...edit, ...field.whenAbsent };
  return { ...edit, ...declared };
}

/** Reads and decodes a fleet file; any problem (missing, unreadable, bad content) is a PollerFileError. */
export async function readPollerFile(file: string): Promise<DeclaredPoller[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : String(error);
    throw new PollerFileError(file, `cannot read the file (${reason})`, { cause: error });
  }
  return decodePollerFile(file, text);
}

/** Decodes a fleet file's text: JSON for `.json`, YAML for `.yaml`/`.yml` (the name says which). */
export function decodePollerFile(file: string, text: string): DeclaredPoller[] {
  return decodePollerList(file, parseText(file, text));
}

function parseText(file: string, text: string): unknown {
  const extension = extname(file).toLowerCase();
  try {
    if (extension === '.json') return parseJson(text);
    // Duplicate keys are an error (the yaml package's default), so no field is silently overridden.
    if (extension === '.yaml' || extension === '.yml') return parseYaml(text);
  } catch (error) {
    const format = extension === '.json' ? 'JSON' : 'YAML';
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new PollerFileError(file, `not valid ${format}: ${reason}`, { cause: error });
  }
  throw new PollerFileError(
    file,
    `must be a .json, .yaml or .yml file; got ${renderJson(extension || file)}`,
    {
      value: file,
    },
  );
}

/**
 * JSON.parse keeps the last of two equal keys without a word; JSON is YAML too, so the YAML parser's duplicate-key
 * check says which key is repeated (JSON.parse first: only JSON is accepted).
 */
function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  const duplicate = parseDocument(text).errors.find((error) => error.code === 'DUPLICATE_KEY');
  if (duplicate) throw duplicate;
  return value;
}

function decodePollerList(file: string, document: unknown): DeclaredPoller[] {
  if (!Array.isArray(document)) {
    throw new PollerFileError(
      file,
      `must be a list of pollers ([{ id, every, running?, target?, payload?, timezone?, windows? }, …]); got ${renderJson(document, 60)}`,
      { value: document },
    );
  }
  if (document.length === 0) throw new PollerFileError(file, 'lists no pollers', { value: document });
  const pollers: DeclaredPoller[] = [];
  const seen = new Set<string>();
  document.forEach((entry, index) => {
    const poller = decodeEntry(file, entry, index + 1);
    if (seen.has(poller.id)) {
      throw new PollerFileError(file, `poller '${poller.id}' is listed twice (entry ${index + 1})`, {
        pollerId: poller.id,
        value: poller.id,
      });
    }
    seen.add(poller.id);
    pollers.push(poller);
  });
  return pollers;
}

function decodeEntry(file: string, entry: unknown, position: number): DeclaredPoller {
  if (!isRecord(entry)) {
    throw new PollerFileError(
      file,
      `entry ${position} must be a map of a poller's fields; got ${renderJson(entry, 60)}`,
      { value: entry },
    );
  }
  const { id } = entry;
  if (typeof id !== 'string' || !POLLER_ID_PATTERN.test(id)) {
    throw new PollerFileError(
      file,
      `entry ${position}: id must be 1-64 of A-Z a-z 0-9 . _ -; got ${renderJson(id, 60)}`,
      { value: id },
    );
  }
  for (const key of Object.keys(entry)) {
    if (KNOWN_KEYS.includes(key)) continue;
    const guess = closestKey(key);
    throw new PollerFileError(
      file,
      `poller '${id}': unknown field ${renderJson(key)}${guess ? ` (did you mean "${guess}"?)` : ''}; a poller has ${KNOWN_KEYS.join(', ')}`,
      { pollerId: id, value: key },
    );
  }
  let fields: Partial<NewPoller> = { running: true };
  for (const [key, field] of Object.entries(FILE_FIELDS)) {
    const value = entry[key];
    // Only a missing key is absent: a null (`target:` with nothing after it) is a value, and refused.
    if (value === undefined) {
      if (field.required) {
        throw new PollerFileError(file, `poller '${id}': ${key} is required`, { pollerId: id });
      }
      continue;
    }
    const result = field.decode(id, value);
    if ('refused' in result) {
      throw new PollerFileError(file, result.refused, { pollerId: id, value: result.value });
    }
    fields = { ...fields, ...result };
  }
  const { running, waitSeconds } = fields;
  // Both are set above: running by default, every as a required field.
  if (running === undefined || waitSeconds === undefined) {
    throw new PollerFileError(file, `poller '${id}': every is required`, { pollerId: id });
  }
  return { id, fields: { ...fields, running, waitSeconds } };
}

/** The known key a typo most likely meant: at most two edits away (`evrey` → `every`). */
function closestKey(key: string): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const known of KNOWN_KEYS) {
    const distance = editDistance(key.toLowerCase(), known);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { key: known, distance };
  }
  return best?.key;
}

/** Damerau-Levenshtein (optimal string alignment): a swap of two letters counts as one edit. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, at(i - 2, j - 2) + 1);
      }
      const row = rows[i];
      if (row) row[j] = distance;
    }
  }
  return at(a.length, b.length);
}

/** What makes a value not plain JSON (YAML can write `.inf`, `.nan`), or undefined when it is plain JSON. */
function findNonJson(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `the number ${value}`;
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return undefined;
  if (Array.isArray(value)) return firstDefined(value.map(findNonJson));
  if (isRecord(value) && Object.getPrototypeOf(value) === Object.prototype) {
    return firstDefined(Object.values(value).map(findNonJson));
  }
  return `a value of type ${typeof value}`;
}

function firstDefined(values: readonly (string | undefined)[]): string | undefined {
  return values.find((value) => value !== undefined);
}
