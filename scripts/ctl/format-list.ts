import type { CadenceNow, ListReport, PollerLine } from './commands/list';
import { formatDuration } from './format-duration';
import { lastResultCell } from './format-outcomes';

/** How much of a last result fits on a list line; `history ID` shows all of it. */
export const LAST_RESULT_WIDTH = 32;

/** How much of a last error fits on a list line; `status ID` shows all of it. */
export const LAST_ERROR_WIDTH = 60;

export const LIST_HEADERS = [
  'ID',
  'STATE',
  'CADENCE',
  'NEXT',
  'LAST',
  'LATE',
  'SKIPPED',
  'FAILED',
  'OVERLAP',
  'TICKS FAILED',
  'LAST RESULT',
  'LAST ERROR',
] as const;

/** The fleet variant's column, after STATE: shown when any poller names a shard. */
export const SHARD_HEADER = 'SHARD';

/** One aligned line per poller under a header, or a sentence when the table holds none. */
export function formatList(report: ListReport): string {
  if (report.pollers.length === 0) return `no pollers in table ${report.table}`;
  const shards = hasShards(report.pollers);
  return alignColumns([
    withShard([...LIST_HEADERS], SHARD_HEADER, shards),
    ...report.pollers.map((line) => withShard(cellsOf(line, report.reportedAtMs), line.shard ?? '-', shards)),
  ]);
}

/** Whether any poller is on a shard (the fleet variant): then lines carry a SHARD column. */
export function hasShards(lines: readonly PollerLine[]): boolean {
  return lines.some((line) => line.shard !== null);
}

/** The cells with the SHARD cell after STATE (the second), when `shards`. */
export function withShard(cells: string[], shard: string, shards: boolean): string[] {
  return shards ? [...cells.slice(0, 2), shard, ...cells.slice(2)] : cells;
}

/** Rows of cells as text: every column but the last padded to its widest cell plus two spaces. */
export function alignColumns(rows: readonly (readonly string[])[]): string {
  const columns = Math.max(...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd((widths[column] ?? 0) + 2)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

export function cellsOf(line: PollerLine, nowMs: number): string[] {
  return [
    line.pollerId,
    line.state,
    formatCadence({ seconds: line.cadenceSeconds, source: line.cadenceSource }),
    nextCell(line),
    line.lastTickAgoMs === null
      ? '-'
      : `${line.ticksDerived ? '~' : ''}${formatDuration(line.lastTickAgoMs)} ago`,
    line.lateMs === null ? '-' : formatDuration(line.lateMs),
    String(line.skippedTicks),
    String(line.failedFires),
    String(line.overlapSkips),
    String(line.failedTicks),
    lastResultCell(line.lastResult, nowMs, LAST_RESULT_WIDTH),
    lastErrorCell(line, nowMs),
  ];
}

/**
 * When a live loop fires next (`in 1.2 s`; `in ~1.2 s` when carried forward on the grid because the item, written
 * every ~30 s, lags); never "… ago" (LATE says how late a poller is). A loop that will not fire one shows `-`:
 * stopped, stale, or stopping (it ends before that tick).
 */
function nextCell(line: PollerLine): string {
  if (line.nextTickInMs === null || line.state !== 'running') return '-';
  return `in ${line.ticksDerived ? '~' : ''}${formatDuration(line.nextTickInMs)}`;
}

function lastErrorCell(line: PollerLine, nowMs: number): string {
  if (line.lastError === null) return '-';
  const atMs = Date.parse(line.lastError.at ?? '');
  const age = Number.isNaN(atMs) ? '' : `${formatDuration(Math.max(0, nowMs - atMs))} ago: `;
  const text = `${age}${line.lastError.message}`.replace(/\s+/g, ' ');
  return text.length > LAST_ERROR_WIDTH ? `${text.slice(0, LAST_ERROR_WIDTH - 1)}…` : text;
}

/** `2 s (window)`, `paused (window)`, `invalid (base)`: the cadence in force and where it comes from. */
export function formatCadence(cadence: CadenceNow): string {
  const value =
    cadence.seconds !== null ? `${cadence.seconds} s` : cadence.source === 'window' ? 'paused' : 'invalid';
  return `${value} (${cadence.source})`;
}
