import { parseArgs } from 'node:util';
import { DEFAULT_POLLER_ID, POLLER_ID_PATTERN, TRIGGER_ID_PATTERN } from '../../functions/shared/contract';
import type { NewPoller, OperatorFieldEdit } from '../../functions/shared/control-table';
import { DEFAULT_DYNAMODB_PORT } from '../local-stack/local-endpoints';
import { HISTORY_LIMITS } from './commands/history';
import { UsageError } from './errors';
import {
  OPERATOR_FIELD_OPTIONS,
  type OptionLookup,
  operatorFieldOptionNames,
  readOperatorFields,
  stringOption,
} from './operator-fields';
import { parseTargetSpec, type TargetSpec } from './target-spec';

export const COMMAND_NAMES = [
  'list',
  'watch',
  'status',
  'history',
  'create',
  'set',
  'delete',
  'start',
  'stop',
  'pause',
  'resume',
  'failed',
  'trigger',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export const LIST_SORTS = ['id', 'next', 'last', 'state'] as const;
export type ListSort = (typeof LIST_SORTS)[number];

/** `watch --interval S`: how often the table is read again. */
export const WATCH_INTERVAL_LIMITS = { minSeconds: 0.5, maxSeconds: 60, defaultSeconds: 2 } as const;

/** The pollers `pause`/`resume` switch: the ids given, or every poller in the table. */
export type PollerSelection =
  | { readonly kind: 'ids'; readonly pollerIds: readonly string[] }
  | { readonly kind: 'all' };

/** A validated command: everything the CLI will do, decided before any AWS call. */
export type Command =
  | { readonly name: 'list'; readonly sort: ListSort }
  /** `once`: print one frame and exit. */
  | { readonly name: 'watch'; readonly sort: ListSort; readonly intervalMs: number; readonly once: boolean }
  | { readonly name: 'status'; readonly pollerId: string }
  | { readonly name: 'status-all' }
  | { readonly name: 'history'; readonly pollerId: string; readonly limit: number }
  | { readonly name: 'create'; readonly pollerId: string; readonly fields: NewPoller }
  | { readonly name: 'set'; readonly pollerId: string; readonly edit: OperatorFieldEdit }
  | { readonly name: 'delete'; readonly pollerId: string }
  | { readonly name: 'stop'; readonly pollerId: string }
  /** `waitSeconds` given: the item is created (or its cadence set) along with running=true. */
  | { readonly name: 'start'; readonly pollerId: string; readonly waitSeconds?: number | undefined }
  /** `payload` overrides the item's for this fire; `requestId` (`--id`) makes a repeated request fire once. */
  | {
      readonly name: 'trigger';
      readonly pollerId: string;
      readonly payload?: Readonly<Record<string, unknown>> | undefined;
      readonly requestId?: string | undefined;
    }
  | { readonly name: 'pause' | 'resume'; readonly pollers: PollerSelection }
  | { readonly name: 'failed-list' }
  /** `pollerId` undefined: every poller's failed ticks. */
  | { readonly name: 'failed-replay'; readonly pollerId: string | undefined; readonly yes: boolean };

/** What `ctl failed` does with the failed-ticks queue. */
export const FAILED_ACTIONS = ['list', 'replay'] as const;

export type Invocation =
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly command: Command; readonly target: TargetSpec; readonly json: boolean };

const fieldHelp = OPERATOR_FIELD_OPTIONS.flatMap((field) => [
  `  --${`${field.option} ${field.valueName}`.padEnd(19)}${field.help}`,
  ...(field.clear ? [`  --${field.clear.option.padEnd(19)}${field.clear.help}`] : []),
]).join('\n');

export const USAGE = `Usage: npm run ctl -- <command> [ID] <target> [options]

Commands (ID is a poller id; where it is optional it defaults to '${DEFAULT_POLLER_ID}'; --poller ID works too):
  list [--sort id|next|last|state]
                       one line per poller: state, cadence now and its source, next and last tick, how late,
                       skipped and failed fires, last error
  watch [--sort id|next|last|state] [--interval S] [--once]
                       the list, read again every S seconds (default ${WATCH_INTERVAL_LIMITS.defaultSeconds}, ${WATCH_INTERVAL_LIMITS.minSeconds} to ${WATCH_INTERVAL_LIMITS.maxSeconds}) and redrawn in place
                       under a header (table, time, pollers by state); FIRED is how far each poller's
                       recorded seq moved since the previous frame, 'stale?' a running poller whose seq has
                       not moved for its stale threshold; a failed read is shown and tried again; Ctrl-C
                       quits. Piped: one frame per read, no escape codes; --json: one object per line
  status [ID] [--all]  the poller's control item and the status of its loop's execution (--all: every poller)
  history [ID] [--limit N]
                       the poller's recent tick outcomes as the worker recorded them, newest first (default
                       ${HISTORY_LIMITS.defaultLimit}, at most ${HISTORY_LIMITS.max} are kept): seq, time, result, duration, detail;
                       every failure is recorded, successes only sampled
  create ID --every S [--target NAME] [--payload JSON] [--timezone ZONE] [--window RULE]...
         [--running | --stopped]
                       create a poller (refused if the id exists); --running (the default) starts its loop
  set [ID] [--every S] [--target NAME | --default-target] [--payload JSON | --no-payload]
         [--timezone ZONE | --utc] [--window RULE... | --no-windows]
                       change operator fields of an existing poller; its loop follows from its next tick
  delete ID --yes      set running=false (the loop ends at its next tick), then delete the item
  start [ID] [--every S]
                       set running=true and start the loop, unless a loop is alive (it carries on); a loop
                       whose execution was stopped by hand or failed is replaced at once
                       (with --every: also set the cadence, creating the item if it is missing)
  stop [ID]            set running=false; the loop ends at its next tick
  trigger [ID] [--payload JSON] [--id REQUEST]
                       fire the poller's target once, now (async invoke), running or stopped; the loop's
                       seq and schedule are untouched (the event carries trigger: REQUEST and seq -n); a
                       request fires at most once: repeating it with the same --id fires nothing
  pause ID... | --all  stop each poller as \`stop\` does; one line each and a summary (exit 1 if any failed)
  resume ID... | --all start each poller as \`start\` does; one line each and a summary (exit 1 if any failed)
  failed list          the failed-ticks queue, one line per message, decoded (ticks the worker failed after
                       Lambda's retries, loop starts the table's stream gave up on); deletes nothing
  failed replay [--poller ID] [--yes]
                       fire each failed tick (of one poller, or all) again at the function that failed it,
                       with the original event plus replayOf; a message is deleted once Lambda accepted
                       the invoke; more than one tick needs --yes (needs --stack or --local)

Operator fields (create, set; --every also start):
${fieldHelp}

Options:
  --poller ID          the poller, for commands that take one ID
  --json               print JSON instead of text (list: an array of objects; watch: one object per frame)
  --id REQUEST         trigger: the request id (1-64 of A-Z a-z 0-9 . _ : -), for a script to repeat it safely
  --yes                confirm a delete (always needed: the item and its counters are gone for good), or a
                       replay of more than one failed tick
  -h, --help           print this text

Targets (exactly one):
  --stack NAME         read the outputs ControlTableName, StateMachineArn (and FailedTicksQueueUrl, for
                       \`failed\`) of a deployed stack
  --table NAME         name the control table directly ...
  --state-machine-arn ARN  ... and the state machine (needed to start loops: start, resume, create --running)
  --region R           the AWS region (default: the SDK's, e.g. AWS_REGION); credentials: the standard chain
  --local              the local stack of \`npm start\`: DynamoDB on 127.0.0.1:${DEFAULT_DYNAMODB_PORT}, Step Functions on the next port
  --port N             with --local: the port given to \`npm start -- --port N\``;

const FIELD_OPTION_NAMES = operatorFieldOptionNames();

const OPTIONS: Record<
  string,
  { readonly type: 'string' | 'boolean'; readonly short?: string; readonly multiple?: boolean }
> = {
  poller: { type: 'string' },
  id: { type: 'string' },
  ...Object.fromEntries(FIELD_OPTION_NAMES.strings.map((name) => [name, { type: 'string' }])),
  ...Object.fromEntries(
    FIELD_OPTION_NAMES.repeatable.map((name) => [name, { type: 'string', multiple: true }]),
  ),
  ...Object.fromEntries(FIELD_OPTION_NAMES.flags.map((name) => [name, { type: 'boolean' }])),
  running: { type: 'boolean' },
  stopped: { type: 'boolean' },
  sort: { type: 'string' },
  interval: { type: 'string' },
  limit: { type: 'string' },
  once: { type: 'boolean' },
  yes: { type: 'boolean' },
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  local: { type: 'boolean' },
  port: { type: 'string' },
  stack: { type: 'string' },
  table: { type: 'string' },
  'state-machine-arn': { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** The commands each command-specific option applies to; the rest (target, --json, --help) apply to all. */
const OPTION_COMMANDS: Readonly<Record<string, readonly CommandName[]>> = {
  poller: ['status', 'history', 'create', 'set', 'delete', 'start', 'stop', 'failed', 'trigger'],
  ...Object.fromEntries(
    [...FIELD_OPTION_NAMES.strings, ...FIELD_OPTION_NAMES.repeatable, ...FIELD_OPTION_NAMES.flags].map(
      (name) => [
        name,
        name === 'every'
          ? ['create', 'set', 'start']
          : name === 'payload'
            ? ['create', 'set', 'trigger']
            : ['create', 'set'],
      ],
    ),
  ),
  id: ['trigger'],
  running: ['create'],
  stopped: ['create'],
  sort: ['list', 'watch'],
  interval: ['watch'],
  limit: ['history'],
  once: ['watch'],
  yes: ['delete', 'failed'],
  all: ['status', 'pause', 'resume'],
};

/** Commands that start loops, and so need the state machine (and `create`, unless --stopped). */
const STARTS_LOOPS: ReadonlySet<string> = new Set(['start', 'resume']);

const quote = (value: string) => JSON.stringify(value);

/**
 * Turns argv into a validated invocation. Pure: every refusal is a UsageError thrown here, before anything is
 * read or written.
 */
export function parseCommandLine(argv: readonly string[]): Invocation {
  const { values, positionals } = parseRaw(argv);
  const lookup: OptionLookup = (option) => {
    const value = values[option];
    if (Array.isArray(value)) return value.filter((text): text is string => typeof text === 'string');
    return typeof value === 'string' || typeof value === 'boolean' ? value : undefined;
  };
  if (lookup('help') === true) return { kind: 'help' };

  const name = parseCommandName(positionals);
  refuseMisplacedOptions(name, lookup);
  const command =
    name === 'failed'
      ? buildFailedCommand(positionals.slice(1), lookup)
      : buildCommand(name, parsePollerIds(name, positionals.slice(1), lookup), lookup);
  const target = parseTargetSpec(lookup);
  if (name === 'failed' && target.kind === 'table') {
    throw new UsageError(
      'ctl failed needs --stack NAME (its FailedTicksQueueUrl output) or --local: a table names no queue',
    );
  }
  const startsLoops = STARTS_LOOPS.has(command.name) || (command.name === 'create' && command.fields.running);
  if (startsLoops && target.kind === 'table' && target.stateMachineArn === undefined) {
    throw new UsageError(
      `${command.name} with --table needs --state-machine-arn ARN to start loops (or use --stack NAME${command.name === 'create' ? ', or create it --stopped' : ''})`,
    );
  }
  return { kind: 'run', command, target, json: lookup('json') === true };
}

function refuseMisplacedOptions(name: CommandName, lookup: OptionLookup): void {
  for (const [option, commands] of Object.entries(OPTION_COMMANDS)) {
    if (lookup(option) !== undefined && !commands.includes(name)) {
      // `failed` takes --poller and --yes for its replay only (buildFailedCommand refuses them on list).
      const names = commands.map((command) => (command === 'failed' ? 'failed replay' : command));
      throw new UsageError(`--${option} applies to ${names.join(', ')}, not to ${name}`);
    }
  }
}

/** The ids after the command (and --poller), each a valid poller id. */
function parsePollerIds(name: CommandName, given: readonly string[], lookup: OptionLookup): string[] {
  const named = stringOption(lookup, 'poller');
  const commandAmongIds = given.find(isCommandName);
  if (commandAmongIds !== undefined) {
    throw new UsageError(
      `one command at a time: got ${quote(name)} ${quote(commandAmongIds)} (a poller named like a command: --poller ${commandAmongIds})`,
    );
  }
  if (named !== undefined && given.length > 0) {
    throw new UsageError(`give the poller id once: ${quote(given[0] ?? '')} or --poller ${named}, not both`);
  }
  return (named === undefined ? given : [named]).map(parsePollerId);
}

function buildCommand(
  name: Exclude<CommandName, 'failed'>,
  pollerIds: readonly string[],
  lookup: OptionLookup,
): Command {
  if (name === 'list') {
    if (pollerIds.length > 0) throw new UsageError('list takes no poller id: it lists every poller');
    return { name, sort: parseSort(stringOption(lookup, 'sort')) };
  }
  if (name === 'watch') {
    if (pollerIds.length > 0) throw new UsageError('watch takes no poller id: it shows every poller');
    return {
      name,
      sort: parseSort(stringOption(lookup, 'sort')),
      intervalMs: parseWatchInterval(stringOption(lookup, 'interval')),
      once: lookup('once') === true,
    };
  }
  if (name === 'pause' || name === 'resume')
    return { name, pollers: parseSelection(name, pollerIds, lookup) };

  if (pollerIds.length > 1) {
    throw new UsageError(`${name} takes one poller id; got ${pollerIds.map(quote).join(' ')}`);
  }
  const given = pollerIds[0];
  const pollerId = given ?? DEFAULT_POLLER_ID;
  switch (name) {
    case 'status':
      if (lookup('all') === true) {
        if (given !== undefined) throw new UsageError('give either --all or a poller id, not both');
        return { name: 'status-all' };
      }
      return { name, pollerId };
    case 'history':
      return { name, pollerId, limit: parseHistoryLimit(stringOption(lookup, 'limit')) };
    case 'stop':
      return { name, pollerId };
    case 'trigger': {
      const requestId = stringOption(lookup, 'id');
      if (requestId !== undefined && !TRIGGER_ID_PATTERN.test(requestId)) {
        throw new UsageError(`--id must be 1-64 characters of A-Z a-z 0-9 . _ : -; got ${quote(requestId)}`);
      }
      const { payload } = readOperatorFields(pollerId, lookup);
      return {
        name,
        pollerId,
        ...(payload === undefined || payload === null ? {} : { payload }),
        ...(requestId === undefined ? {} : { requestId }),
      };
    }
    case 'start':
      return { name, pollerId, waitSeconds: readOperatorFields(pollerId, lookup).waitSeconds };
    case 'set': {
      const edit = readOperatorFields(pollerId, lookup);
      if (Object.keys(edit).length === 0) {
        throw new UsageError(
          'set needs at least one field to change: --every S, --target NAME, --payload JSON, …',
        );
      }
      return { name, pollerId, edit };
    }
    case 'create': {
      if (given === undefined) throw new UsageError('create needs a poller id: ctl create ID --every S');
      const edit = readOperatorFields(given, lookup);
      if (edit.waitSeconds === undefined)
        throw new UsageError('create needs --every S (the cadence in seconds)');
      if (lookup('running') === true && lookup('stopped') === true) {
        throw new UsageError('give either --running or --stopped, not both');
      }
      return {
        name,
        pollerId: given,
        fields: { ...edit, waitSeconds: edit.waitSeconds, running: lookup('stopped') !== true },
      };
    }
    case 'delete':
      if (given === undefined) throw new UsageError('delete needs a poller id: ctl delete ID --yes');
      if (lookup('yes') !== true) {
        throw new UsageError(
          `delete removes poller '${given}' and its counters for good; repeat with --yes to confirm`,
        );
      }
      return { name, pollerId: given };
  }
}

/** `failed list` or `failed replay [--poller ID] [--yes]`. */
function buildFailedCommand(words: readonly string[], lookup: OptionLookup): Command {
  const [action, ...extra] = words;
  const expected = `expected ${FAILED_ACTIONS.map((name) => `failed ${name}`).join(' or ')}`;
  if (action === undefined) throw new UsageError(`failed needs an action: ${expected}`);
  if (action !== 'list' && action !== 'replay')
    throw new UsageError(`unknown action ${quote(action)}: ${expected}`);
  if (extra.length > 0) {
    throw new UsageError(
      `failed ${action} takes no further words; got ${extra.map(quote).join(' ')}${action === 'replay' ? ' (name a poller with --poller ID)' : ''}`,
    );
  }
  if (action === 'list') {
    const misplaced = (['poller', 'yes'] as const).filter((option) => lookup(option) !== undefined);
    if (misplaced.length > 0)
      throw new UsageError(
        `${misplaced.map((option) => `--${option}`).join(', ')} applies to failed replay, not to failed list`,
      );
    return { name: 'failed-list' };
  }
  const named = stringOption(lookup, 'poller');
  return {
    name: 'failed-replay',
    pollerId: named === undefined ? undefined : parsePollerId(named),
    yes: lookup('yes') === true,
  };
}

function parseSelection(name: string, pollerIds: readonly string[], lookup: OptionLookup): PollerSelection {
  const all = lookup('all') === true;
  if (all && pollerIds.length > 0) throw new UsageError('give either --all or poller ids, not both');
  if (all) return { kind: 'all' };
  if (pollerIds.length === 0) throw new UsageError(`${name} needs poller ids or --all`);
  return { kind: 'ids', pollerIds: [...new Set(pollerIds)] };
}

function parseSort(raw: string | undefined): ListSort {
  if (raw === undefined) return 'id';
  const sort = LIST_SORTS.find((candidate) => candidate === raw);
  if (sort === undefined)
    throw new UsageError(`--sort must be one of ${LIST_SORTS.join(', ')}; got ${quote(raw)}`);
  return sort;
}

function parseHistoryLimit(raw: string | undefined): number {
  const { min, max, defaultLimit } = HISTORY_LIMITS;
  if (raw === undefined) return defaultLimit;
  const limit = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isInteger(limit) || limit < min || limit > max) {
    throw new UsageError(`--limit must be a whole number from ${min} to ${max}; got ${quote(raw)}`);
  }
  return limit;
}

function parseWatchInterval(raw: string | undefined): number {
  const { minSeconds, maxSeconds, defaultSeconds } = WATCH_INTERVAL_LIMITS;
  if (raw === undefined) return defaultSeconds * 1000;
  const seconds = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(seconds) || seconds < minSeconds || seconds > maxSeconds) {
    throw new UsageError(
      `--interval must be a number of seconds from ${minSeconds} to ${maxSeconds}, decimals allowed; got ${quote(raw)}`,
    );
  }
  return Math.round(seconds * 1000);
}

function parseRaw(argv: readonly string[]) {
  try {
    return parseArgs({
      args: joinNegativeNumbers(argv),
      options: OPTIONS,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    if (unknown) throw new UsageError(`unknown option '${unknown[1]}' (see --help)`);
    const ambiguous = /^Option '([^']+)' argument is ambiguous/.exec(message);
    if (ambiguous) {
      throw new UsageError(
        `${ambiguous[1]} needs a value; to give one that starts with '-', write ${ambiguous[1]}=VALUE`,
      );
    }
    throw new UsageError((message.split('\n')[0] ?? message).replace(/\.$/, ''));
  }
}

/** `--every -1` reaches the value check (and its message) instead of parseArgs' "ambiguous argument". */
function joinNegativeNumbers(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const token = argv[index];
    if (token === undefined) break;
    const next = argv[index + 1];
    if (takesValue(token) && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${token}=${next}`);
      index += 1;
    } else {
      joined.push(token);
    }
  }
  return joined;
}

/** `--every`, `--poller`, …: a long option whose value is the next argument. */
function takesValue(token: string): boolean {
  if (!token.startsWith('--')) return false;
  const name = token.slice(2);
  return Object.entries(OPTIONS).some(([key, option]) => key === name && option.type === 'string');
}

function isCommandName(value: string): value is CommandName {
  return COMMAND_NAMES.some((name) => name === value);
}

function parseCommandName(positionals: readonly string[]): CommandName {
  const expected = `expected one of ${COMMAND_NAMES.join(', ')}`;
  if (positionals.length === 0) throw new UsageError(`missing command: ${expected} (see --help)`);
  const name = positionals[0] ?? '';
  if (!isCommandName(name)) throw new UsageError(`unknown command ${quote(name)}: ${expected}`);
  return name;
}

function parsePollerId(raw: string): string {
  if (!POLLER_ID_PATTERN.test(raw))
    throw new UsageError(`a poller id must be 1-64 characters of A-Z a-z 0-9 . _ -; got ${quote(raw)}`);
  return raw;
}
