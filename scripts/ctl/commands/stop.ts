import { EXECUTION_ENDED_FOR_GOOD, judgeLoop } from '../../../functions/shared/loop-ownership';
import { ControlItemMissingError } from '../errors';
import { endsBefore, loopProgress, type TickPoint } from '../loop-progress';
import { type CtlSession, readExecutionStatus, writeItem } from '../session';
import { cadenceNow } from './list';

export interface StopResult {
  readonly command: 'stop';
  readonly pollerId: string;
  readonly table: string;
  /** The execution the item names (the loop that will see running=false), if any. */
  readonly executionArn: string | null;
  /** The next tick as the item records it (as of the loop's last write: it may have passed). */
  readonly nextTickAt: string | null;
  /**
   * How the loop ends: 'before-tick' (it reads running=false before tick `endsBefore` and ends without firing it),
   * 'at-check-in' (a pause window holds it: it ends at its next check-in, within a minute), 'at-next-read' (the
   * item does not say when its next tick is: it ends at its next read, before that tick), or 'no-live-loop'
   * (nothing runs to end: `notAliveBecause` says why).
   */
  readonly ending: 'before-tick' | 'at-check-in' | 'at-next-read' | 'no-live-loop';
  readonly endsBefore: TickPoint | null;
  readonly notAliveBecause: string | null;
  /** When the stop was written (epoch ms), for relative times. */
  readonly reportedAtMs: number;
}

/** Sets running=false on an existing item; the loop sees it at its next tick and ends cleanly. */
export async function stop(session: CtlSession, pollerId: string): Promise<StopResult> {
  const updated = await writeItem(session, pollerId, 'setting running=false', (table) =>
    table.switchOff(pollerId),
  );
  if (updated === 'missing') {
    throw new ControlItemMissingError(
      pollerId,
      session.target.tableName,
      `nothing to stop (create it with \`ctl create ${pollerId} --every S\`)`,
    );
  }
  // An execution that ended without handing over runs no loop to end, whatever the heartbeat says.
  const recorded = updated.executionArn;
  const deadExecutionArn =
    recorded !== undefined &&
    EXECUTION_ENDED_FOR_GOOD.has((await readExecutionStatus(session, recorded)).status)
      ? recorded
      : undefined;
  const nowMs = session.nowMs();
  const cadence = cadenceNow(updated, nowMs);
  const liveness = judgeLoop(updated, nowMs, deadExecutionArn);
  const before = endsBefore(
    loopProgress(updated, nowMs, cadence.seconds, deadExecutionArn),
    nowMs,
    cadence.seconds,
  );
  return {
    command: 'stop',
    pollerId,
    table: session.target.tableName,
    executionArn: updated.executionArn ?? null,
    nextTickAt: updated.nextTickAt ?? null,
    ending: !liveness.alive
      ? 'no-live-loop'
      : cadence.source === 'window' && cadence.seconds === null
        ? 'at-check-in'
        : before === null
          ? 'at-next-read'
          : 'before-tick',
    endsBefore: before,
    notAliveBecause: liveness.alive ? null : liveness.why,
    reportedAtMs: nowMs,
  };
}
