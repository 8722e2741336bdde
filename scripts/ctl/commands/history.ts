import {
  DEFAULT_OUTCOME_RECORD_SECONDS,
  RECENT_RESULTS_TRIM_AT,
  type TickOutcome,
} from '../../../functions/shared/contract';
import { outcomeFieldsOf } from '../../../functions/shared/control-item';
import { ControlItemMissingError } from '../errors';
import { type CtlSession, readItem } from '../session';

/** `history --limit N`: the item keeps at most RECENT_RESULTS_TRIM_AT - 1 outcomes. */
export const HISTORY_LIMITS = { min: 1, max: RECENT_RESULTS_TRIM_AT - 1, defaultLimit: 10 } as const;

export interface HistoryReport {
  readonly command: 'history';
  readonly pollerId: string;
  readonly table: string;
  /** Always true: failures are all recorded, successes only sampled (README "Tick outcomes"). */
  readonly successesSampled: true;
  /** The default sampling period of the worker kit (a worker may set another with OUTCOME_RECORD_SECONDS). */
  readonly defaultSampleSeconds: number;
  /** Ticks the worker kit reported as failed, in total. */
  readonly failedTicks: number;
  /** Newest first, at most `limit`. */
  readonly outcomes: readonly TickOutcome[];
  /** Outcome fields holding values the kit never writes (a hand edit), in the decoder's words. */
  readonly problems: readonly string[];
  readonly reportedAtMs: number;
}

/**
 * The recent recorded outcomes of a poller, newest (highest seq) first; a `ctl trigger` fire (negative seq, no
 * place on the grid) goes in by the time its work ended, ahead of the first tick that ended before it.
 */
export async function history(session: CtlSession, pollerId: string, limit: number): Promise<HistoryReport> {
  const item = await readItem(session, pollerId);
  if (item === undefined) throw new ControlItemMissingError(pollerId, session.target.tableName);
  const fields = outcomeFieldsOf(item);
  const outcomes = newestFirst(fields.recentResults ?? []).slice(0, limit);
  return {
    command: 'history',
    pollerId,
    table: session.target.tableName,
    successesSampled: true,
    defaultSampleSeconds: DEFAULT_OUTCOME_RECORD_SECONDS,
    failedTicks: fields.failedTicks ?? 0,
    outcomes,
    problems: fields.problems.map((problem) => problem.message),
    reportedAtMs: session.nowMs(),
  };
}

function newestFirst(recorded: readonly TickOutcome[]): TickOutcome[] {
  const ordered = recorded.filter((outcome) => outcome.trigger === undefined).sort((a, b) => b.seq - a.seq);
  const triggers = recorded.filter((outcome) => outcome.trigger !== undefined);
  for (const fire of [...triggers].sort((a, b) => Date.parse(a.at) - Date.parse(b.at))) {
    const before = ordered.findIndex((outcome) => Date.parse(outcome.at) < Date.parse(fire.at));
    ordered.splice(before === -1 ? ordered.length : before, 0, fire);
  }
  return ordered;
}
