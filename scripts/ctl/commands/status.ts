import { DEFAULT_TIME_ZONE } from '../../../functions/scheduling/windows';
import type { OverlapPolicy, TickOutcome } from '../../../functions/shared/contract';
import {
  outcomeFieldsOf,
  type PollerItem,
  type TriggerRecord,
  triggerFieldsOf,
} from '../../../functions/shared/control-item';
import { InvalidControlItemError } from '../../../functions/shared/errors';
import { EXECUTION_ENDED_FOR_GOOD, judgeLoop } from '../../../functions/shared/loop-ownership';
import { ControlItemMissingError } from '../errors';
import {
  type FleetView,
  fleetViewOf,
  fleetViewOfPoller,
  judgeShard,
  readShards,
  type ShardPlacementView,
} from '../fleet-view';
import { endsBefore, type LoopProgress, loopProgress, type TickPoint } from '../loop-progress';
import { awsCall, type CtlSession, readExecutionStatus, readItem } from '../session';
import { type CadenceNow, cadenceNow, lastResultOf } from './list';

export interface StatusReport {
  readonly command: 'status';
  readonly pollerId: string;
  readonly table: string;
  /** null when the item holds no valid value (see `problems`). */
  readonly running: boolean | null;
  readonly waitSeconds: number | null;
  /** null: the stack's default worker. */
  readonly target: string | null;
  /** The zone the window rules are read in; UTC when the item names none (null: the item's is invalid). */
  readonly timeZone: string | null;
  /** The window rules as written, in order ([] when none; null: the item's are invalid). */
  readonly windows: readonly string[] | null;
  /** The cadence in force now (a window's, or `waitseconds`), as `list` shows it. */
  readonly cadenceNow: CadenceNow;
  /** `seq`, `lastTickAt`, `nextTickAt` as the item records them: as of its last write (every ~30 s, not per tick). */
  readonly seq: number | null;
  readonly lastTickAt: string | null;
  readonly nextTickAt: string | null;
  /** The loop's last and next tick now, carried forward on the grid where the record lags (loop-progress.ts). */
  readonly progress: LoopProgress;
  /**
   * With running=false and a live loop: the tick before which it reads the item and ends (the same as `stop` says,
   * loop-progress.ts endsBefore); null otherwise.
   */
  readonly endsBefore: TickPoint | null;
  /** Why no live loop holds the poller (loop-ownership's words); null while one does. */
  readonly notAliveBecause: string | null;
  /** The fleet variant: the shard serving the poller and a pending move; null for one loop per poller. */
  readonly shard: ShardPlacementView | null;
  readonly skippedTicks: number;
  /** Ticks whose async invoke Lambda refused (throttled, missing target, …). */
  readonly failedFires: number;
  /** The overlap policy; null when the item holds no valid one (see `problems`). */
  readonly overlap: OverlapPolicy | null;
  /** Ticks not fired because the previous fire was still running (overlap skip). */
  readonly overlapSkips: number;
  readonly lastFinishedSeq: number | null;
  readonly lastFireMs: number | null;
  /** Ticks the worker reported as failed (the worker kit). */
  readonly failedTicks: number;
  /** The latest outcome the worker recorded (successes sampled, failures always); null before any. */
  readonly lastResult: TickOutcome | null;
  /** `ctl trigger` requests recorded, and the last one (how it stands: claimed, fired, refused). */
  readonly triggers: number;
  readonly lastTrigger: Omit<TriggerRecord, 'claim'> | null;
  /** The fencing token of the loop that owns the item; null before any loop ran. */
  readonly generation: number | null;
  readonly claimedSeq: number | null;
  readonly heartbeatAt: string | null;
  /** Seconds since the last heartbeat; the watchdog restarts a running loop whose heartbeat is stale. */
  readonly heartbeatAgeSeconds: number | null;
  readonly restarts: number;
  readonly lastRestartAt: string | null;
  readonly lastRestartReason: string | null;
  readonly executionArn: string | null;
  /** DescribeExecution's status; 'unknown' when that call failed (`executionStatusError` says why). */
  readonly executionStatus: string | null;
  readonly executionStatusError?: string;
  readonly stoppedReason: string | null;
  readonly lastError: {
    readonly message: string;
    readonly at: string;
    readonly ageSeconds: number | null;
  } | null;
  /** Fields the controller cannot use, in the controller's own words (system fields a hand edit broke included). */
  readonly problems: readonly { readonly field: string; readonly message: string }[];
  /** When the report was made (epoch ms), for relative times. */
  readonly reportedAtMs: number;
}

export interface StatusAllReport {
  readonly command: 'status-all';
  readonly table: string;
  readonly pollers: readonly StatusReport[];
}

/** Every poller in the table, in id order (a Scan: fine for a control table of a few items). */
export async function statusAll(session: CtlSession): Promise<StatusAllReport> {
  const { tableName } = session.target;
  const items = await awsCall(session, `listing the pollers in table ${tableName}`, () =>
    session.table.listAll(),
  );
  const onShards = items.some((item) => item.shard !== undefined);
  const fleet = fleetViewOf(items, onShards ? await readShards(session) : []);
  const pollers: StatusReport[] = [];
  for (const item of [...items].sort((a, b) => a.pollerId.localeCompare(b.pollerId))) {
    pollers.push(await reportFor(session, item, fleet));
  }
  return { command: 'status-all', table: tableName, pollers };
}

export async function status(session: CtlSession, pollerId: string): Promise<StatusReport> {
  const item = await readItem(session, pollerId);
  if (item === undefined) throw new ControlItemMissingError(pollerId, session.target.tableName);
  // A fleet's poller: its shard's lease says whether it is served.
  return reportFor(session, item, await fleetViewOfPoller(session, item));
}

async function reportFor(session: CtlSession, item: PollerItem, fleet: FleetView): Promise<StatusReport> {
  const nowMs = session.nowMs();

  const problems: { field: string; message: string }[] = [];
  const valid = <T>(result: T | InvalidControlItemError): T | null => {
    if (!(result instanceof InvalidControlItemError)) return result;
    problems.push({ field: result.field, message: result.message });
    return null;
  };
  const running = valid(item.operator.running);
  const intervalMs = valid(item.operator.intervalMs);
  const target = valid(item.operator.target);
  const timeZone = valid(item.operator.timeZone);
  const windows = valid(item.operator.windows);
  const outcomes = outcomeFieldsOf(item);
  const triggers = triggerFieldsOf(item);
  for (const problem of [...item.systemProblems, ...outcomes.problems, ...triggers.problems])
    problems.push({ field: problem.field, message: problem.message });

  const executionArn = item.executionArn ?? null;
  const execution = executionArn === null ? undefined : await readExecutionStatus(session, executionArn);
  const lastErrorAt = item.lastError?.at ?? '';
  const lastErrorAtMs = Date.parse(lastErrorAt);
  const cadence = cadenceNow(item, nowMs);
  // An execution that ended without handing over runs no loop, whatever the heartbeat says (as a start judges it).
  const deadExecutionArn =
    executionArn !== null && execution !== undefined && EXECUTION_ENDED_FOR_GOOD.has(execution.status)
      ? executionArn
      : undefined;
  const placement = fleet.placements.get(item.pollerId);
  const liveness =
    placement === undefined ? judgeLoop(item, nowMs, deadExecutionArn) : judgeShard(placement, fleet, nowMs);
  const progress = loopProgress(item, nowMs, cadence.seconds, deadExecutionArn);

  return {
    command: 'status',
    pollerId: item.pollerId,
    table: session.target.tableName,
    running,
    waitSeconds: intervalMs === null ? null : (item.waitSeconds ?? null),
    target: target ?? null,
    timeZone: timeZone === null ? null : (timeZone ?? DEFAULT_TIME_ZONE),
    windows: windows === null ? null : (windows ?? []).map((rule) => rule.text),
    cadenceNow: cadence,
    seq: item.seq ?? null,
    lastTickAt: item.lastTickAt ?? null,
    nextTickAt: item.nextTickAt ?? null,
    progress,
    endsBefore: running === false ? endsBefore(progress, nowMs, cadence.seconds) : null,
    notAliveBecause: liveness.alive ? null : liveness.why,
    shard: placement ?? null,
    skippedTicks: item.skippedTicks ?? 0,
    failedFires: item.failedFires ?? 0,
    overlap:
      item.operator.overlap instanceof InvalidControlItemError ? null : (item.operator.overlap ?? 'allow'),
    overlapSkips: item.overlapSkips ?? 0,
    lastFinishedSeq: item.lastFinishedSeq ?? null,
    lastFireMs: item.lastFireMs ?? null,
    failedTicks: outcomes.failedTicks ?? 0,
    lastResult: lastResultOf(outcomes),
    triggers: triggers.triggers ?? 0,
    lastTrigger: triggers.lastTrigger === undefined ? null : withoutClaim(triggers.lastTrigger),
    generation: item.generation ?? null,
    claimedSeq: item.claimedSeq ?? null,
    heartbeatAt: item.heartbeatAt ?? null,
    heartbeatAgeSeconds: ageSeconds(item.heartbeatAt ?? null, nowMs),
    restarts: item.restarts ?? 0,
    lastRestartAt: item.lastRestartAt ?? null,
    lastRestartReason: item.lastRestartReason ?? null,
    executionArn,
    executionStatus: execution?.status ?? null,
    ...(execution?.error !== undefined ? { executionStatusError: execution.error } : {}),
    stoppedReason: item.stoppedReason ?? null,
    lastError:
      item.lastError === undefined
        ? null
        : {
            message: item.lastError.message,
            at: lastErrorAt,
            ageSeconds: Number.isNaN(lastErrorAtMs)
              ? null
              : Math.max(0, Math.round((nowMs - lastErrorAtMs) / 1000)),
          },
    problems,
    reportedAtMs: nowMs,
  };
}

function ageSeconds(iso: string | null, nowMs: number): number | null {
  const atMs = Date.parse(iso ?? '');
  return Number.isNaN(atMs) ? null : Math.max(0, Math.round((nowMs - atMs) / 1000));
}

/** The run's nonce is the write's business, not the operator's. */
function withoutClaim({ claim: _claim, ...record }: TriggerRecord): Omit<TriggerRecord, 'claim'> {
  return record;
}
