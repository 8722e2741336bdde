import type { LoopState, PollerLine } from './commands/list';
import { STATE_ORDER } from './commands/list';
import type { WatchFrame } from './commands/watch';
import { formatDuration } from './format-duration';
import { alignColumns, cellsOf, hasShards, LIST_HEADERS, SHARD_HEADER, withShard } from './format-list';
import type { SeqChange } from './watch-changes';

/**
 * How a frame is printed: 'screen' redraws it in place on a terminal (ANSI), with the quit hint; 'log' prints it
 * whole after the previous one, without escape codes, so piped output and `--once` can be kept as they are.
 */
export type FrameStyle = 'screen' | 'log';

/** The few ANSI sequences the screen style uses (ECMA-48; every terminal emulator in use understands them). */
export const ANSI = {
  home: '\x1b[H',
  clearToLineEnd: '\x1b[K',
  clearBelow: '\x1b[J',
  hideCursor: '\x1b[?25l',
  showCursor: '\x1b[?25h',
} as const;

/** The column `watch` adds to the list, before LAST ERROR (which runs to the end of the line). */
export const FIRED_HEADER = 'FIRED';

const FOOTNOTE =
  'FIRED: how far the recorded seq moved since the previous frame; a loop records it with each claim (about every 30 s) or hand-back, not per tick';

/** The frame as text: in place (screen) or as a block of lines (log). */
export function formatWatchFrame(frame: WatchFrame, style: FrameStyle): string {
  const lines = [headerLine(frame, style), ...bodyLines(frame)];
  if (style === 'log') return lines.join('\n');
  // Home, each line over the previous frame's, then clear what a longer previous frame left below: no flicker.
  return `${ANSI.home}${[...lines, '', FOOTNOTE].map((line) => `${line}${ANSI.clearToLineEnd}`).join('\n')}${ANSI.clearBelow}`;
}

/** One JSON object per frame: `list --json`'s objects under `pollers`, the changes beside them. */
export function watchFrameJson(frame: WatchFrame): string {
  const at = new Date(frame.atMs).toISOString();
  const { reading } = frame;
  if (!reading.ok) {
    return JSON.stringify({
      at,
      table: frame.table,
      error: reading.error,
      lastReadAt: reading.lastReadAtMs === null ? null : new Date(reading.lastReadAtMs).toISOString(),
    });
  }
  return JSON.stringify({
    at,
    table: frame.table,
    pollers: reading.report.pollers,
    changes: reading.report.pollers.map((line) => ({
      pollerId: line.pollerId,
      ...reading.changes.get(line.pollerId),
    })),
    gone: reading.gone,
  });
}

function headerLine(frame: WatchFrame, style: FrameStyle): string {
  const time = new Date(frame.atMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const summary = frame.reading.ok ? countByState(frame.reading.report.pollers) : 'read failed';
  const parts = [
    `watch: table ${frame.table}`,
    time,
    summary,
    ...(frame.refreshMs === null ? [] : [`every ${formatDuration(frame.refreshMs)}`]),
    ...(style === 'screen' ? ['Ctrl-C to quit'] : []),
  ];
  return parts.join('  |  ');
}

/** `3 pollers: 1 stale, 2 running`, states in list's trouble-first order. */
export function countByState(pollers: readonly PollerLine[]): string {
  const counts = new Map<LoopState, number>();
  for (const line of pollers) counts.set(line.state, (counts.get(line.state) ?? 0) + 1);
  const states = [...counts.keys()].sort((a, b) => STATE_ORDER[a] - STATE_ORDER[b]);
  const total = `${pollers.length} poller${pollers.length === 1 ? '' : 's'}`;
  return states.length === 0
    ? total
    : `${total}: ${states.map((state) => `${counts.get(state)} ${state}`).join(', ')}`;
}

function bodyLines(frame: WatchFrame): string[] {
  const { reading } = frame;
  if (!reading.ok) {
    const lastRead =
      reading.lastReadAtMs === null
        ? 'no read has succeeded yet'
        : `last good read ${formatDuration(Math.max(0, frame.atMs - reading.lastReadAtMs))} ago`;
    const retry = frame.refreshMs === null ? '' : `; trying again in ${formatDuration(frame.refreshMs)}`;
    return [`read failed: ${reading.error}`, `${lastRead}${retry}`];
  }
  const { report, changes, gone } = reading;
  const goneLine = gone.length === 0 ? [] : [`gone since the previous frame: ${gone.join(', ')}`];
  if (report.pollers.length === 0) return [`no pollers in table ${report.table}`, ...goneLine];
  const shards = hasShards(report.pollers);
  const headers = withShard(
    [...LIST_HEADERS.slice(0, -1), FIRED_HEADER, LIST_HEADERS[LIST_HEADERS.length - 1] ?? ''],
    SHARD_HEADER,
    shards,
  );
  const rows = report.pollers.map((line) => {
    const cells = cellsOf(line, report.reportedAtMs);
    return withShard(
      [...cells.slice(0, -1), firedCell(changes.get(line.pollerId)), cells[cells.length - 1] ?? ''],
      line.shard ?? '-',
      shards,
    );
  });
  return [...alignColumns([headers, ...rows]).split('\n'), ...goneLine];
}

/** `+15`; `+0`; `+0 stale? (seq 42 for 2 min)`; `seq 42` on the first frame; `seq 3 (was 57)` after a reset. */
export function firedCell(change: SeqChange | undefined): string {
  if (change === undefined) return '-';
  const seqText = (seq: number | null) => (seq === null ? 'no seq' : `seq ${seq}`);
  switch (change.kind) {
    case 'first':
      return change.seq === null ? '-' : seqText(change.seq);
    case 'advanced':
      return `+${change.advance}`;
    case 'same':
      return change.staleCandidate
        ? `+0 stale? (${seqText(change.seq)} for ${formatDuration(change.unchangedForMs)})`
        : '+0';
    case 'reset':
      return `${seqText(change.seq)} (was ${change.previousSeq ?? '-'})`;
  }
}
