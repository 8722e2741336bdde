import { type Stack, Token, Tokenization } from 'aws-cdk-lib';
import { CONTROLLER_MEMORY_SIZES_MB } from '../functions/scheduling/cost-model';
import {
  type OptionalSeedProperty,
  parseSeedProperties,
  SEED_PROPERTY,
} from '../functions/seeder/seed-properties';
import { DEFAULT_MAX_SHARDS, MAX_SHARDS_LIMIT, type OverlapPolicy } from '../functions/shared/contract';
import { InvalidControlItemError, InvalidSeedPropertyError } from '../functions/shared/errors';
import { parseTargetText } from '../functions/shared/operator-input';
import type { SeededPoller } from './constructs/control-item-seed';

/** A poller declared in code: the stack's seed writes its control item at deployment (see SubMinuteScheduler). */
export interface PollerDeclaration {
  /** The control item's `id`: 1-64 of A-Z a-z 0-9 . _ - */
  readonly id: string;
  /** Seconds between ticks, 0.1 to 3600, decimals allowed (a number, or a parameter's token). */
  readonly waitSeconds: number | string;
  /**
   * Whether the loop runs once deployed (a boolean, or a parameter's token that is 'true' or 'false').
   * @default true
   */
  readonly running?: boolean | string;
  /**
   * The function fired instead of the worker: one of `extraTargetArns` (the controller may invoke no other).
   * @default - the worker
   */
  readonly target?: string;
  /**
   * A JSON object passed to the worker as `payload` (at most 64 KB as JSON).
   * @default - none
   */
  readonly payload?: Readonly<Record<string, unknown>>;
  /**
   * The IANA time zone the window rules are read in, e.g. 'Europe/Berlin'.
   * @default 'UTC'
   */
  readonly timezone?: string;
  /**
   * Window rules, the first that matches wins, e.g. 'Mon-Fri 06:00-20:00 every 2', 'Sun 01:00-05:00 pause'.
   * @default - none: every `waitSeconds`, all week
   */
  readonly windows?: readonly string[];
  /**
   * 'skip': no fire while the previous one runs (synchronous invoke); 'allow': always fire.
   * @default 'allow'
   */
  readonly overlap?: OverlapPolicy;
}

/** Step Functions names are at most 80 characters; the loop is named `<stack name>-loop`. */
const MAX_STATE_MACHINE_NAME_LENGTH = 80;
const LOOP_NAME_SUFFIX = '-loop';

/** The fleet variant's settings (SubMinuteSchedulerProps.fleet). */
export interface FleetProps {
  /**
   * The most shards (shared controllers, one Step Functions execution each) the fleet planner lays the pollers on:
   * a whole number from 1 to MAX_SHARDS_LIMIT, or a parameter's token.
   * @default DEFAULT_MAX_SHARDS (4)
   */
  readonly maxShards?: number;
}

export { DEFAULT_MAX_SHARDS, MAX_SHARDS_LIMIT };

/** The props a SubMinuteScheduler validates (the rest are typed enough by TypeScript). */
export interface CheckedProps {
  readonly pollers?: readonly PollerDeclaration[];
  readonly controllerMemoryMb?: number;
  readonly extraTargetArns?: readonly string[];
  readonly fleet?: FleetProps;
}

/** The fleet's shard limit as the control plane's MAX_SHARDS gets it (the default when not given). */
export function maxShardsOf(fleet: FleetProps): number {
  return fleet.maxShards ?? DEFAULT_MAX_SHARDS;
}

/** Stands in for a parameter's token, so the other fields of the same poller are still checked. */
const PLACEHOLDER = { running: 'true', waitSeconds: '1', id: 'token' } as const;
const CHECK_TABLE = 'checked-at-synth';

/** The optional props of a declaration: the operator fields `ctl create` sets besides the cadence and the switch. */
type OptionalProp = Exclude<keyof PollerDeclaration, 'id' | 'waitSeconds' | 'running'>;

/** The seed property that carries each optional prop (the seeder decodes it: seed-properties.ts). */
const SEED_PROPERTY_OF: { readonly [P in OptionalProp]: OptionalSeedProperty } = {
  target: SEED_PROPERTY.target,
  payload: SEED_PROPERTY.payload,
  timezone: SEED_PROPERTY.timezone,
  windows: SEED_PROPERTY.windows,
  overlap: SEED_PROPERTY.overlap,
};
const OPTIONAL_PROPS = Object.keys(SEED_PROPERTY_OF).filter(
  (prop): prop is OptionalProp => prop in SEED_PROPERTY_OF,
);

/** The prop name each seed property comes from, for messages in the construct's own terms. */
const PROP_OF_SEED_PROPERTY: Partial<Record<string, keyof PollerDeclaration>> = {
  [SEED_PROPERTY.pollerId]: 'id',
  [SEED_PROPERTY.running]: 'running',
  [SEED_PROPERTY.waitSeconds]: 'waitSeconds',
  ...Object.fromEntries(OPTIONAL_PROPS.map((prop) => [SEED_PROPERTY_OF[prop], prop])),
};

/**
 * A poller as the seed passes it: text, as CloudFormation would. A number token (a Number parameter's
 * `valueAsNumber`) becomes a string token of the same value: `String()` would turn it into a huge literal number.
 */
export function seededPoller(poller: PollerDeclaration, stack?: Stack): SeededPoller {
  const { waitSeconds } = poller;
  const optional: Partial<Record<OptionalSeedProperty, string | readonly string[]>> = {};
  for (const prop of OPTIONAL_PROPS) {
    const value = prop === 'payload' ? payloadText(poller.payload, stack) : poller[prop];
    if (value !== undefined) optional[SEED_PROPERTY_OF[prop]] = value;
  }
  return {
    pollerId: poller.id,
    running: String(poller.running ?? true),
    waitSeconds: typeof waitSeconds === 'number' ? Tokenization.stringifyNumber(waitSeconds) : waitSeconds,
    optional,
  };
}

/** A payload as JSON text; one holding tokens is rendered by the stack, which quotes their values at deployment. */
function payloadText(payload: PollerDeclaration['payload'], stack: Stack | undefined): string | undefined {
  if (payload === undefined) return undefined;
  const text = JSON.stringify(payload);
  return Token.isUnresolved(text) && stack ? stack.toJsonString(payload) : text;
}

/**
 * Every problem of the props, each naming the prop, its value and what it must be. Pollers are checked by the very
 * decoder the seed runs at deployment (functions/seeder/seed-properties.ts), so what synthesizes also deploys.
 * Values that are tokens (parameters) are left to that decoder at deployment.
 */
export function checkSchedulerProps(props: CheckedProps, stackName: string): string[] {
  const problems: string[] = [];
  const memory = props.controllerMemoryMb;
  if (memory !== undefined && !Token.isUnresolved(memory) && !isKnownMemorySize(memory)) {
    problems.push(
      `controllerMemoryMb is ${memory}: it must be one of ${CONTROLLER_MEMORY_SIZES_MB.join(', ')} MB, the sizes the controller's cost model knows (functions/scheduling/cost-model.ts)`,
    );
  }
  const maxShards = props.fleet?.maxShards;
  if (
    maxShards !== undefined &&
    !Token.isUnresolved(maxShards) &&
    !(Number.isInteger(maxShards) && maxShards >= 1 && maxShards <= MAX_SHARDS_LIMIT)
  ) {
    problems.push(
      `fleet.maxShards is ${maxShards}: it must be a whole number from 1 to ${MAX_SHARDS_LIMIT} (shards are named s0 to s${MAX_SHARDS_LIMIT - 1}); leave it out for ${DEFAULT_MAX_SHARDS}`,
    );
  }
  if (
    !Token.isUnresolved(stackName) &&
    stackName.length + LOOP_NAME_SUFFIX.length > MAX_STATE_MACHINE_NAME_LENGTH
  ) {
    problems.push(
      `the stack name '${stackName}' has ${stackName.length} characters: the loop state machine is named '<stack name>${LOOP_NAME_SUFFIX}' and Step Functions names are at most ${MAX_STATE_MACHINE_NAME_LENGTH}; use a stack name of at most ${MAX_STATE_MACHINE_NAME_LENGTH - LOOP_NAME_SUFFIX.length} characters`,
    );
  }
  // A parameter's list (CommaDelimitedList) is one token for the whole list: its ARNs are known at deployment only.
  const targets = props.extraTargetArns ?? [];
  if (!Token.isUnresolved(targets))
    targets.forEach((arn, index) => {
      const problem = checkTargetArn(arn);
      if (problem !== undefined) problems.push(`extraTargetArns[${index}] is '${arn}': it ${problem}`);
    });
  const firstIndexOf = new Map<string, number>();
  (props.pollers ?? []).forEach((poller, index) => {
    problems.push(...checkPoller(poller, index));
    const targetProblem = checkDeclaredTarget(poller.target, targets);
    if (targetProblem !== undefined)
      problems.push(`pollers[${index}].target is '${poller.target}': ${targetProblem}`);
    if (Token.isUnresolved(poller.id)) return;
    const first = firstIndexOf.get(poller.id);
    if (first === undefined) firstIndexOf.set(poller.id, index);
    else
      problems.push(
        `pollers[${index}].id is '${poller.id}', as is pollers[${first}].id: declare each poller once`,
      );
  });
  return problems;
}

/**
 * The controller's own check of a `target` (parseTargetText), plus: an ARN, since IAM grants invoke on ARNs (a bare
 * function name would be a policy resource that matches nothing).
 */
function checkTargetArn(arn: string): string | undefined {
  if (Token.isUnresolved(arn)) return undefined;
  const target = parseTargetText('extraTargetArns', arn);
  if (target instanceof InvalidControlItemError || !arn.startsWith('arn:')) {
    return 'must be a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)';
  }
  return undefined;
}

/**
 * A declared target must be a function the controller may invoke: one of `extraTargetArns`, as written there (the
 * construct grants invoke on those ARNs and no other; it does not widen the grant on its own). A parameter's list
 * is known at deployment only.
 */
function checkDeclaredTarget(target: string | undefined, targets: readonly string[]): string | undefined {
  if (target === undefined || Token.isUnresolved(targets) || targets.includes(target)) return undefined;
  if (parseTargetText('target', target) instanceof InvalidControlItemError) return undefined; // checkPoller says so
  return `the controller may invoke only the worker and extraTargetArns (${targets.length === 0 ? 'none given' : targets.join(', ')}): add this function's ARN to extraTargetArns and name it the same way here, or leave target out to fire the worker`;
}

function isKnownMemorySize(memoryMb: number): boolean {
  return (CONTROLLER_MEMORY_SIZES_MB as readonly number[]).includes(memoryMb);
}

/** One poller, through the seed's decoder; each field in turn, so one message names one prop. */
function checkPoller(poller: PollerDeclaration, index: number): string[] {
  const text = seededPoller(poller);
  const known = (value: string, placeholder: string) => (Token.isUnresolved(value) ? placeholder : value);
  const fields = {
    [SEED_PROPERTY.tableName]: CHECK_TABLE,
    [SEED_PROPERTY.pollerId]: known(text.pollerId, PLACEHOLDER.id),
    [SEED_PROPERTY.running]: known(text.running, PLACEHOLDER.running),
    [SEED_PROPERTY.waitSeconds]: known(text.waitSeconds, PLACEHOLDER.waitSeconds),
  };
  // The optional fields as the seed passes them, each checked when declared and known at synth.
  const checked: [string, unknown][] = [
    [SEED_PROPERTY.pollerId, fields[SEED_PROPERTY.pollerId]],
    [SEED_PROPERTY.running, fields[SEED_PROPERTY.running]],
    [SEED_PROPERTY.waitSeconds, fields[SEED_PROPERTY.waitSeconds]],
    ...Object.entries(text.optional ?? {}).filter(
      ([, value]) => !Token.isUnresolved(value) && !Token.isUnresolved(JSON.stringify(value)),
    ),
  ];
  const problems: string[] = [];
  for (const [property, value] of checked) {
    try {
      // Every other property at a valid value, so the decoder's answer is about this one.
      parseSeedProperties({ ...validFields(), [property]: value }, CHECK_TABLE);
    } catch (error) {
      if (!(error instanceof InvalidSeedPropertyError)) throw error;
      const prop = PROP_OF_SEED_PROPERTY[error.field];
      if (prop === undefined) throw error;
      problems.push(`pollers[${index}].${prop} is ${describe(poller[prop])}: it ${error.expected}`);
    }
  }
  return problems;
}

function validFields(): Record<string, string> {
  return {
    [SEED_PROPERTY.tableName]: CHECK_TABLE,
    [SEED_PROPERTY.pollerId]: PLACEHOLDER.id,
    [SEED_PROPERTY.running]: PLACEHOLDER.running,
    [SEED_PROPERTY.waitSeconds]: PLACEHOLDER.waitSeconds,
  };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}
