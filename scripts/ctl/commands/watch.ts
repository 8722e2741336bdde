import { describeCause } from '../../../functions/shared/errors';
import type { ListSort } from '../command-line';
import { AwsCallError, isConnectionRefused } from '../errors';
import type { CtlSession } from '../session';
import { EMPTY_SEQ_MEMORY, type SeqChange, type SeqMemory, seqChanges } from '../watch-changes';
import { type ListReport, listReportOf, readFleet } from './list';

export interface WatchOptions {
  readonly sort: ListSort;
  readonly intervalMs: number;
  /** Read and show one frame, then return. */
  readonly once: boolean;
}

/** One refresh: the list as read, with what changed since the previous frame that was read, or why the read failed. */
export interface WatchFrame {
  readonly table: string;
  /** When the frame was made (epoch ms): the read's time, or the failure's. */
  readonly atMs: number;
  /** How long until the next refresh; null with `--once` (none follows). */
  readonly refreshMs: number | null;
  readonly reading:
    | {
        readonly ok: true;
        readonly report: ListReport;
        readonly changes: ReadonlyMap<string, SeqChange>;
        readonly gone: readonly string[];
      }
    | {
        readonly ok: false;
        /** The cause, as describeCause says it (and the target's hint when nothing listens). */
        readonly error: string;
        readonly lastReadAtMs: number | null;
      };
}

/** Waits `ms`, or less when `signal` aborts (then it may reject). The system's is node's timers/promises setTimeout. */
export type AbortableSleep = (ms: number, signal: AbortSignal) => Promise<void>;

export interface WatchSummary {
  /** Whether the last frame shown was a failed read (`--once` then exits 1, for scripts). */
  readonly lastReadFailed: boolean;
}

/**
 * Reads the table every `intervalMs` and hands each frame to `show`, until `signal` aborts (Ctrl-C) or, with
 * `once`, after one frame. A failed read is a frame too, and the next refresh tries again. The refreshes keep to a
 * grid from the first one, as the loops keep theirs: a slow read does not push the later ones back, and a read
 * slower than the interval skips the refreshes it overran rather than bunching them up.
 */
export async function watch(
  session: CtlSession,
  options: WatchOptions,
  sleep: AbortableSleep,
  signal: AbortSignal,
  show: (frame: WatchFrame) => void,
): Promise<WatchSummary> {
  const { intervalMs } = options;
  const startMs = session.nowMs();
  let memory: SeqMemory = EMPTY_SEQ_MEMORY;
  let lastReadAtMs: number | null = null;
  let lastReadFailed = false;
  for (let refresh = 0; !signal.aborted; ) {
    const outcome = await readFrame(session, options, memory, lastReadAtMs, signal);
    // A read cut short by Ctrl-C is no failure to show.
    if (signal.aborted) break;
    if (outcome.memory !== undefined) {
      memory = outcome.memory;
      lastReadAtMs = outcome.frame.atMs;
    }
    lastReadFailed = !outcome.frame.reading.ok;
    show(outcome.frame);
    if (options.once) break;
    const nowMs = session.nowMs();
    refresh = Math.max(refresh + 1, Math.floor((nowMs - startMs) / intervalMs) + 1);
    try {
      await sleep(startMs + refresh * intervalMs - nowMs, signal);
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }
  return { lastReadFailed };
}

async function readFrame(
  session: CtlSession,
  options: WatchOptions,
  memory: SeqMemory,
  lastReadAtMs: number | null,
  signal: AbortSignal,
): Promise<{ readonly frame: WatchFrame; readonly memory?: SeqMemory }> {
  const table = session.target.tableName;
  const { sort } = options;
  const refreshMs = options.once ? null : options.intervalMs;
  try {
    const { items, readAtMs, fleet } = await readFleet(session, signal);
    const report = listReportOf(table, sort, items, readAtMs, fleet);
    const { changes, gone, memory: next } = seqChanges(memory, items, report.pollers, readAtMs);
    return {
      frame: { table, atMs: readAtMs, refreshMs, reading: { ok: true, report, changes, gone } },
      memory: next,
    };
  } catch (error) {
    const atMs = session.nowMs();
    return {
      frame: {
        table,
        atMs,
        refreshMs,
        reading: { ok: false, error: failureText(session, error), lastReadAtMs },
      },
    };
  }
}

/** The service's own words (readFleet's AwsCallError wraps them), and where to look when nothing listens. */
function failureText(session: CtlSession, error: unknown): string {
  const cause = error instanceof AwsCallError ? error.cause : error;
  const hint = session.target.connectionHint;
  return `${describeCause(cause)}${isConnectionRefused(cause) && hint ? ` (${hint})` : ''}`;
}
