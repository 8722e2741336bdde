import { setTimeout as abortableTimeout } from 'node:timers/promises';
import { type Command, parseCommandLine, USAGE } from './command-line';
import { create } from './commands/create';
import { deletePoller } from './commands/delete';
import { failedList, failedReplay } from './commands/failed';
import { history } from './commands/history';
import { list } from './commands/list';
import { set } from './commands/set';
import { start } from './commands/start';
import { status, statusAll } from './commands/status';
import { stop } from './commands/stop';
import { switchMany } from './commands/switch-many';
import { trigger } from './commands/trigger';
import { type AbortableSleep, type WatchFrame, watch } from './commands/watch';
import { errorLine, exitCodeFor } from './errors';
import { type CommandResult, exitCodeOf, formatResult } from './format';
import { ANSI, formatWatchFrame, watchFrameJson } from './format-watch';
import { type CtlSession, openSession } from './session';
import { type ResolvedTarget, resolveTarget } from './target';
import type { TargetSpec } from './target-spec';

export interface CtlIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Replaces target resolution (tests point the CLI at a local stack on ephemeral ports). */
  readonly resolveTarget?: (spec: TargetSpec) => Promise<ResolvedTarget>;
  readonly nowMs?: () => number;
  /** Set when stdout is a terminal: writes text as it is (no newline added), for `watch` to redraw in place. */
  readonly terminal?: (text: string) => void;
  /**
   * A signal that aborts on Ctrl-C (SIGINT). Only `watch` asks for it, so every other command keeps Ctrl-C's
   * default (the process ends at once). Without it, `watch` runs until `--once` ends it.
   */
  readonly interrupt?: () => AbortSignal;
  /** Replaces the timers between `watch` refreshes (tests run them on a simulated clock). */
  readonly sleep?: AbortableSleep;
}

const systemSleep: AbortableSleep = (ms, signal) => abortableTimeout(Math.max(0, ms), undefined, { signal });

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
      if (invocation.command.name === 'watch')
        return await runWatch(session, invocation.command, invocation.json, io);
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

/**
 * `watch`: frames in place on a terminal, one block (or one JSON line) per refresh otherwise. Ctrl-C ends it with
 * exit 0 and the cursor shown again; `--once` exits 1 when its one read failed, so scripts notice.
 */
async function runWatch(
  session: CtlSession,
  command: Extract<Command, { name: 'watch' }>,
  json: boolean,
  io: CtlIo,
): Promise<number> {
  const screen = json || command.once ? undefined : io.terminal;
  const signal = io.interrupt?.() ?? new AbortController().signal;
  let shown = 0;
  const show = (frame: WatchFrame) => {
    if (json) io.stdout(watchFrameJson(frame));
    else if (screen) screen(formatWatchFrame(frame, 'screen'));
    // A blank line between frames, so a log reads as blocks each under its own header.
    else io.stdout(`${shown > 0 ? '\n' : ''}${formatWatchFrame(frame, 'log')}`);
    shown += 1;
  };
  screen?.(ANSI.hideCursor);
  try {
    const summary = await watch(session, command, io.sleep ?? systemSleep, signal, show);
    return command.once && summary.lastReadFailed ? 1 : 0;
  } finally {
    screen?.(`${ANSI.showCursor}\n`);
  }
}

export function execute(
  session: CtlSession,
  command: Exclude<Command, { name: 'watch' }>,
): Promise<CommandResult> {
  switch (command.name) {
    case 'list':
      return list(session, command.sort);
    case 'status':
      return status(session, command.pollerId);
    case 'status-all':
      return statusAll(session);
    case 'history':
      return history(session, command.pollerId, command.limit);
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
    case 'trigger':
      return trigger(session, command);
    case 'pause':
    case 'resume':
      return switchMany(session, command.name, command.pollers);
    case 'failed-list':
      return failedList(session);
    case 'failed-replay':
      return failedReplay(session, command);
  }
}
