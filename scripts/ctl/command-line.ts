import { parseArgs } from 'node:util';
import { DEFAULT_POLLER_ID, POLLER_ID_PATTERN, WAIT_SECONDS_LIMITS } from '../../functions/shared/contract';
import { parseWaitSecondsText } from '../../functions/shared/control-item';
import { InvalidControlItemError } from '../../functions/shared/errors';
import { DEFAULT_DYNAMODB_PORT } from '../local-stack/local-endpoints';
import { UsageError } from './errors';

export const COMMAND_NAMES = ['status', 'start', 'stop', 'set'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** A validated command: everything the CLI will do, decided before any AWS call. */
export type Command =
  | { readonly name: 'status'; readonly pollerId: string }
  | { readonly name: 'status-all' }
  | { readonly name: 'set'; readonly pollerId: string; readonly waitSeconds: number }
  | { readonly name: 'stop'; readonly pollerId: string }
  /** `waitSeconds` given: the item is created (or its cadence set) along with running=true. */
  | { readonly name: 'start'; readonly pollerId: string; readonly waitSeconds?: number | undefined };

/** Where the commands go, as the command line named it; `resolveTarget` turns it into tables and endpoints. */
export type TargetSpec =
  | { readonly kind: 'local'; readonly port: number }
  | { readonly kind: 'stack'; readonly stackName: string; readonly region?: string | undefined }
  | {
      readonly kind: 'table';
      readonly tableName: string;
      readonly stateMachineArn?: string | undefined;
      readonly region?: string | undefined;
    };

export type Invocation =
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly command: Command; readonly target: TargetSpec; readonly json: boolean };

export const USAGE = `Usage: npm run ctl -- <command> [--poller ID] <target> [--json]

Commands:
  status [--all]       the poller's control item and the status of its loop's execution (--all: every poller)
  start [--every S]    set running=true and start the loop, unless a loop is alive (it carries on); a loop
                       whose execution was stopped by hand or failed is replaced at once
                       (with --every: also set the cadence, creating the item if it is missing)
  stop                 set running=false; the loop ends at its next tick
  set --every S        set the cadence (waitseconds, ${WAIT_SECONDS_LIMITS.min}-${WAIT_SECONDS_LIMITS.max} s, decimals allowed) and nothing else;
                       a missing item is created with running=false

Options:
  --poller ID          the control item's id (default '${DEFAULT_POLLER_ID}')
  --json               print one JSON object instead of text
  -h, --help           print this text

Targets (exactly one):
  --stack NAME         read the outputs ControlTableName and StateMachineArn of a deployed stack
  --table NAME         name the control table directly ...
  --state-machine-arn ARN  ... and the state machine (needed by start)
  --region R           the AWS region (default: the SDK's, e.g. AWS_REGION); credentials: the standard chain
  --local              the local stack of \`npm start\`: DynamoDB on 127.0.0.1:${DEFAULT_DYNAMODB_PORT}, Step Functions on the next port
  --port N             with --local: the port given to \`npm start -- --port N\``;

const OPTIONS = {
  poller: { type: 'string' },
  every: { type: 'string' },
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  local: { type: 'boolean' },
  port: { type: 'string' },
  stack: { type: 'string' },
  table: { type: 'string' },
  'state-machine-arn': { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const STACK_NAME_PATTERN =
  /^([A-Za-z][A-Za-z0-9-]{0,127}|arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack\/.+)$/;
const TABLE_NAME_PATTERN = /^[A-Za-z0-9_.-]{3,255}$/;
const STATE_MACHINE_ARN_PATTERN =
  /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z0-9]+){2,3}$/;

const quote = (value: string) => JSON.stringify(value);

/**
 * Turns argv into a validated invocation. Pure: every refusal is a UsageError thrown here, before anything is
 * read or written.
 */
export function parseCommandLine(argv: readonly string[]): Invocation {
  const { values, positionals } = parseRaw(argv);
  if (values.help) return { kind: 'help' };

  const name = parseCommandName(positionals);
  const pollerId = parsePollerId(values.poller);
  const waitSeconds = values.every === undefined ? undefined : parseEvery(pollerId, values.every);
  if (values.all && name !== 'status') throw new UsageError(`--all applies to status, not to ${name}`);
  if (values.all && values.poller !== undefined)
    throw new UsageError('give either --all or --poller ID, not both');
  const command: Command = values.all
    ? buildStatusAll(waitSeconds)
    : buildCommand(name, pollerId, waitSeconds);
  const target = parseTarget(values);
  if (name === 'start' && target.kind === 'table' && target.stateMachineArn === undefined) {
    throw new UsageError('start with --table needs --state-machine-arn ARN (or use --stack NAME)');
  }
  return { kind: 'run', command, target, json: values.json === true };
}

function buildStatusAll(waitSeconds: number | undefined): Command {
  if (waitSeconds !== undefined) throw new UsageError('--every applies to set and start, not to status');
  return { name: 'status-all' };
}

function buildCommand(name: CommandName, pollerId: string, waitSeconds: number | undefined): Command {
  switch (name) {
    case 'set':
      if (waitSeconds === undefined) throw new UsageError('set needs --every S (the new cadence in seconds)');
      return { name, pollerId, waitSeconds };
    case 'start':
      return { name, pollerId, waitSeconds };
    case 'status':
    case 'stop':
      if (waitSeconds !== undefined) throw new UsageError(`--every applies to set and start, not to ${name}`);
      return { name, pollerId };
  }
}

type RawValues = ReturnType<typeof parseRaw>['values'];

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
  if (positionals.length > 1)
    throw new UsageError(`one command at a time: got ${positionals.map(quote).join(' ')}`);
  const name = positionals[0] ?? '';
  if (!isCommandName(name)) throw new UsageError(`unknown command ${quote(name)}: ${expected}`);
  return name;
}

function parsePollerId(raw: string | undefined): string {
  if (raw === undefined) return DEFAULT_POLLER_ID;
  if (!POLLER_ID_PATTERN.test(raw))
    throw new UsageError(`--poller must be 1-64 characters of A-Z a-z 0-9 . _ -; got ${quote(raw)}`);
  return raw;
}

/** The controller's own check, so the CLI accepts exactly what the loop will. */
function parseEvery(pollerId: string, raw: string): number {
  const checked = parseWaitSecondsText(pollerId, raw);
  if (checked instanceof InvalidControlItemError) throw new UsageError(`--every: ${checked.message}`);
  return Number(raw);
}

function parseTarget(values: RawValues): TargetSpec {
  const stateMachineArn = values['state-machine-arn'];
  if (values.local) {
    const conflicting = (['stack', 'table', 'state-machine-arn', 'region'] as const).filter(
      (flag) => values[flag] !== undefined,
    );
    if (conflicting.length > 0) {
      throw new UsageError(
        `--local cannot be combined with ${conflicting.map((flag) => `--${flag}`).join(', ')}`,
      );
    }
    return { kind: 'local', port: parsePort(values.port) };
  }
  if (values.port !== undefined) throw new UsageError('--port applies only with --local');
  const region =
    values.region === undefined
      ? undefined
      : check('region', values.region, REGION_PATTERN, 'an AWS region such as eu-west-1');

  if (values.stack !== undefined) {
    if (values.table !== undefined || stateMachineArn !== undefined) {
      throw new UsageError(
        '--stack reads the table and state machine from its outputs: drop --table / --state-machine-arn, or drop --stack',
      );
    }
    return {
      kind: 'stack',
      stackName: check('stack', values.stack, STACK_NAME_PATTERN, 'a CloudFormation stack name or ARN'),
      region,
    };
  }
  if (values.table !== undefined) {
    return {
      kind: 'table',
      tableName: check(
        'table',
        values.table,
        TABLE_NAME_PATTERN,
        'a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)',
      ),
      stateMachineArn:
        stateMachineArn === undefined
          ? undefined
          : check(
              'state-machine-arn',
              stateMachineArn,
              STATE_MACHINE_ARN_PATTERN,
              'a state machine ARN (arn:aws:states:…:stateMachine:NAME)',
            ),
      region,
    };
  }
  if (stateMachineArn !== undefined) throw new UsageError('--state-machine-arn needs --table NAME');
  throw new UsageError('no target: give --stack NAME, --table NAME [--state-machine-arn ARN], or --local');
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_DYNAMODB_PORT;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65_534) {
    throw new UsageError(
      `--port must be a whole number from 1 to 65534 (the Step Functions port is the next one); got ${quote(raw)}`,
    );
  }
  return port;
}

function check(flag: string, raw: string, pattern: RegExp, expected: string): string {
  if (!pattern.test(raw)) throw new UsageError(`--${flag} must be ${expected}; got ${quote(raw)}`);
  return raw;
}
