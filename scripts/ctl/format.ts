import { FIELD } from '../../functions/shared/contract';
import type { OperatorFieldEdit } from '../../functions/shared/control-table';
import type { CreateResult } from './commands/create';
import type { DeleteResult } from './commands/delete';
import type { FailedListReport, FailedReplayReport } from './commands/failed';
import type { HistoryReport } from './commands/history';
import type { ListReport } from './commands/list';
import type { SetResult } from './commands/set';
import type { FleetStartResult, StartResult } from './commands/start';
import type { StatusAllReport, StatusReport } from './commands/status';
import type { StopResult } from './commands/stop';
import type { SwitchManyResult } from './commands/switch-many';
import type { TriggerResult } from './commands/trigger';
import { formatDuration } from './format-duration';
import { formatFailedList, formatFailedReplay } from './format-failed';
import { formatCadence, formatList } from './format-list';
import { describeOutcome, formatHistory } from './format-outcomes';
import { isDerived, relativeTo, tickSeqText, tickTimeText } from './format-progress';

export type CommandResult =
  | ListReport
  | StatusReport
  | StatusAllReport
  | HistoryReport
  | CreateResult
  | SetResult
  | DeleteResult
  | StopResult
  | StartResult
  | SwitchManyResult
  | TriggerResult
  | FailedListReport
  | FailedReplayReport;

/**
 * What the CLI prints on stdout for a result: with --json one JSON value (`list`: the array of poller lines,
 * every other command: one object), readable lines otherwise.
 */
export function formatResult(result: CommandResult, json: boolean): string {
  if (json) {
    if (result.command === 'list') return JSON.stringify(result.pollers);
    return JSON.stringify(result.command === 'failed-list' ? result.entries : result);
  }
  switch (result.command) {
    case 'list':
      return formatList(result);
    case 'status':
      return formatStatus(result);
    case 'status-all':
      return result.pollers.length === 0
        ? `no pollers in table ${result.table}`
        : result.pollers.map(formatStatus).join('\n\n');
    case 'history':
      return formatHistory(result);
    case 'create':
      return formatCreate(result);
    case 'set':
      return `poller '${result.pollerId}': ${describeEdit(result.edit)}; the loop uses it from its next tick`;
    case 'delete':
      return `poller '${result.pollerId}': running set to false and its control item deleted; ${
        result.executionArn === null
          ? 'no loop was recorded on it'
          : `its loop (${result.executionArn}) ends at its next tick without firing it`
      }`;
    case 'stop':
      return `poller '${result.pollerId}': running set to false; ${describeStopEnding(result)}`;
    case 'start':
      if (result.outcome === 'fleet') return formatFleetStart(result);
      return result.outcome === 'already-running'
        ? `already running: ${result.executionArn}`
        : `${result.created ? `poller '${result.pollerId}': created its control item; ` : ''}started: ${result.executionArn}`;
    case 'trigger':
      return formatTrigger(result);
    case 'pause':
    case 'resume':
      return formatSwitchMany(result);
    case 'failed-list':
      return formatFailedList(result);
    case 'failed-replay':
      return formatFailedReplay(result);
  }
}

/** When the stopped loop really ends: it sees running=false at its next read of the item, before a tick. */
function describeStopEnding(result: StopResult): string {
  const loop = result.executionArn === null ? 'the loop' : `the loop (${result.executionArn})`;
  switch (result.ending) {
    case 'no-live-loop':
      return result.executionArn === null
        ? `no live loop to end (${result.notAliveBecause ?? 'none recorded'})`
        : `${loop} is not alive (${result.notAliveBecause ?? 'none recorded'}): nothing to end`;
    case 'at-check-in':
      return `${loop} is held by a pause window and ends at its next check-in, within a minute`;
    case 'at-next-read':
      return `${loop} ends at its next read of the item, before its next tick`;
    case 'before-tick': {
      const tick = result.endsBefore;
      const seq = tick?.seq === null || tick?.seq === undefined ? '' : `seq ${tickSeqText(tick)} `;
      return `${loop} reads it before its next tick and ends without firing it: ${seq}due ${tickTimeText(tick ?? null, result.reportedAtMs)}`;
    }
  }
}

/** The process's exit code for a result: 1 when a command on many pollers failed on any of them. */
export function exitCodeOf(result: CommandResult): number {
  // A repeated trigger request: 0 when the earlier run's fire is confirmed, 1 when it is not (yet).
  if (result.command === 'trigger')
    return result.outcome === 'fired' || result.earlierState === 'fired' ? 0 : 1;
  // `failed replay` too: 1 when any tick's invoke was refused.
  if (result.command === 'failed-replay') return result.outcomes.some((outcome) => !outcome.ok) ? 1 : 0;
  return (result.command === 'pause' || result.command === 'resume') && result.failed > 0 ? 1 : 0;
}

function formatTrigger(result: TriggerResult): string {
  const loop =
    result.running === false
      ? 'the poller stays stopped'
      : 'its loop carries on unchanged (no seq, claim or schedule moved)';
  const overlap = result.overlapSkipIgnored
    ? '; overlap skip is not applied to a trigger: this fire may run alongside a tick still running'
    : '';
  if (result.outcome === 'fired') {
    const warning = result.warning === null ? '' : `; warning: ${result.warning}`;
    return `poller '${result.pollerId}': trigger ${result.requestId} fired at ${result.firedAt ?? '-'}: ${result.target ?? '-'} accepted it (status ${result.statusCode ?? '-'}), seq ${result.seq ?? '-'}; ${loop}${overlap}${warning}`;
  }
  const earlier =
    result.earlierState === null
      ? 'an earlier trigger of this poller used it'
      : result.earlierState === 'fired'
        ? `it fired at ${result.firedAt ?? '-'} (${result.target ?? '-'}, seq ${result.seq ?? '-'})`
        : result.earlierState === 'unknown'
          ? `its invoke got no answer from Lambda (recorded at ${result.firedAt ?? '-'}, seq ${result.seq ?? '-'}): it may have fired, check \`ctl history\` for trigger ${result.requestId}`
          : `claimed at ${result.firedAt ?? '-'} (seq ${result.seq ?? '-'}), fire not confirmed: the run that claimed it may still be firing it, or fired it and could not record that, or ended before its invoke; check \`ctl history\` for trigger ${result.requestId}`;
  return `poller '${result.pollerId}': trigger ${result.requestId} already taken, not fired again: ${earlier}`;
}

function formatCreate(result: CreateResult): string {
  const created = `poller '${result.pollerId}': created in ${result.table} (${describeEdit(result.fields)})`;
  if (result.start === null)
    return `${created} with running=false; start it with \`ctl start ${result.pollerId}\``;
  if (result.start.outcome === 'fleet')
    return `${created}; the fleet places it on a shard${result.start.fleetExecutionArn === undefined ? ' (start the fleet with the input {} if it is not running)' : `; started the fleet: ${result.start.fleetExecutionArn}`}`;
  return `${created}; ${result.start.outcome === 'already-running' ? 'already running' : 'started'}: ${result.start.executionArn}`;
}

/** `waitseconds=5, target=my-fn, payload removed`: what an edit writes, in the item's field names. */
export function describeEdit(edit: OperatorFieldEdit): string {
  const parts: string[] = [];
  if (edit.waitSeconds !== undefined) parts.push(`${FIELD.waitSeconds}=${edit.waitSeconds}`);
  if (edit.target === null) parts.push(`${FIELD.target} removed (the default worker)`);
  else if (edit.target !== undefined) parts.push(`${FIELD.target}=${edit.target}`);
  if (edit.payload === null) parts.push(`${FIELD.payload} removed`);
  else if (edit.payload !== undefined) parts.push(`${FIELD.payload}=${JSON.stringify(edit.payload)}`);
  if (edit.timeZone === null) parts.push(`${FIELD.timezone} removed (UTC)`);
  else if (edit.timeZone !== undefined) parts.push(`${FIELD.timezone}=${edit.timeZone}`);
  if (edit.windows === null) parts.push(`${FIELD.windows} removed`);
  else if (edit.windows !== undefined) parts.push(`${FIELD.windows}=${JSON.stringify(edit.windows)}`);
  if (edit.overlap === null) parts.push(`${FIELD.overlap} removed (allow)`);
  else if (edit.overlap !== undefined) parts.push(`${FIELD.overlap}=${edit.overlap}`);
  return parts.length === 0 ? 'nothing changed' : parts.join(', ');
}

function formatSwitchMany(result: SwitchManyResult): string {
  if (result.pollers.length === 0) return `no pollers in table ${result.table}`;
  const width = Math.max(...result.pollers.map((outcome) => outcome.pollerId.length)) + 2;
  const lines = result.pollers.map((outcome) => {
    const detail = !outcome.ok
      ? `failed: ${outcome.error}`
      : outcome.outcome === 'paused'
        ? `paused: running=false${outcome.executionArn === null ? '' : `; ${outcome.stop ? describeStopEnding(outcome.stop) : `its loop (${outcome.executionArn}) ends before its next tick`}`}`
        : outcome.outcome === 'fleet'
          ? 'resumed: running=true; the fleet serves it'
          : `resumed: running=true; ${outcome.outcome === 'started' ? 'started' : 'already running'}: ${outcome.executionArn ?? '-'}`;
    return `${outcome.pollerId.padEnd(width)}${detail}`;
  });
  const verb = result.command === 'pause' ? 'paused' : 'resumed';
  const summary = `${verb} ${result.succeeded} of ${result.pollers.length} poller${result.pollers.length === 1 ? '' : 's'}${result.failed > 0 ? `; ${result.failed} failed` : ''}`;
  return [...lines, summary].join('\n');
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
    [FIELD.timezone, report.timeZone ?? invalidText],
    [
      FIELD.windows,
      report.windows === null
        ? invalidText
        : report.windows.length === 0
          ? 'none'
          : report.windows.map((rule, index) => `${index + 1}. ${rule}`).join('; '),
    ],
    ['cadence now', formatCadence(report.cadenceNow)],
    ...progressRows(report),
    ['skippedTicks', String(report.skippedTicks)],
    ['failedFires', String(report.failedFires)],
    ['failedTicks', `${report.failedTicks} (reported by the worker)`],
    [
      'lastResult',
      report.lastResult === null
        ? 'none recorded (a worker built with the worker kit records its outcomes)'
        : `${describeOutcome(report.lastResult, now)}; successes are sampled, failures always recorded`,
    ],
    ['triggers', triggerText(report, now)],
    [FIELD.overlap, report.overlap === null ? invalidText : report.overlap],
    [
      'overlapSkips',
      `${report.overlapSkips}${report.lastFinishedSeq === null ? '' : ` (last finished: seq ${report.lastFinishedSeq} in ${report.lastFireMs ?? '-'} ms)`}`,
    ],
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
    ...shardRows(report),
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

/** `ctl start` in a fleet's table: what it did, or how to start the fleet. */
function formatFleetStart(result: FleetStartResult): string {
  const running = `poller '${result.pollerId}': running=true${result.created ? ' (created)' : ''}`;
  if (result.fleetExecutionArn !== undefined)
    return `${running}; started the fleet: ${result.fleetExecutionArn}`;
  return `${running}; table ${result.table} is served by a fleet of shards: the fleet places it on a shard by itself. If the fleet is not running, start it by starting the state machine with the input {}: aws stepfunctions start-execution --state-machine-arn ${result.stateMachineArn} --input '{}'`;
}

/** The fleet variant's rows: the shard serving the poller, and a pending move (none for one loop per poller). */
function shardRows(report: StatusReport): [string, string][] {
  const { shard } = report;
  if (shard === null) return [];
  const since = shard.movedAt === null ? '' : ` (since ${shard.movedAt})`;
  return [
    ['shard', shard.moveTo === null ? `${shard.shard}${since}` : shard.shard],
    ...(shard.moveTo === null
      ? []
      : ([['moving to', `${shard.moveTo} at ${shard.movedAt ?? '-'}`]] as [string, string][])),
  ];
}

/** `2, last op-1 fired 2026-… (3 s ago) at my-worker, seq -2`: the `ctl trigger` requests on the item. */
function triggerText(report: StatusReport, nowMs: number): string {
  const last = report.lastTrigger;
  if (last === null) return String(report.triggers);
  const how =
    last.state === 'refused'
      ? `refused (${last.error ?? '-'})`
      : last.state === 'unknown'
        ? `may have fired (${last.error ?? '-'})`
        : last.state === 'claimed'
          ? 'claimed, fire not confirmed'
          : last.state;
  return `${report.triggers}, last ${last.id} ${how} ${withRelative(last.at, nowMs)} at ${last.target}, seq ${last.seq}`;
}

function withRelative(iso: string | null, nowMs: number): string {
  if (iso === null) return '-';
  const relative = relativeTo(iso, nowMs);
  return relative === null ? iso : `${iso} (${relative})`;
}

/**
 * seq, last and next tick as the loop stands now (loop-progress.ts): "about" where carried forward on the grid,
 * with what the item records beside it; no next tick unless a live loop will fire it.
 */
function progressRows(report: StatusReport): [string, string][] {
  const now = report.reportedAtMs;
  const { last, next, alive } = report.progress;
  const writtenAgo =
    report.heartbeatAgeSeconds === null ? '' : `, ${formatDuration(report.heartbeatAgeSeconds * 1000)} ago`;
  const recorded = `the item says seq ${report.seq ?? '-'} as of its last write${writtenAgo}: it is written per claim (~30 s) and hand-back, not per tick`;
  const seq = `${tickSeqText(last)}${isDerived(report.progress) ? ` (${recorded})` : ''}`;
  let nextText: string;
  if (report.running === false && alive && report.endsBefore !== null) {
    const tick = report.endsBefore;
    const seq = tick.seq === null ? '' : `seq ${tickSeqText(tick)} `;
    nextText = `none: running=false; the loop ends before its tick ${seq}due ${tickTimeText(tick, now)}`;
  } else if (next !== null) {
    nextText = `${tickTimeText(next, now)}${next.seq === null ? '' : `, seq ${tickSeqText(next)}`}`;
  } else if (report.notAliveBecause !== null) {
    nextText = `none: no live loop (${report.notAliveBecause})`;
  } else if (report.nextTickAt === null) {
    nextText = 'not recorded yet: the loop has not claimed its first tick';
  } else {
    nextText = report.nextTickAt === null ? '-' : `due (recorded ${withRelative(report.nextTickAt, now)})`;
  }
  return [
    ['seq', seq],
    ['lastTickAt', tickTimeText(last, now)],
    ['nextTickAt', nextText],
  ];
}
