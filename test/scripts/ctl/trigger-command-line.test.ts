import { describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID } from '../../../functions/shared/contract';
import { parseCommandLine, USAGE } from '../../../scripts/ctl/command-line';
import { ctl } from './ctl-harness';

describe('ctl trigger: the command line', () => {
  it('reads trigger with a poller, a payload override, a request id and --json', () => {
    const invocation = parseCommandLine([
      'trigger',
      'orders',
      '--payload',
      '{"url":"https://example.com/once"}',
      '--id',
      'deploy-42',
      '--local',
      '--json',
    ]);

    expect(invocation).toEqual({
      kind: 'run',
      command: {
        name: 'trigger',
        pollerId: 'orders',
        payload: { url: 'https://example.com/once' },
        requestId: 'deploy-42',
      },
      target: { kind: 'local', port: 8000 },
      json: true,
    });
  });

  it('defaults to the default poller, with no payload override and no request id (the CLI makes one)', () => {
    const invocation = parseCommandLine(['trigger', '--stack', 'SubMinute']);

    expect(invocation).toMatchObject({ command: { name: 'trigger', pollerId: DEFAULT_POLLER_ID } });
    expect(invocation.kind === 'run' && Object.keys(invocation.command)).toEqual(['name', 'pollerId']);
  });

  it.each([
    [['trigger', '--local', '--payload', '[1,2]'], /^ctl: --payload: .*must be a JSON object/],
    [['trigger', '--local', '--payload', '{"n":1e400}'], /^ctl: --payload: /],
    [['trigger', '--local', '--id', 'has space'], /^ctl: --id must be 1-64 characters/],
    [['trigger', '--local', '--id', 'x'.repeat(65)], /^ctl: --id must be 1-64 characters/],
    [['trigger', 'bad id!', '--local'], /^ctl: a poller id must be 1-64 characters/],
    [['trigger', 'a', 'b', '--local'], /^ctl: trigger takes one poller id/],
    [['trigger', '--local', '--every', '5'], /^ctl: --every applies to create, set, start, not to trigger/],
    [['trigger', '--local', '--no-payload'], /^ctl: --no-payload applies to create, set, not to trigger/],
    [['status', '--local', '--id', 'r1'], /^ctl: --id applies to trigger, not to status/],
  ])('refuses %j before any AWS call (exit 2)', async (argv, message) => {
    const run = await ctl(argv);

    expect(run.exitCode).toBe(2);
    expect(run.stderr.join('\n')).toMatch(message);
    expect(run.resolved).toEqual([]);
  });

  it('is in --help, with --id', () => {
    expect(USAGE).toMatch(/^ {2}trigger \[ID\] \[--payload JSON\] \[--id REQUEST\]$/m);
    expect(USAGE).toMatch(/^ {2}--id REQUEST /m);
  });
});
