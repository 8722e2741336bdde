import { type Command, parseCommandLine, USAGE } from './command-line';
import { create } from './commands/create';
import { deletePoller } from './commands/delete';
import { list } from './commands/list';
import { set } from './commands/set';
import { start } from './commands/start';
import { status, statusAll } from './commands/status';
import { stop } from './commands/stop';
import { switchMany } from './commands/switch-many';
import { errorLine, exitCodeFor } from './errors';
import { type CommandResult, exitCodeOf, formatResult } from './format';
import { type CtlSession, openSession } from './session';
import { type ResolvedTarget, resolveTarget } from './target';
import type { TargetSpec } from './target-spec';

export interface CtlIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Replaces target resolution (tests point the CLI at a local stack on ephemeral ports). */
  readonly resolveTarget?: (spec: TargetSpec) => Promise<ResolvedTarget>;
  readonly nowMs?: () => number;
}

/** The whole CLI: parse, resolve the target, run one command, print. Never throws; returns the exit code. */
export async function runCtl(argv: readonly string[], io: CtlIo): Promise<number> {
  try {
    const invocation = parseCommandLine(argv);
    if (invocation.kind === 'help') {
      io.stdout(USAGE);
      return 0;
    }
    const target = await (io.resolveTarget ?? resolveTarget)(invocation.target);
    const session = openSession(target, io.nowMs);
    try {
      const result = await execute(session, invocation.command);
      io.stdout(formatResult(result, invocation.json));
      return exitCodeOf(result);
    } finally {
      session.close();
    }
  } catch (error) {
    io.stderr(errorLine(error));
    return exitCodeFor(error);
  }
}

export function execute(session: CtlSession, command: Command): Promise<CommandResult> {
  switch (command.name) {
    case 'list':
      return list(session, command.sort);
    case 'status':
      return status(session, command.pollerId);
    case 'status-all':
      return statusAll(session);
    case 'create':
      return create(session, command.pollerId, command.fields);
    case 'set':
      return set(session, command.pollerId, command.edit);
    case 'delete':
      return deletePoller(session, command.pollerId);
    case 'stop':
      return stop(session, command.pollerId);
    case 'start':
      return start(session, command.pollerId, command.waitSeconds);
    case 'pause':
    case 'resume':
      return switchMany(session, command.name, command.pollers);
  }
}
