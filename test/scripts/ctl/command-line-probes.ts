import { type Command, parseCommandLine } from '../../../scripts/ctl/command-line';
import { UsageError } from '../../../scripts/ctl/errors';

/** The UsageError message a command line is refused with; fails the test if it is accepted. */
export function refusal(argv: readonly string[]): string {
  try {
    parseCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(argv)}`);
}

/** The command a command line runs; fails the test if it asks for help instead. */
export function commandOf(argv: readonly string[]): Command {
  const invocation = parseCommandLine(argv);
  if (invocation.kind !== 'run') throw new Error(`no command in ${JSON.stringify(argv)}`);
  return invocation.command;
}
