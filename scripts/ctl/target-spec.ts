import { DEFAULT_DYNAMODB_PORT } from '../local-stack/local-endpoints';
import { UsageError } from './errors';
import { type OptionLookup, stringOption } from './operator-fields';

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

const STACK_NAME_PATTERN =
  /^([A-Za-z][A-Za-z0-9-]{0,127}|arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack\/.+)$/;
const TABLE_NAME_PATTERN = /^[A-Za-z0-9_.-]{3,255}$/;
const STATE_MACHINE_ARN_PATTERN =
  /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z0-9]+){2,3}$/;

const quote = (value: string) => JSON.stringify(value);

/** The target options (exactly one of --local, --stack, --table), checked; refusals are UsageErrors. */
export function parseTargetSpec(lookup: OptionLookup): TargetSpec {
  const stateMachineArn = stringOption(lookup, 'state-machine-arn');
  const stack = stringOption(lookup, 'stack');
  const table = stringOption(lookup, 'table');
  const port = stringOption(lookup, 'port');
  const regionText = stringOption(lookup, 'region');
  if (lookup('local') === true) {
    const conflicting = (['stack', 'table', 'state-machine-arn', 'region'] as const).filter(
      (flag) => lookup(flag) !== undefined,
    );
    if (conflicting.length > 0) {
      throw new UsageError(
        `--local cannot be combined with ${conflicting.map((flag) => `--${flag}`).join(', ')}`,
      );
    }
    return { kind: 'local', port: parsePort(port) };
  }
  if (port !== undefined) throw new UsageError('--port applies only with --local');
  const region =
    regionText === undefined
      ? undefined
      : check('region', regionText, REGION_PATTERN, 'an AWS region such as eu-west-1');

  if (stack !== undefined) {
    if (table !== undefined || stateMachineArn !== undefined) {
      throw new UsageError(
        '--stack reads the table and state machine from its outputs: drop --table / --state-machine-arn, or drop --stack',
      );
    }
    return {
      kind: 'stack',
      stackName: check('stack', stack, STACK_NAME_PATTERN, 'a CloudFormation stack name or ARN'),
      region,
    };
  }
  if (table !== undefined) {
    return {
      kind: 'table',
      tableName: check(
        'table',
        table,
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
