import { describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID } from '../../../functions/shared/contract';
import { parseCommandLine, USAGE } from '../../../scripts/ctl/command-line';
import { refusal } from './command-line-probes';
import { ctl } from './ctl-harness';

describe('parseCommandLine: what it accepts', () => {
  it('reads status on the local stack for the default poller', () => {
    const invocation = parseCommandLine(['--local', 'status']);

    expect(invocation).toEqual({
      kind: 'run',
      command: { name: 'status', pollerId: DEFAULT_POLLER_ID },
      target: { kind: 'local', port: 8000 },
      json: false,
    });
  });

  it('reads set with a decimal cadence, a poller, a stack and a region', () => {
    const invocation = parseCommandLine([
      'set',
      '--every',
      '2.5',
      '--poller',
      'orders',
      '--stack',
      'SubMinute',
      '--region',
      'eu-west-1',
    ]);

    expect(invocation).toEqual({
      kind: 'run',
      command: { name: 'set', pollerId: 'orders', edit: { waitSeconds: 2.5 } },
      target: { kind: 'stack', stackName: 'SubMinute', region: 'eu-west-1' },
      json: false,
    });
  });

  it('reads start with a table, a state machine ARN, --every and --json', () => {
    const arn = 'arn:aws:states:us-east-1:123456789012:stateMachine:loop';

    const invocation = parseCommandLine([
      'start',
      '--table',
      'control',
      '--state-machine-arn',
      arn,
      '--every',
      '10',
      '--json',
    ]);

    expect(invocation).toEqual({
      kind: 'run',
      command: { name: 'start', pollerId: DEFAULT_POLLER_ID, waitSeconds: 10 },
      target: { kind: 'table', tableName: 'control', stateMachineArn: arn, region: undefined },
      json: true,
    });
  });

  it('reads --port for the local stack', () => {
    const invocation = parseCommandLine(['stop', '--local', '--port', '9100']);

    expect(invocation).toMatchObject({ target: { kind: 'local', port: 9100 } });
  });

  it('asks for help with --help or -h, even without a command', () => {
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['status', '-h'])).toEqual({ kind: 'help' });
  });
});

describe('parseCommandLine: status --all', () => {
  it('reads status --all as a report of every poller', () => {
    expect(parseCommandLine(['status', '--all', '--local'])).toMatchObject({
      command: { name: 'status-all' },
    });
  });

  it.each([
    [['stop', '--all', '--local'], /^--all applies to status, pause, resume, not to stop$/],
    [['status', '--all', '--poller', 'orders', '--local'], /^give either --all or a poller id, not both$/],
  ])('refuses %j', (argv, expected) => {
    expect(refusal(argv)).toMatch(expected);
  });
});

describe('parseCommandLine: what it refuses', () => {
  it.each([
    [
      [],
      /^missing command: expected one of list, watch, status, history, create, set, delete, start, stop, pause, resume/,
    ],
    [['--local'], /^missing command/],
    [
      ['restart', '--local'],
      /^unknown command "restart": expected one of list, watch, status, history, create, set, delete, start, stop, pause, resume, failed, trigger$/,
    ],
    [
      ['status', 'stop', '--local'],
      /^one command at a time: got "status" "stop" \(a poller named like a command: --poller stop\)$/,
    ],
    [['status', '--local', '--verbose'], /^unknown option '--verbose' \(see --help\)$/],
    [['status', '--local', '--poller'], /^Option '--poller <value>' argument missing$/],
    [
      ['status', '--poller', '--local'],
      /^--poller needs a value; to give one that starts with '-', write --poller=VALUE$/,
    ],
    [['status', '--local', '--json=yes'], /^Option '--json' does not take an argument$/],
  ])('refuses %j', (argv, expected) => {
    expect(refusal(argv)).toMatch(expected);
  });

  it.each(['abc', '0', '-1', 'NaN', '3601', '0.05', '', 'Infinity'])(
    'refuses --every %j with the controller’s own message',
    (raw) => {
      const message = refusal(['set', '--every', raw, '--local']);

      expect(message).toBe(
        `--every: poller 'default': waitseconds must be a number (N) of seconds from 0.1 to 3600, decimals allowed; got N ${JSON.stringify(raw)}`,
      );
    },
  );

  it('accepts the bounds of --every themselves', () => {
    expect(parseCommandLine(['set', '--every', '0.1', '--local'])).toMatchObject({
      command: { edit: { waitSeconds: 0.1 } },
    });
    expect(parseCommandLine(['set', '--every', '3600', '--local'])).toMatchObject({
      command: { edit: { waitSeconds: 3600 } },
    });
  });

  it.each(['allow', 'skip'] as const)('reads --overlap %s into the edit', (policy) => {
    expect(parseCommandLine(['set', '--overlap', policy, '--local'])).toMatchObject({
      command: { edit: { overlap: policy } },
    });
  });

  it('refuses --overlap sometimes with the controller’s own message', () => {
    expect(refusal(['set', '--overlap', 'sometimes', '--local'])).toBe(
      `--overlap: poller 'default': overlap must be one of allow, skip (S), or absent for allow; got S "sometimes"`,
    );
  });

  it('refuses set without a field to change', () => {
    expect(refusal(['set', '--local'])).toBe(
      'set needs at least one field to change: --every S, --target NAME, --payload JSON, …',
    );
  });

  it.each(['status', 'stop'])('refuses --every on %s', (name) => {
    expect(refusal([name, '--every', '5', '--local'])).toBe(
      `--every applies to create, set, start, not to ${name}`,
    );
  });

  it.each(['', 'has space', 'x'.repeat(65), 'a/b', 'ünï'])('refuses --poller %j', (raw) => {
    expect(refusal(['status', '--poller', raw, '--local'])).toBe(
      `a poller id must be 1-64 characters of A-Z a-z 0-9 . _ -; got ${JSON.stringify(raw)}`,
    );
  });

  it('refuses a command without a target', () => {
    expect(refusal(['status'])).toBe(
      'no target: give --stack NAME, --table NAME [--state-machine-arn ARN], or --local',
    );
  });

  it('refuses --local together with AWS target flags', () => {
    expect(refusal(['status', '--local', '--stack', 'S', '--region', 'eu-west-1'])).toBe(
      '--local cannot be combined with --stack, --region',
    );
  });

  it('refuses --port without --local', () => {
    expect(refusal(['status', '--stack', 'S', '--port', '8000'])).toBe('--port applies only with --local');
  });

  it.each(['0', '65535', '80.5', 'http', '-1'])('refuses --port %j', (raw) => {
    expect(refusal(['status', '--local', '--port', raw])).toMatch(
      /^--port must be a whole number from 1 to 65534 .*; got "/,
    );
  });

  it('refuses --stack together with --table', () => {
    expect(refusal(['status', '--stack', 'S', '--table', 'control'])).toMatch(
      /^--stack reads the table and state machine from its outputs/,
    );
  });

  it('refuses --state-machine-arn without --table', () => {
    const arn = 'arn:aws:states:us-east-1:123456789012:stateMachine:loop';

    expect(refusal(['status', '--state-machine-arn', arn])).toBe('--state-machine-arn needs --table NAME');
  });

  it('refuses start with --table but no state machine to start', () => {
    expect(refusal(['start', '--table', 'control'])).toBe(
      'start with --table needs --state-machine-arn ARN to start loops (or use --stack NAME)',
    );
  });

  it.each([
    [['status', '--stack', '1stack'], /^--stack must be a CloudFormation stack name or ARN; got "1stack"$/],
    [['status', '--table', 'ab'], /^--table must be a DynamoDB table name .*; got "ab"$/],
    [
      ['status', '--table', 'control', '--state-machine-arn', 'loop'],
      /^--state-machine-arn must be a state machine ARN .*; got "loop"$/,
    ],
    [
      ['status', '--stack', 'S', '--region', 'Europe'],
      /^--region must be an AWS region such as eu-west-1; got "Europe"$/,
    ],
  ])('refuses a malformed target value in %j', (argv, expected) => {
    expect(refusal(argv)).toMatch(expected);
  });
});

describe('runCtl with a bad command line', () => {
  it('exits 2 with one stderr line and resolves no target (no AWS call)', async () => {
    const run = await ctl(['set', '--every', 'abc', '--local']);

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toEqual([
      `ctl: --every: poller 'default': waitseconds must be a number (N) of seconds from 0.1 to 3600, decimals allowed; got N "abc"`,
    ]);
    expect(run.stdout).toEqual([]);
    expect(run.resolved).toEqual([]);
  });

  it('prints the usage on --help and exits 0', async () => {
    const run = await ctl(['--help']);

    expect(run).toMatchObject({ exitCode: 0, stdout: [USAGE], stderr: [] });
  });
});
