import type { PollerSelection } from '../command-line';
import { errorLine } from '../errors';
import { awsCall, type CtlSession } from '../session';
import { start } from './start';
import { type StopResult, stop } from './stop';

export type SwitchCommand = 'pause' | 'resume';

export type SwitchOutcome =
  | {
      readonly pollerId: string;
      readonly ok: true;
      /** paused: running=false (its loop, if any, ends at its next tick); the others as `start` says. */
      readonly outcome: 'paused' | 'started' | 'already-running' | 'fleet';
      /** The loop's execution: the one that ends (pause), or the one running (resume); null if none is recorded. */
      readonly executionArn: string | null;
      /** pause: what `stop` said of the loop (when it really ends). */
      readonly stop?: StopResult;
    }
  | { readonly pollerId: string; readonly ok: false; readonly error: string };

export interface SwitchManyResult {
  readonly command: SwitchCommand;
  readonly table: string;
  readonly pollers: readonly SwitchOutcome[];
  readonly succeeded: number;
  readonly failed: number;
}

/**
 * Pauses (`stop`) or resumes (`start`) each selected poller through the very code of those commands, one after
 * the other; a poller that fails is reported and the others carry on.
 */
export async function switchMany(
  session: CtlSession,
  command: SwitchCommand,
  selection: PollerSelection,
): Promise<SwitchManyResult> {
  const { tableName } = session.target;
  const pollerIds =
    selection.kind === 'ids'
      ? selection.pollerIds
      : (await awsCall(session, `listing the pollers in table ${tableName}`, () => session.table.listAll()))
          .map((item) => item.pollerId)
          .sort();
  const pollers: SwitchOutcome[] = [];
  for (const pollerId of pollerIds) {
    try {
      pollers.push({ pollerId, ok: true, ...(await switchOne(session, command, pollerId)) });
    } catch (error) {
      pollers.push({ pollerId, ok: false, error: errorLine(error).replace(/^ctl: /, '') });
    }
  }
  const failed = pollers.filter((outcome) => !outcome.ok).length;
  return { command, table: tableName, pollers, succeeded: pollers.length - failed, failed };
}

async function switchOne(
  session: CtlSession,
  command: SwitchCommand,
  pollerId: string,
): Promise<{
  outcome: 'paused' | 'started' | 'already-running' | 'fleet';
  executionArn: string | null;
  stop?: StopResult;
}> {
  if (command === 'pause') {
    const stopped = await stop(session, pollerId);
    return { outcome: 'paused', executionArn: stopped.executionArn, stop: stopped };
  }
  const started = await start(session, pollerId);
  if (started.outcome === 'fleet')
    return { outcome: 'fleet', executionArn: started.fleetExecutionArn ?? null };
  return { outcome: started.outcome, executionArn: started.executionArn ?? null };
}
