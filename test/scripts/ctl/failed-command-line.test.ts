import { describe, expect, it } from 'vitest';
import { parseCommandLine, USAGE } from '../../../scripts/ctl/command-line';
import { refusal } from './command-line-probes';

describe('parseCommandLine: ctl failed', () => {
  it('reads failed list on the local stack', () => {
    expect(parseCommandLine(['failed', 'list', '--local'])).toEqual({
      kind: 'run',
      command: { name: 'failed-list' },
      target: { kind: 'local', port: 8000 },
      json: false,
    });
  });

  it('reads failed replay for one poller, confirmed, on a stack', () => {
    expect(
      parseCommandLine(['failed', 'replay', '--poller', 'feed', '--yes', '--stack', 'SubMinute']),
    ).toMatchObject({
      command: { name: 'failed-replay', pollerId: 'feed', yes: true },
      target: { kind: 'stack', stackName: 'SubMinute' },
    });
  });

  it('reads failed replay without a poller as every poller, unconfirmed', () => {
    expect(parseCommandLine(['failed', 'replay', '--local', '--json'])).toMatchObject({
      command: { name: 'failed-replay', pollerId: undefined, yes: false },
      json: true,
    });
  });

  it.each([
    [['failed', '--local'], /^failed needs an action: expected failed list or failed replay$/],
    [['failed', 'purge', '--local'], /^unknown action "purge": expected failed list or failed replay$/],
    [
      ['failed', 'replay', 'feed', '--local'],
      /^failed replay takes no further words; got "feed" \(name a poller with --poller ID\)$/,
    ],
    [['failed', 'list', '--yes', '--local'], /^--yes applies to failed replay, not to failed list$/],
    [['failed', 'replay', '--poller', 'a/b', '--local'], /^a poller id must be 1-64 characters/],
    [['failed', 'list', '--table', 'control'], /^ctl failed needs --stack NAME .* or --local/],
    [['failed', 'list', '--every', '5', '--local'], /^--every applies to create, set, start, not to failed$/],
  ])('refuses %j', (argv, expected) => {
    expect(refusal(argv)).toMatch(expected);
  });

  it('documents both actions in --help', () => {
    expect(USAGE).toMatch(/failed list/);
    expect(USAGE).toMatch(/failed replay \[--poller ID\] \[--yes\]/);
  });
});
