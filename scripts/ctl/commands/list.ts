import { activeRuleAt, DEFAULT_TIME_ZONE } from '../../../functions/scheduling/windows';
import type { TickOutcome } from '../../../functions/shared/contract';
import { type OutcomeFields, outcomeFieldsOf, type PollerItem } from '../../../functions/shared/control-item';
import { judgeLoop, staleAfterMs } from '../../../functions/shared/loop-ownership';
import type { ListSort } from '../command-line';
import { type FleetView, fleetViewOf, judgeShard, NO_FLEET, readShards } from '../fleet-view';
import { loopProgress } from '../loop-progress';
import { awsCall, type CtlSession } from '../session';

/**
 * How a poller's loop looks from its item, by the one liveness rule every start follows (loop-ownership.ts):
 * - running: running=true and a live loop (fresh heartbeat, no recorded stop);
 * - stale: running=true but no live loop (never started, stopped, or silent): the watchdog restarts it;
 * - stopping: running=false while its loop is still alive: it ends at its next tick;
 * - stopped: running=false and no live loop;
 * - invalid: `running` holds no boolean (see `status ID`).
 */
export type LoopState = 'running' | 'stale' | 'stopping' | 'stopped' | 'invalid';

/** Where the cadence in force comes from: the item's `waitseconds` ('base'), or a window rule ('window'). */
export type CadenceSource = 'base' | 'window';

export interface CadenceNow {
  /** null: `waitseconds` is invalid (or, with window rules, a pause window is open). */
  readonly seconds: number | null;
  readonly source: CadenceSource;
}

/** One poller's line. Field names are stable: `list --json` prints an array of these. */
export interface PollerLine {
  readonly pollerId: string;
  readonly state: LoopState;
  /** The fleet variant: the shard serving the poller (`s0 → s1` while a move is pending); null otherwise. */
  readonly shard: string | null;
  /** Why the loop counts as not alive (judgeLoop's words), or null when it is alive. */
  readonly stateReason: string | null;
  readonly cadenceSeconds: number | null;
  readonly cadenceSource: CadenceSource;
  /**
   * The next tick a live loop fires (loop-progress.ts): the item's record while it is ahead, else carried forward
   * on the grid (the item is written every ~30 s, not per tick); null when no live loop will fire one.
   */
  readonly nextTickAt: string | null;
  /** Milliseconds until `nextTickAt` (never negative: a passed record is carried forward). */
  readonly nextTickInMs: number | null;
  /** The last tick fired: recorded, or carried forward like `nextTickAt`. */
  readonly lastTickAt: string | null;
  readonly lastTickAgoMs: number | null;
  /** The seq of that last tick (recorded, or carried forward). */
  readonly seq: number | null;
  /** `nextTickAt`, `lastTickAt` and `seq` are carried forward on the grid, not recorded: "about". */
  readonly ticksDerived: boolean;
  /**
   * How late the poller is by its record: for a poller that should run (state running or stale), the time since
   * its recorded next tick beyond what a live loop's record may lag (its stale threshold: 3 intervals, at least
   * 90 s); null when not late. The item records no per-fire lateness (see the controller's round summaries).
   */
  readonly lateMs: number | null;
  readonly skippedTicks: number;
  readonly failedFires: number;
  /** Ticks not fired because the previous fire was still running (overlap skip). */
  readonly overlapSkips: number;
  /** Ticks the worker reported as failed (the worker kit). */
  readonly failedTicks: number;
  /** The latest outcome the worker recorded (successes sampled, failures always); null before any. */
  readonly lastResult: TickOutcome | null;
  readonly lastError: { readonly message: string; readonly at: string | null } | null;
}

export interface ListReport {
  readonly command: 'list';
  readonly table: string;
  readonly sort: ListSort;
  readonly pollers: readonly PollerLine[];
  /** When the report was made (epoch ms), for relative times. */
  readonly reportedAtMs: number;
}

/** Every poller in the table (one Scan, all pages), one line each, sorted. */
export async function list(session: CtlSession, sort: ListSort): Promise<ListReport> {
  const { items, readAtMs, fleet } = await readFleet(session);
  return listReportOf(session.target.tableName, sort, items, readAtMs, fleet);
}

/** Every poller's item, as one consistent Scan (all pages) reads it, and when it was read. */
export interface FleetReading {
  /** The pollers' items: a fleet's shard items (`~shard/…`) are not pollers. */
  readonly items: readonly PollerItem[];
  /** Epoch ms, taken once the Scan has answered: the "now" of every relative time made from it. */
  readonly readAtMs: number;
  /** The fleet variant's placements and shard leases, from the same Scan (NO_FLEET's shape otherwise). */
  readonly fleet: FleetView;
}

/** The one read behind `list` and `watch`; a failure is an AwsCallError that names the table. */
export async function readFleet(session: CtlSession, abortSignal?: AbortSignal): Promise<FleetReading> {
  const { tableName } = session.target;
  const items = await awsCall(session, `listing the pollers in table ${tableName}`, () =>
    session.table.listAll(abortSignal ? { abortSignal } : {}),
  );
  const readAtMs = session.nowMs();
  // The shard items' leases only where pollers name shards (a single-loop table costs no second Scan).
  const onShards = items.some((item) => item.shard !== undefined);
  const shards = onShards ? await readShards(session, abortSignal) : [];
  return { items, readAtMs, fleet: fleetViewOf(items, shards) };
}

/** The list report of items read at `nowMs`: one line each, sorted. */
export function listReportOf(
  table: string,
  sort: ListSort,
  items: readonly PollerItem[],
  nowMs: number,
  fleet: FleetView = NO_FLEET,
): ListReport {
  const pollers = sortLines(
    items.map((item) => lineOf(item, nowMs, fleet)),
    sort,
  );
  return { command: 'list', table, sort, pollers, reportedAtMs: nowMs };
}

export function lineOf(item: PollerItem, nowMs: number, fleet: FleetView = NO_FLEET): PollerLine {
  const placement = fleet.placements.get(item.pollerId);
  // A fleet's poller lives while its shard has an owner; one not placed yet waits for the fleet planner.
  const liveness = !fleet.fleet
    ? judgeLoop(item, nowMs)
    : placement === undefined
      ? ({ alive: false, why: 'not placed on a shard yet' } as const)
      : judgeShard(placement, fleet, nowMs);
  const running = item.operator.running;
  const state: LoopState =
    typeof running !== 'boolean'
      ? 'invalid'
      : running
        ? liveness.alive
          ? 'running'
          : 'stale'
        : liveness.alive
          ? 'stopping'
          : 'stopped';
  const cadence = cadenceNow(item, nowMs);
  const outcomes = outcomeFieldsOf(item);
  const { last, next } = loopProgress(item, nowMs, cadence.seconds);
  const nextMs = timeOf(next?.at);
  const lastMs = timeOf(last?.at);
  const recordedNextMs = timeOf(item.nextTickAt);
  const shouldRun = state === 'running' || state === 'stale';
  const overdueMs = recordedNextMs === undefined ? 0 : nowMs - recordedNextMs - staleAfterMs(item);
  return {
    pollerId: item.pollerId,
    state,
    shard:
      placement === undefined
        ? null
        : placement.moveTo === null
          ? placement.shard
          : `${placement.shard} → ${placement.moveTo}`,
    stateReason: liveness.alive ? null : liveness.why,
    cadenceSeconds: cadence.seconds,
    cadenceSource: cadence.source,
    nextTickAt: next?.at ?? null,
    nextTickInMs: nextMs === undefined ? null : Math.max(0, nextMs - nowMs),
    lastTickAt: last?.at ?? null,
    lastTickAgoMs: lastMs === undefined ? null : Math.max(0, nowMs - lastMs),
    seq: last?.seq ?? null,
    ticksDerived: last?.derived === true || next?.derived === true,
    lateMs: shouldRun && overdueMs > 0 ? overdueMs : null,
    skippedTicks: item.skippedTicks ?? 0,
    failedFires: item.failedFires ?? 0,
    overlapSkips: item.overlapSkips ?? 0,
    failedTicks: outcomes.failedTicks ?? 0,
    lastResult: lastResultOf(outcomes),
    lastError:
      item.lastError === undefined
        ? null
        : { message: item.lastError.message, at: item.lastError.at ?? null },
  };
}

/**
 * The cadence in force now and where it comes from: the first window rule whose window contains now ('window';
 * seconds null for a pause), else the item's `waitseconds` ('base'). The item's own rules and zone, evaluated by
 * the scheduler's `activeRuleAt`, so the CLI and the loop never disagree on which rule is in force.
 */
export function cadenceNow(item: PollerItem, nowMs: number): CadenceNow {
  const config = item.config.config;
  const base: CadenceNow = { seconds: item.waitSeconds ?? null, source: 'base' };
  if (config?.windows === undefined) return base;
  const active = activeRuleAt(config.windows, config.timeZone ?? DEFAULT_TIME_ZONE, nowMs);
  if (active === undefined) return base;
  return {
    seconds: active.cadence.kind === 'paused' ? null : active.cadence.intervalMs / 1_000,
    source: 'window',
  };
}

/** Trouble first: pollers that should run and do not, then unreadable ones, then the rest. */
export const STATE_ORDER: Readonly<Record<LoopState, number>> = {
  stale: 0,
  invalid: 1,
  stopping: 2,
  running: 3,
  stopped: 4,
};

/**
 * id: by poller id; next: soonest next tick first; last: the longest since a tick first (never-fired last);
 * state: trouble first (see STATE_ORDER). Ties, and pollers without the time, go by id.
 */
export function sortLines(lines: readonly PollerLine[], sort: ListSort): PollerLine[] {
  const byId = (a: PollerLine, b: PollerLine) =>
    a.pollerId < b.pollerId ? -1 : a.pollerId > b.pollerId ? 1 : 0;
  const byTime = (key: (line: PollerLine) => number | undefined) => (a: PollerLine, b: PollerLine) => {
    const [left, right] = [key(a), key(b)];
    if (left === right) return byId(a, b);
    if (left === undefined) return 1;
    if (right === undefined) return -1;
    return left - right || byId(a, b);
  };
  const compare = {
    id: byId,
    next: byTime((line) => timeOf(line.nextTickAt)),
    last: byTime((line) => timeOf(line.lastTickAt)),
    state: (a: PollerLine, b: PollerLine) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || byId(a, b),
  }[sort];
  return [...lines].sort(compare);
}

function timeOf(iso: string | null | undefined): number | undefined {
  const ms = Date.parse(iso ?? '');
  return Number.isNaN(ms) ? undefined : ms;
}

/** The latest recorded outcome, when the item holds one whole (result, seq, time and duration). */
export function lastResultOf(fields: OutcomeFields): TickOutcome | null {
  const { lastResult, lastResultSeq, lastResultAt, lastResultMs, lastResultDetail } = fields;
  if (lastResult === undefined || lastResultSeq === undefined || lastResultAt === undefined) return null;
  return {
    seq: lastResultSeq,
    result: lastResult,
    at: lastResultAt,
    durationMs: lastResultMs ?? 0,
    ...(lastResultDetail !== undefined ? { detail: lastResultDetail } : {}),
  };
}
