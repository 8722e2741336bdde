import { WAIT_SECONDS_LIMITS } from '../../functions/shared/contract';
import { parseOverlapText, parseWaitSecondsText } from '../../functions/shared/control-item';
import type { OperatorFieldEdit } from '../../functions/shared/control-table';
import { InvalidControlItemError } from '../../functions/shared/errors';
import {
  parsePayloadText,
  parseTargetText,
  parseTimeZoneText,
  parseWindowTexts,
} from '../../functions/shared/operator-input';
import { UsageError } from './errors';

/**
 * The operator fields `create` and `set` write, one entry each: the option that sets the field (decoded by the
 * controller's own validator), and the option that removes it when it may be absent. A new operator field is one
 * entry here (plus its key in OperatorFieldEdit and its codec in control-table.ts, which the compiler asks for).
 */
export interface OperatorFieldOption {
  /** The option that sets the field, e.g. `every` for `--every S`. */
  readonly option: string;
  /** How the usage text names its value. */
  readonly valueName: string;
  readonly help: string;
  /**
   * Decodes the option's text with the controller's validator; refusals are UsageErrors. A repeatable option
   * (`--window A --window B`) is decoded once with all its texts, in the order given.
   */
  readonly decode: (pollerId: string, texts: readonly [string, ...string[]]) => OperatorFieldEdit;
  /** The option may be given more than once. */
  readonly repeatable?: boolean;
  /** The option that removes the field, and the edit it makes; absent when the field is required. */
  readonly clear?: { readonly option: string; readonly help: string; readonly edit: OperatorFieldEdit };
}

/** The controller's check passed, or the CLI refuses with the controller's words. */
function accepted<T>(option: string, result: T | InvalidControlItemError): T {
  if (result instanceof InvalidControlItemError) throw new UsageError(`--${option}: ${result.message}`);
  return result;
}

export const OPERATOR_FIELD_OPTIONS: readonly OperatorFieldOption[] = [
  {
    option: 'every',
    valueName: 'S',
    help: `the cadence (waitseconds), ${WAIT_SECONDS_LIMITS.min}-${WAIT_SECONDS_LIMITS.max} s, decimals allowed`,
    decode: (pollerId, [text]) => {
      accepted('every', parseWaitSecondsText(pollerId, text));
      return { waitSeconds: Number(text) };
    },
  },
  {
    option: 'target',
    valueName: 'NAME',
    help: 'the function (name or ARN) to fire instead of the stack’s worker',
    decode: (pollerId, [text]) => ({ target: accepted('target', parseTargetText(pollerId, text)) }),
    clear: { option: 'default-target', help: 'fire the stack’s worker again', edit: { target: null } },
  },
  {
    option: 'payload',
    valueName: 'JSON',
    help: 'a JSON object passed to the worker as `payload` (at most 64 KB)',
    decode: (pollerId, [text]) => ({ payload: accepted('payload', parsePayloadText(pollerId, text)) }),
    clear: { option: 'no-payload', help: 'remove the payload', edit: { payload: null } },
  },
  {
    option: 'timezone',
    valueName: 'ZONE',
    help: 'the IANA time zone the window rules are read in, e.g. Europe/Berlin (default UTC)',
    decode: (pollerId, [text]) => ({
      timeZone: accepted('timezone', parseTimeZoneText(pollerId, text)) ?? null,
    }),
    clear: { option: 'utc', help: 'read the window rules in UTC again', edit: { timeZone: null } },
  },
  {
    option: 'window',
    valueName: 'RULE',
    help: 'a window rule, e.g. "Mon-Fri 06:00-20:00 every 2" or "Sun 01:00-05:00 pause"; repeat it for several (the first that matches wins); replaces the item\'s rules',
    repeatable: true,
    decode: (pollerId, texts) => {
      const rules = accepted('window', parseWindowTexts(pollerId, texts));
      return { windows: rules.length === 0 ? null : rules };
    },
    clear: { option: 'no-windows', help: 'remove every window rule', edit: { windows: null } },
  },
  {
    option: 'overlap',
    valueName: 'allow|skip',
    help: 'skip: no fire while the previous one runs (synchronous invoke); allow: always fire (the default)',
    decode: (pollerId, [text]) => ({ overlap: accepted('overlap', parseOverlapText(pollerId, text)) }),
  },
];

/**
 * What the command line gave for an option: its text, true for a flag, the texts of a repeatable option, undefined
 * when absent.
 */
export type OptionLookup = (option: string) => string | boolean | readonly string[] | undefined;

/** A string option's text (parseArgs gives strings for string options; anything else is absent). */
export function stringOption(lookup: OptionLookup, option: string): string | undefined {
  const value = lookup(option);
  return typeof value === 'string' ? value : undefined;
}

/** The edit the operator-field options describe; setting and clearing one field at once is refused. */
export function readOperatorFields(pollerId: string, lookup: OptionLookup): OperatorFieldEdit {
  let edit: OperatorFieldEdit = {};
  for (const field of OPERATOR_FIELD_OPTIONS) {
    const texts = textsOf(lookup(field.option));
    const cleared = field.clear !== undefined && lookup(field.clear.option) === true;
    if (texts !== undefined && cleared) {
      throw new UsageError(`give either --${field.option} or --${field.clear?.option}, not both`);
    }
    if (texts !== undefined) edit = { ...edit, ...field.decode(pollerId, texts) };
    if (cleared && field.clear) edit = { ...edit, ...field.clear.edit };
  }
  return edit;
}

function textsOf(given: string | boolean | readonly string[] | undefined): [string, ...string[]] | undefined {
  if (typeof given === 'string') return [given];
  if (Array.isArray(given) && given.length > 0) {
    const [first, ...rest] = given;
    return typeof first === 'string' ? [first, ...rest] : undefined;
  }
  return undefined;
}

/** Every option name the table defines (string options set a field, boolean ones clear it). */
export function operatorFieldOptionNames(): {
  readonly strings: string[];
  readonly repeatable: string[];
  readonly flags: string[];
} {
  return {
    strings: OPERATOR_FIELD_OPTIONS.filter((field) => field.repeatable !== true).map((field) => field.option),
    repeatable: OPERATOR_FIELD_OPTIONS.filter((field) => field.repeatable === true).map(
      (field) => field.option,
    ),
    flags: OPERATOR_FIELD_OPTIONS.flatMap((field) => (field.clear ? [field.clear.option] : [])),
  };
}
