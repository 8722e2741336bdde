import { SHARD_CAPACITY_FIRES_PER_SECOND } from '../../functions/fleet/fleet-plan';
import { PRICES_USD, TRANSITIONS_PER_ROUND } from '../../functions/scheduling/cost-model';
import { SubMinuteError } from '../../functions/shared/errors';
import { ANCHORS, SECONDS_PER_DAY, usdPerDay } from './anchors-cost';
import { type FleetCost, marginalUsdPerPollerPerDay } from './fleet-cost';
import { type FleetTargets, judgedPrecision } from './fleet-stats';
import { table } from './report-markdown';
import type { FleetRun, ShardFigures } from './run-fleet';

/** The issue's cost targets for the shard fleet, per day at 1 s. */
export const COST_TARGETS = {
  /** One more poller at 1 s: everything but the worker's own invocations. */
  marginalUsdPerPoller: 0.005,
  /** A fleet of this many pollers at 1 s, in total. */
  fleetOf: 100,
  fleetUsd: 0.5,
} as const;

/** The designs the shard fleet is compared with, per poller per day at 1 s. */
export interface CostComparison {
  /** Today's design, one loop per poller: its counted cost at 1 s from the committed timing report. */
  readonly loopPerPoller: { readonly usdPerDay: number; readonly source: string } | undefined;
  /** The EventBridge rule + SQS delays anchor (anchors-cost.ts, anchor d), at 1 s. */
  readonly eventBridgeSqs: { readonly usdPerDay: number; readonly configuration: string };
}

export class CommittedReportError extends SubMinuteError {
  override readonly name = 'CommittedReportError';
}

/**
 * The per-poller $/day of today's design at 1 s from the committed timing report (bench/results/latest.json:
 * `cost[id = ours].cells["1"].usdPerDay`), checked as read.
 */
export function loopCostFromLatest(json: unknown, source: string): { usdPerDay: number; source: string } {
  const costs = isRecord(json) ? json.cost : undefined;
  if (!Array.isArray(costs)) throw new CommittedReportError(`${source}: no "cost" list`);
  const ours = costs.find((entry) => isRecord(entry) && entry.id === 'ours');
  const cells = isRecord(ours) ? ours.cells : undefined;
  const atOne = isRecord(cells) ? cells['1'] : undefined;
  const usd = isRecord(atOne) ? atOne.usdPerDay : undefined;
  if (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 0) {
    throw new CommittedReportError(
      `${source}: cost[ours].cells["1"].usdPerDay must be a number ≥ 0; got ${JSON.stringify(usd)}`,
    );
  }
  const startedAt = isRecord(json) && typeof json.startedAt === 'string' ? `, run of ${json.startedAt}` : '';
  return { usdPerDay: usd, source: `${source}${startedAt}` };
}

/** Anchor d at 1 s, priced by the one price table. */
export function eventBridgeSqsAtOneSecond(): CostComparison['eventBridgeSqs'] {
  const anchor = ANCHORS.find((candidate) => candidate.id === 'd');
  const counts = anchor?.perTick(1);
  if (anchor === undefined || counts === undefined)
    throw new CommittedReportError('anchor d (EventBridge + SQS) has no figure at 1 s');
  return { usdPerDay: usdPerDay(counts, 1), configuration: anchor.configuration };
}

const usd = (value: number) => (Number.isFinite(value) ? `$${value.toPrecision(3)}` : 'n/a');
const yes = (ok: boolean) => (ok ? 'yes' : '**no**');

type ShardRun = FleetRun & { readonly shards: ShardFigures };

export function shardRuns(runs: readonly FleetRun[]): ShardRun[] {
  return runs.filter((run): run is ShardRun => run.shards !== undefined);
}

/** A uniform fleet at 1 s: the runs the issue's cost targets are about. */
const atOneSecond = (run: FleetRun) => run.cadences === 'uniform';

/**
 * The marginal cost of one more poller: between 100 and 1,000 pollers when both were run at 1 s, else between the
 * two smallest sizes at 1 s; undefined with fewer than two.
 */
export function headlineMarginal(
  runs: readonly ShardRun[],
): { readonly from: FleetCost; readonly to: FleetCost; readonly usdPerPoller: number } | undefined {
  const uniform = runs.filter(atOneSecond).map((run) => run.shards.window.cost);
  const bySize = new Map(uniform.map((cost) => [cost.pollers, cost]));
  const hundred = bySize.get(100);
  const thousand = bySize.get(1_000);
  const sorted = [...bySize.values()].sort((a, b) => a.pollers - b.pollers);
  const [from, to] = hundred && thousand ? [hundred, thousand] : [sorted[0], sorted[1]];
  if (from === undefined || to === undefined) return undefined;
  return { from, to, usdPerPoller: marginalUsdPerPollerPerDay(from, to) };
}

export function renderShardCostTable(runs: readonly ShardRun[]): string {
  return table(
    [
      'pollers',
      'cadences',
      'shards (MAX_SHARDS)',
      'fleet $/day',
      '$/poller/day',
      'transitions',
      'Lambda requests',
      'Lambda GB-s',
      'reads',
      'writes (+ index)',
      'logs',
    ],
    runs.map((run) => {
      const { cost } = run.shards.window;
      const served = run.shards.shards.filter((shard) => shard.shard !== 'none').length;
      return [
        String(run.size),
        run.cadences === 'mix' ? '0.25/1/5/60 s' : '1 s',
        `${served} (${run.shards.maxShards})`,
        usd(cost.usdPerDay),
        usd(cost.usdPerPollerPerDay),
        usd(cost.breakdown.transitions),
        usd(cost.breakdown.lambdaRequests),
        usd(cost.breakdown.lambdaDuration),
        usd(cost.breakdown.reads),
        usd(cost.breakdown.writes),
        usd(cost.breakdown.logs),
      ];
    }),
  );
}

export function renderShardCountsTable(runs: readonly ShardRun[]): string {
  const figure = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(1));
  return table(
    [
      'pollers',
      'window (s)',
      'transitions (counted + derived)',
      'controller invocations (counted + derived)',
      'awake (s, all shards)',
      'read units (by operation)',
      'planner Scan (RU, estimated)',
      'write units',
      'index writes (classified)',
      'outcome write units (left out)',
      'controller log lines / bytes',
    ],
    runs.map((run) => {
      const { window } = run.shards;
      const { counts } = window;
      const byOperation = Object.entries(window.readUnitsByOperation)
        .map(([operation, units]) => `${operation} ${figure(units)}`)
        .join(', ');
      return [
        String(run.size),
        counts.windowSeconds.toFixed(1),
        `${figure(counts.stateTransitions - window.derivedHandBackRounds * TRANSITIONS_PER_ROUND)} + ${window.derivedHandBackRounds.toFixed(3)} × ${TRANSITIONS_PER_ROUND}`,
        `${window.controllerInvocations} + ${window.derivedHandBackRounds.toFixed(3)}`,
        (window.controllerAwakeMs / 1000).toFixed(1),
        byOperation || '0',
        figure(window.plannerScanReadUnits),
        figure(counts.writeUnits),
        String(counts.indexWriteUnits),
        figure(window.outcomeWriteUnits),
        `${window.controllerLogLines} / ${Math.round(counts.logBytes)}`,
      ];
    }),
  );
}

export function renderShardLoadTable(runs: readonly ShardRun[], targets: FleetTargets): string {
  const ms = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(1));
  return table(
    [
      'pollers',
      'shard',
      'its pollers',
      'fires/s',
      'precision p99 at the endpoint (ms)',
      'lateness p99 (ms)',
      'within 5 ms at the endpoint',
    ],
    runs.flatMap((run) =>
      run.shards.shards.map((shard) => [
        String(run.size),
        shard.shard,
        String(shard.pollers),
        shard.firesPerSecond.toFixed(1),
        ms(shard.stats.precisionMs.p99),
        ms(shard.stats.latenessMs.p99),
        yes(shard.stats.precisionMs.p99 <= targets.precisionP99Ms),
      ]),
    ),
  );
}

/** What one shard controller awake all day costs in Lambda GB-s alone, at this memory (arm64). */
export function awakeShardUsdPerDay(memoryMb: number): number {
  return (memoryMb / 1024) * SECONDS_PER_DAY * PRICES_USD.lambdaGbSecond.arm64;
}

/** A poller at 1 s's share of a full shard's awake day: 1/capacity of it. */
function shardShareUsdPerDay(memoryMb: number): number {
  return awakeShardUsdPerDay(memoryMb) / SHARD_CAPACITY_FIRES_PER_SECOND;
}

/** The largest shard memory (MB) whose awake day stays within `usd`. */
export function largestMemoryWithin(usd: number): number {
  return Math.floor((usd / (SECONDS_PER_DAY * PRICES_USD.lambdaGbSecond.arm64)) * 1024);
}

/** The targets the issue sets on cost, judged on what was run (a size not run is said to be missing). */
export function costVerdictLines(runs: readonly ShardRun[]): string[] {
  const lines: string[] = [];
  const memoryMb = runs[0]?.shards.controllerMemoryMb;
  if (memoryMb !== undefined) {
    lines.push(
      `- Floor: one ${memoryMb} MB arm64 shard awake all day costs ${usd(awakeShardUsdPerDay(memoryMb))}/day in GB-s alone; a fleet of ${COST_TARGETS.fleetOf} at 1 s can meet $${COST_TARGETS.fleetUsd.toFixed(2)}/day on one shard only at ${largestMemoryWithin(COST_TARGETS.fleetUsd)} MB or less (\`--controller-memory\`), before its reads and writes.`,
      `- Shards grow with the load (${SHARD_CAPACITY_FIRES_PER_SECOND} fires/s each at the committed \`SHARD_CAPACITY_FIRES_PER_SECOND\`), so one more poller at 1 s also brings 1/${SHARD_CAPACITY_FIRES_PER_SECOND} of a shard: ${usd(shardShareUsdPerDay(memoryMb))}/day of awake GB-s; the marginal target leaves room for that only with a capacity of at least ${Math.ceil(awakeShardUsdPerDay(memoryMb) / COST_TARGETS.marginalUsdPerPoller)} fires/s per ${memoryMb} MB shard.`,
    );
  }
  const marginal = headlineMarginal(runs);
  lines.push(
    marginal === undefined
      ? `- Marginal cost of one more poller at 1 s: **not measured** (needs two fleet sizes at 1 s, ideally 100 and 1,000).`
      : `- Marginal cost of one more poller at 1 s, from ${marginal.from.pollers} to ${marginal.to.pollers} pollers: **${usd(marginal.usdPerPoller)}/day** (target ≤ $${COST_TARGETS.marginalUsdPerPoller}): ${yes(marginal.usdPerPoller <= COST_TARGETS.marginalUsdPerPoller)}.`,
  );
  const full = fullShardMarginal(runs);
  if (full !== undefined) {
    lines.push(
      `- At full shards (a fleet growing by whole shards): one more poller at 1 s brings 1/${SHARD_CAPACITY_FIRES_PER_SECOND} of a shard's awake day (${usd(full.shareUsd)}) and its share of everything else the ${full.pollers} pollers spent (${usd(full.otherUsd)}: transitions, requests, reads, writes, logs): **${usd(full.usdPerPoller)}/day** (target ≤ $${COST_TARGETS.marginalUsdPerPoller}): ${yes(full.usdPerPoller <= COST_TARGETS.marginalUsdPerPoller)}. The slope above flatters when the smaller fleet fills its shards less.`,
    );
  }
  for (const size of [100, 1_000]) {
    const run = runs.find((candidate) => atOneSecond(candidate) && candidate.size === size);
    if (run === undefined) continue;
    lines.push(
      `- ${size} pollers at 1 s: ${usd(run.shards.window.cost.usdPerPollerPerDay)} per poller per day on average (target ≤ $${COST_TARGETS.marginalUsdPerPoller} at the margin).`,
    );
  }
  const hundred = runs.find((run) => atOneSecond(run) && run.size === COST_TARGETS.fleetOf);
  lines.push(
    hundred === undefined
      ? `- The fleet of ${COST_TARGETS.fleetOf} at 1 s: **not run**.`
      : `- The fleet of ${COST_TARGETS.fleetOf} at 1 s: **${usd(hundred.shards.window.cost.usdPerDay)}/day** in total (target ≤ $${COST_TARGETS.fleetUsd.toFixed(2)}): ${yes(hundred.shards.window.cost.usdPerDay <= COST_TARGETS.fleetUsd)}.`,
  );
  return lines;
}

/**
 * The marginal cost of a poller at 1 s once shards are full: 1/capacity of a shard's awake day, plus what the largest
 * fleet run at 1 s spent per poller on everything but the shards' GB-s.
 */
export function fullShardMarginal(runs: readonly ShardRun[]):
  | {
      readonly pollers: number;
      readonly shareUsd: number;
      readonly otherUsd: number;
      readonly usdPerPoller: number;
    }
  | undefined {
  const largest = runs.filter(atOneSecond).sort((a, b) => b.size - a.size)[0];
  if (largest === undefined || largest.size === 0) return undefined;
  const cost = largest.shards.window.cost;
  const shareUsd = shardShareUsdPerDay(largest.shards.controllerMemoryMb);
  const otherUsd = (cost.usdPerDay - cost.breakdown.lambdaDuration) / cost.pollers;
  return { pollers: cost.pollers, shareUsd, otherUsd, usdPerPoller: shareUsd + otherUsd };
}

export function renderComparison(runs: readonly ShardRun[], comparison: CostComparison): string {
  const marginal = headlineMarginal(runs);
  const rows: string[][] = [];
  if (marginal !== undefined) {
    rows.push([
      `shards, one more poller (${marginal.from.pollers} → ${marginal.to.pollers})`,
      usd(marginal.usdPerPoller),
      'counted: the slope between the two fleets',
    ]);
  }
  for (const run of runs.filter(atOneSecond)) {
    rows.push([
      `shards, fleet of ${run.size} (average)`,
      usd(run.shards.window.cost.usdPerPollerPerDay),
      `counted over ${run.shards.window.counts.windowSeconds.toFixed(0)} s`,
    ]);
  }
  rows.push([
    "today's design: one loop and one 128 MB controller per poller",
    comparison.loopPerPoller === undefined ? 'n/a' : usd(comparison.loopPerPoller.usdPerDay),
    comparison.loopPerPoller?.source ?? 'bench/results/latest.json not found',
  ]);
  rows.push([
    'EventBridge rule + SQS delays (anchor d; not Step Functions, whole seconds only)',
    usd(comparison.eventBridgeSqs.usdPerDay),
    comparison.eventBridgeSqs.configuration,
  ]);
  return table(['design, per poller at 1 s', '$/day', 'how'], rows);
}

/**
 * The capacity search's answer: the largest fires/s one shard sustained with precision p99 within its target, and
 * the first that did not; undefined bounds where the run gave none.
 */
export function shardCapacity(
  runs: readonly FleetRun[],
  targets: FleetTargets,
): { readonly sustained: number | undefined; readonly failedAt: number | undefined } {
  const sorted = [...runs].sort((a, b) => a.size - b.size);
  let sustained: number | undefined;
  for (const run of sorted) {
    if (!(judgedPrecision(run.stats).p99 <= targets.precisionP99Ms)) return { sustained, failedAt: run.size };
    sustained = run.size;
  }
  return { sustained, failedAt: undefined };
}

export function capacityLines(runs: readonly FleetRun[], targets: FleetTargets, memoryMb: number): string[] {
  const { sustained, failedAt } = shardCapacity(runs, targets);
  const answer =
    sustained === undefined
      ? `**No rate met precision p99 ≤ ${targets.precisionP99Ms} ms** on one ${memoryMb} MB shard.`
      : `**One ${memoryMb} MB shard sustained ${sustained} fires/s** with precision p99 ≤ ${targets.precisionP99Ms} ms${failedAt === undefined ? ' (the highest rate tried: the capacity is at least this)' : `; at ${failedAt} fires/s it did not`}.`;
  return [
    answer,
    '',
    `\`SHARD_CAPACITY_FIRES_PER_SECOND\` (functions/fleet/fleet-plan.ts) is ${SHARD_CAPACITY_FIRES_PER_SECOND} now; it is to be the sustained figure of a committed run of this search.`,
  ];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
