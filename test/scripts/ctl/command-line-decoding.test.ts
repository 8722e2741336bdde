import { describe, expect, it } from 'vitest';
import { refusal } from './command-line-probes';

describe('parseCommandLine: each option missing its value or given one of the wrong kind', () => {
  it.each(['--poller', '--every', '--port', '--stack', '--table', '--state-machine-arn', '--region'])(
    'refuses %s at the end of the line, without its value',
    (option) => {
      expect(refusal(['set', '--local', option])).toMatch(
        new RegExp(`^Option '${option} <value>' argument missing$`),
      );
    },
  );

  it.each(['--json', '--all', '--local'])('refuses a value given to the flag %s', (flag) => {
    expect(refusal(['status', '--local', `${flag}=yes`])).toMatch(
      new RegExp(`^Option '${flag}' does not take an argument$`),
    );
  });

  it.each([
    { argv: ['set', '--local', '--every', '-1'], message: /^--every: .*got N "-1"$/ },
    { argv: ['set', '--local', '--every', '-.5'], message: /^--every: .*got N "-\.5"$/ },
    { argv: ['status', '--local', '--port', '-5'], message: /^--port must be a whole number .*got "-5"$/ },
  ])('reads a negative number after $argv.2 as its value, and refuses it by value', ({ argv, message }) => {
    expect(refusal(argv)).toMatch(message);
  });

  it('does not take a negative number after a flag as the flag’s value', () => {
    expect(refusal(['status', '--local', '--json', '-1'])).toBe("unknown option '-1' (see --help)");
  });

  it.each([
    { label: 'a command name that is a prototype key', argv: ['constructor', '--local'] },
    { label: 'an empty command', argv: ['', '--local'] },
  ])('refuses $label as an unknown command', ({ argv }) => {
    expect(refusal(argv)).toMatch(/^unknown command /);
  });
});
