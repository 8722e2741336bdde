import type { TickOutcome } from '../../functions/shared/contract';
import type { HistoryReport } from './commands/history';
import { formatDuration } from './format-duration';
import { alignColumns } from './format-list';

/** `failed: HTTP 404 (seq 12, 35 ms, 3 s ago)`, `ok HTTP 200 (seq 11, …)`: a recorded outcome on one line. */
export function describeOutcome(outcome: TickOutcome, nowMs: number): string {
  const what =
    outcome.result === 'ok'
      ? `ok${outcome.detail ? ` ${outcome.detail}` : ''}`
      : `failed: ${outcome.detail ?? '-'}`;
  return `${what} (seq ${outcome.seq}, ${outcome.durationMs} ms, ${ago(outcome.at, nowMs)})`;
}

/** The list's LAST RESULT cell: `ok 3 s ago`, `failed: HTTP 404`, cut to `width`. */
export function lastResultCell(outcome: TickOutcome | null, nowMs: number, width: number): string {
  if (outcome === null) return '-';
  const text =
    outcome.result === 'ok'
      ? `ok ${ago(outcome.at, nowMs)}`
      : `failed ${ago(outcome.at, nowMs)}: ${outcome.detail ?? '-'}`.replace(/\s+/g, ' ');
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

export const SAMPLED_NOTE = (sampleSeconds: number) =>
  `where known: every failure is recorded; successes are sampled (by default the first, the first after a failure, and at most one every ${sampleSeconds} s per worker sandbox), so ok ticks between those listed are not shown`;

export function formatHistory(report: HistoryReport): string {
  const head = `poller '${report.pollerId}' (table ${report.table}): ${report.outcomes.length} recent outcome${report.outcomes.length === 1 ? '' : 's'}, ${report.failedTicks} failed tick${report.failedTicks === 1 ? '' : 's'} in total`;
  const note = SAMPLED_NOTE(report.defaultSampleSeconds);
  const problems = report.problems.map((problem) => `problem: ${problem}`);
  if (report.outcomes.length === 0) {
    return [
      head,
      'no outcome recorded yet (is the worker built with the worker kit, and given CONTROL_TABLE_NAME?)',
      note,
      ...problems,
    ].join('\n');
  }
  const rows = [
    ['SEQ', 'TIME', 'RESULT', 'DURATION', 'DETAIL'],
    ...report.outcomes.map((outcome) => [
      outcome.trigger === undefined ? String(outcome.seq) : `${outcome.seq} (trigger ${outcome.trigger})`,
      `${outcome.at} (${ago(outcome.at, report.reportedAtMs)})`,
      outcome.result,
      `${outcome.durationMs} ms`,
      outcome.detail ?? '-',
    ]),
  ];
  return [head, alignColumns(rows), note, ...problems].join('\n');
}

function ago(at: string, nowMs: number): string {
  const atMs = Date.parse(at);
  return Number.isNaN(atMs) ? at : `${formatDuration(Math.max(0, nowMs - atMs))} ago`;
}
