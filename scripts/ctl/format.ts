import { FIELD } from '../../functions/shared/contract';
import type { SetResult } from './commands/set-wait';
import type { StartResult } from './commands/start';
import type { StatusAllReport, StatusReport } from './commands/status';
import type { StopResult } from './commands/stop';

export type CommandResult = StatusReport | StatusAllReport | SetResult | StopResult | StartResult;

/** What the CLI prints on stdout for a result: one JSON object with --json, readable lines otherwise. */
export function formatResult(result: CommandResult, json: boolean): string {
  if (json) return JSON.stringify(result);
  switch (result.command) {
    case 'status':
      return formatStatus(result);
    case 'status-all':
      return result.pollers.length === 0
        ? `no pollers in table ${result.table}`
        : result.pollers.map(formatStatus).join('\n\n');
    case 'set':
      return result.created
        ? `poller '${result.pollerId}': created its control item in ${result.table} with waitseconds=${result.waitSeconds} and running=false; start it with \`ctl start\``
        : `poller '${result.pollerId}': waitseconds set to ${result.waitSeconds}; the loop uses it from its next tick`;
    case 'stop':
      return `poller '${result.pollerId}': running set to false; ${
        result.executionArn === null
          ? 'no loop is recorded on the item'
          : `the loop (${result.executionArn}) ends at its next tick${result.nextTickAt ? ` (${result.nextTickAt})` : ''}`
      }`;
    case 'start':
      return result.outcome === 'already-running'
        ? `already running: ${result.executionArn}`
        : `${result.created ? `poller '${result.pollerId}': created its control item; ` : ''}started: ${result.executionArn}`;
  }
}

export function formatStatus(report: StatusReport): string {
  const now = report.reportedAtMs;
  const invalid = (field: string) => report.problems.some((problem) => problem.field === field);
  const invalidText = 'invalid (see problem below)';
  const rows: [string, string][] = [
    ['poller', `${report.pollerId} (table ${report.table})`],
    [FIELD.running, report.running === null ? invalidText : String(report.running)],
    [FIELD.waitSeconds, report.waitSeconds === null ? invalidText : String(report.waitSeconds)],
    [FIELD.target, report.target ?? (invalid(FIELD.target) ? invalidText : 'default worker')],
    ['seq', report.seq === null ? '-' : String(report.seq)],
    ['lastTickAt', withRelative(report.lastTickAt, now)],
    ['nextTickAt', withRelative(report.nextTickAt, now)],
    ['skippedTicks', String(report.skippedTicks)],
    ['failedFires', String(report.failedFires)],
    [
      'generation',
      report.generation === null
        ? '-'
        : `${report.generation} (claimed through seq ${report.claimedSeq ?? '-'})`,
    ],
    [
      'heartbeat',
      report.heartbeatAt === null
        ? 'none yet'
        : `${formatDuration((report.heartbeatAgeSeconds ?? 0) * 1000)} ago (${report.heartbeatAt})`,
    ],
    [
      'restarts',
      report.restarts === 0
        ? '0'
        : `${report.restarts}, last ${withRelative(report.lastRestartAt, now)}: ${report.lastRestartReason ?? '-'}`,
    ],
    [
      'executionArn',
      report.executionArn === null
        ? '-'
        : `${report.executionArn} (${report.executionStatus}${report.executionStatusError ? `: ${report.executionStatusError}` : ''})`,
    ],
    ['stoppedReason', report.stoppedReason ?? '-'],
    [
      'lastError',
      report.lastError === null
        ? 'none'
        : `${report.lastError.message} (${report.lastError.ageSeconds === null ? `at ${report.lastError.at}` : `${formatDuration(report.lastError.ageSeconds * 1000)} ago`})`,
    ],
    ...report.problems.map((problem): [string, string] => ['problem', problem.message]),
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, value]) => `${label.padEnd(width)}${value}`).join('\n');
}

function withRelative(iso: string | null, nowMs: number): string {
  if (iso === null) return '-';
  const atMs = Date.parse(iso);
  if (Number.isNaN(atMs)) return iso;
  const deltaMs = atMs - nowMs;
  return `${iso} (${deltaMs >= 0 ? `in ${formatDuration(deltaMs)}` : `${formatDuration(-deltaMs)} ago`})`;
}

/** 0.4 s, 12 s, 5 min, 3 h, 2 d: rough on purpose, for a human glancing at the loop. */
export function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3_600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}
