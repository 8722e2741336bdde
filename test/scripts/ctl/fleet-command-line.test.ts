import { describe, expect, it } from 'vitest';
import type { Command } from '../../../scripts/ctl/command-line';
import { commandOf, refusal } from './command-line-probes';

const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:loop';

describe('parseCommandLine: the fleet commands it accepts', () => {
  it.each<[string[], Command]>([
    [['list', '--local'], { name: 'list', sort: 'id' }],
    [['list', '--sort', 'next', '--local'], { name: 'list', sort: 'next' }],
    [['list', '--sort', 'state', '--local', '--json'], { name: 'list', sort: 'state' }],
    [['watch', '--local'], { name: 'watch', sort: 'id', intervalMs: 2_000, once: false }],
    [
      ['watch', '--sort', 'state', '--interval', '0.5', '--once', '--local'],
      { name: 'watch', sort: 'state', intervalMs: 500, once: true },
    ],
    [
      ['watch', '--interval', '60', '--local', '--json'],
      { name: 'watch', sort: 'id', intervalMs: 60_000, once: false },
    ],
    [
      ['watch', '--interval', '1.25', '--local'],
      { name: 'watch', sort: 'id', intervalMs: 1_250, once: false },
    ],
    [
      ['create', 'orders', '--every', '5', '--local'],
      { name: 'create', pollerId: 'orders', fields: { waitSeconds: 5, running: true } },
    ],
    [
      [
        'create',
        'orders',
        '--every',
        '0.25',
        '--stopped',
        '--target',
        'my-fn',
        '--payload',
        '{"a":[1,"x"]}',
        '--local',
      ],
      {
        name: 'create',
        pollerId: 'orders',
        fields: { waitSeconds: 0.25, running: false, target: 'my-fn', payload: { a: [1, 'x'] } },
      },
    ],
    [
      ['create', '--poller', 'orders', '--every', '1', '--running', '--local'],
      { name: 'create', pollerId: 'orders', fields: { waitSeconds: 1, running: true } },
    ],
    [
      ['set', 'orders', '--every', '2.5', '--local'],
      { name: 'set', pollerId: 'orders', edit: { waitSeconds: 2.5 } },
    ],
    [
      ['set', 'orders', '--default-target', '--no-payload', '--local'],
      { name: 'set', pollerId: 'orders', edit: { target: null, payload: null } },
    ],
    [
      ['set', 'orders', '--target', `arn:aws:lambda:eu-west-1:123456789012:function:fn:live`, '--local'],
      {
        name: 'set',
        pollerId: 'orders',
        edit: { target: 'arn:aws:lambda:eu-west-1:123456789012:function:fn:live' },
      },
    ],
    [['set', '--every', '3', '--local'], { name: 'set', pollerId: 'default', edit: { waitSeconds: 3 } }],
    [
      [
        'create',
        'feed',
        '--every',
        '30',
        '--timezone',
        'America/New_York',
        '--window',
        'Mon-Fri 06:00-20:00 every 2',
        '--window',
        ' Sun 01:00-05:00 pause ',
        '--local',
      ],
      {
        name: 'create',
        pollerId: 'feed',
        fields: {
          waitSeconds: 30,
          running: true,
          timeZone: 'America/New_York',
          windows: ['Mon-Fri 06:00-20:00 every 2', 'Sun 01:00-05:00 pause'],
        },
      },
    ],
    [
      ['set', 'feed', '--utc', '--no-windows', '--local'],
      { name: 'set', pollerId: 'feed', edit: { timeZone: null, windows: null } },
    ],
    [
      ['set', 'feed', '--timezone', 'UTC', '--window', 'daily 00:00-24:00 every 5', '--local'],
      { name: 'set', pollerId: 'feed', edit: { timeZone: null, windows: ['daily 00:00-24:00 every 5'] } },
    ],
    [['delete', 'orders', '--yes', '--local'], { name: 'delete', pollerId: 'orders' }],
    [['pause', 'a', 'b', 'a', '--local'], { name: 'pause', pollers: { kind: 'ids', pollerIds: ['a', 'b'] } }],
    [['pause', '--all', '--local'], { name: 'pause', pollers: { kind: 'all' } }],
    [['resume', '--all', '--local'], { name: 'resume', pollers: { kind: 'all' } }],
    [['status', 'orders', '--local'], { name: 'status', pollerId: 'orders' }],
    [['stop', 'orders', '--local'], { name: 'stop', pollerId: 'orders' }],
    [['start', 'orders', '--every', '4', '--local'], { name: 'start', pollerId: 'orders', waitSeconds: 4 }],
  ])('reads %j', (argv, command) => {
    expect(commandOf(argv)).toEqual(command);
  });

  it('reads create --stopped with --table and no state machine: nothing is started', () => {
    expect(commandOf(['create', 'orders', '--every', '5', '--stopped', '--table', 'control'])).toMatchObject({
      fields: { running: false },
    });
  });

  it('reads resume with --table and a state machine ARN', () => {
    expect(commandOf(['resume', '--all', '--table', 'control', '--state-machine-arn', ARN])).toEqual({
      name: 'resume',
      pollers: { kind: 'all' },
    });
  });
});

describe('parseCommandLine: the fleet command lines it refuses, before any call', () => {
  it.each<[string[], string | RegExp]>([
    [['list', 'orders', '--local'], 'list takes no poller id: it lists every poller'],
    [
      [
        'set',
        'feed',
        '--window',
        'Mon-Fri 06:00-20:00 every 2',
        '--window',
        'Mon-Fri 06:00-20:00 every 0',
        '--local',
      ],
      /^--window: poller 'feed': windows\[1\] "Mon-Fri 06:00-20:00 every 0": .*got "0"$/,
    ],
    [
      ['set', 'feed', '--window', 'Funday 06:00-20:00 every 2', '--local'],
      /^--window: .*"Funday 06:00-20:00 every 2".*Funday/,
    ],
    [
      ['set', 'feed', '--timezone', 'Mars/Olympus', '--local'],
      /^--timezone: poller 'feed': timezone .*Mars\/Olympus/,
    ],
    [
      ['set', 'feed', '--timezone', 'Europe/Berlin', '--utc', '--local'],
      'give either --timezone or --utc, not both',
    ],
    [
      ['set', 'feed', '--window', 'daily 01:00-02:00 pause', '--no-windows', '--local'],
      'give either --window or --no-windows, not both',
    ],
    [
      ['start', 'feed', '--window', 'daily 01:00-02:00 pause', '--local'],
      '--window applies to create, set, not to start',
    ],
    [['list', '--sort', 'age', '--local'], '--sort must be one of id, next, last, state; got "age"'],
    [['status', '--sort', 'id', '--local'], '--sort applies to list, watch, not to status'],
    [['watch', 'orders', '--local'], 'watch takes no poller id: it shows every poller'],
    [['watch', '--sort', 'age', '--local'], '--sort must be one of id, next, last, state; got "age"'],
    ...['0.4', '61', '0', '-1', 'abc', '', 'Infinity', 'NaN'].map((raw): [string[], string] => [
      ['watch', '--interval', raw, '--local'],
      `--interval must be a number of seconds from 0.5 to 60, decimals allowed; got ${JSON.stringify(raw)}`,
    ]),
    [['list', '--interval', '2', '--local'], '--interval applies to watch, not to list'],
    [['list', '--once', '--local'], '--once applies to watch, not to list'],
    [['create', '--every', '5', '--local'], 'create needs a poller id: ctl create ID --every S'],
    [['create', 'orders', '--local'], 'create needs --every S (the cadence in seconds)'],
    [['create', 'a', 'b', '--every', '5', '--local'], 'create takes one poller id; got "a" "b"'],
    [
      ['create', 'orders', '--every', '5', '--running', '--stopped', '--local'],
      'give either --running or --stopped, not both',
    ],
    [
      ['create', 'orders', '--every', '5', '--table', 'control'],
      /^create with --table needs --state-machine-arn ARN to start loops \(or use --stack NAME, or create it --stopped\)$/,
    ],
    [
      ['create', 'bad id', '--every', '5', '--local'],
      'a poller id must be 1-64 characters of A-Z a-z 0-9 . _ -; got "bad id"',
    ],
    [
      ['create', 'orders', '--poller', 'orders', '--every', '5', '--local'],
      'give the poller id once: "orders" or --poller orders, not both',
    ],
    [
      ['create', 'orders', '--every', '0', '--local'],
      `--every: poller 'orders': waitseconds must be a number (N) of seconds from 0.1 to 3600, decimals allowed; got N "0"`,
    ],
    [
      ['create', 'orders', '--every', '5', '--target', 'no such/fn', '--local'],
      `--target: poller 'orders': target must be a Lambda function name or ARN (S), or absent for the default worker; got S "no such/fn"`,
    ],
    [
      ['set', 'orders', '--target', '', '--local'],
      /^--target: poller 'orders': target must be a Lambda function name/,
    ],
    [
      ['set', 'orders', '--payload', '{oops', '--local'],
      /^--payload: poller 'orders': payload must be a JSON object, e\.g\. .*; got "\{oops"$/,
    ],
    [
      ['set', 'orders', '--payload', '[1,2]', '--local'],
      /^--payload: poller 'orders': payload must be a JSON object \(a map\), not a list or a scalar; got "\[1,2\]"$/,
    ],
    [
      ['set', 'orders', '--payload', '{"big":1e200}', '--local'],
      /^--payload: .*holds the number 1e\+200, outside what DynamoDB stores/,
    ],
    [
      ['set', 'orders', '--payload', JSON.stringify({ text: 'x'.repeat(70_000) }), '--local'],
      /^--payload: poller 'orders': payload must be at most 65536 bytes as JSON; got a map of 70011 bytes$/,
    ],
    [
      ['set', 'orders', '--target', 'fn', '--default-target', '--local'],
      'give either --target or --default-target, not both',
    ],
    [
      ['set', 'orders', '--payload', '{}', '--no-payload', '--local'],
      'give either --payload or --no-payload, not both',
    ],
    [['set', 'orders', '--running', '--local'], '--running applies to create, not to set'],
    [['start', 'orders', '--target', 'fn', '--local'], '--target applies to create, set, not to start'],
    [
      ['delete', 'orders', '--local'],
      "delete removes poller 'orders' and its counters for good; repeat with --yes to confirm",
    ],
    [['delete', '--yes', '--local'], 'delete needs a poller id: ctl delete ID --yes'],
    [['stop', 'orders', '--yes', '--local'], '--yes applies to delete, failed replay, not to stop'],
    [['pause', '--local'], 'pause needs poller ids or --all'],
    [['resume', 'a', '--all', '--local'], 'give either --all or poller ids, not both'],
    [
      ['pause', '--poller', 'a', '--local'],
      '--poller applies to status, history, create, set, delete, start, stop, failed replay, trigger, not to pause',
    ],
    [
      ['resume', '--all', '--table', 'control'],
      'resume with --table needs --state-machine-arn ARN to start loops (or use --stack NAME)',
    ],
  ])('refuses %j', (argv, expected) => {
    if (typeof expected === 'string') expect(refusal(argv)).toBe(expected);
    else expect(refusal(argv)).toMatch(expected);
  });
});
