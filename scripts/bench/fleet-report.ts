import {
  type FleetTargets,
  type FleetTickStats,
  type FleetVerdict,
  judgeFleet,
  type Percentiles,
} from './fleet-stats';
import type { KindUsage } from './process-usage';
import { table } from './report-markdown';
import type { BenchEnvironment } from './results';
import type { FleetRun } from './run-fleet';
import {
  type CostComparison,
  capacityLines,
  costVerdictLines,
  renderComparison,
  renderShardCostTable,
  renderShardCountsTable,
  renderShardLoadTable,
  shardRuns,
} from './shard-report';
import { AWAKE_INVOCATION_MS } from './shard-window';

/** What `npm run bench -- --fleet …` writes to fleet.json. */
export interface FleetBenchResult {
  readonly command: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly environment: BenchEnvironment;
  readonly latency: string;
  readonly targets: FleetTargets;
  readonly runs: readonly FleetRun[];
  /** Sizes not run because a smaller fleet already failed clearly (a bigger one only does worse). */
  readonly skippedSizes: readonly number[];
  /** Which design served the pollers: today's loops, or the fleet variant's shards (`--serve shards`). */
  readonly serve: 'loops' | 'shards';
  /** `--shard-capacity`: the sizes are fires/s on one shard, and the report answers with its capacity. */
  readonly capacitySearch: boolean;
  /** With shards: the designs the counted cost is compared with. */
  readonly comparison?: CostComparison;
  /** `--worker in-process`: the worker ran in the stack's own process, not in sandboxes. */
  readonly workerInProcess: boolean;
}

const ms = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(1));
const triple = (summary: Percentiles) => `${ms(summary.p50)} / ${ms(summary.p99)} / ${ms(summary.max)}`;
const pass = (ok: boolean) => (ok ? 'yes' : '**no**');
const percent = (value: number) => `${value.toFixed(1)}%`;
const mb = (value: number) => value.toFixed(0);

/** A share of one core at or above this is a process that is CPU-bound (it waits for a core, not for I/O). */
const BOUND_SHARE = 0.9;

export function renderFleetTable(runs: readonly FleetRun[], targets: FleetTargets): string {
  return table(
    [
      'pollers',
      'cadences',
      'fires',
      "precision p50 / p99 / max (ms): the controllers' own; at the endpoint",
      'lateness p50 / p99 / max (ms)',
      'duplicates',
      'missed (empty slots − counted skips)',
      'precision ok',
      'lateness ok',
      'all targets',
    ],
    runs.flatMap((run) => [
      tickCells(String(run.size), run.cadences === 'mix' ? '0.25/1/5/60 s' : '1 s', run.stats, run.verdict),
      ...run.byCadence.map(({ everySeconds, stats }) =>
        tickCells(`${run.size}: of them`, `${everySeconds} s`, stats, judgeFleet(stats, targets)),
      ),
    ]),
  );
}

function tickCells(size: string, cadence: string, stats: FleetTickStats, verdict: FleetVerdict): string[] {
  // No slot in the window (a 60 s poller in a short one): nothing to judge.
  const judged = stats.fires + stats.emptySlots > 0;
  const verdictCell = (ok: boolean) => (judged ? pass(ok) : '—');
  return [
    size,
    cadence,
    String(stats.fires),
    stats.controllerPrecisionMs === undefined
      ? triple(stats.precisionMs)
      : `${triple(stats.controllerPrecisionMs)}; ${triple(stats.precisionMs)}`,
    triple(stats.latenessMs),
    String(stats.duplicates),
    `${stats.missedTicks} (${stats.emptySlots} − ${stats.countedSkips})`,
    verdictCell(verdict.precision),
    verdictCell(verdict.lateness),
    verdictCell(verdict.all),
  ];
}

export function renderUsageTable(runs: readonly FleetRun[]): string {
  return table(
    [
      'pollers',
      'process kind',
      'processes',
      'CPU (% of a core, all)',
      'busiest one',
      'waiting to run (%, all)',
      'throttled by quota (%, all)',
      'RSS all (MB)',
      'largest (MB)',
    ],
    runs.flatMap((run) =>
      run.usage.map((usage) => [
        String(run.size),
        usage.kind,
        String(usage.processes),
        percent(usage.cpuPercent),
        percent(usage.maxProcessCpuPercent),
        percent(usage.runQueueWaitPercent),
        percent(usage.throttledPercent),
        mb(usage.rssMb),
        mb(usage.maxProcessRssMb),
      ]),
    ),
  );
}

/** One sentence on which process is CPU-bound, or which waits for a core, or that none does, from one run's usage. */
export function whereTheTimeGoes(usage: readonly KindUsage[], cpus: number): string {
  const total = usage.reduce((sum, kind) => sum + kind.cpuPercent, 0);
  const stack = usage.find((kind) => kind.kind === 'stack');
  const busiest = [...usage].sort((a, b) => b.cpuPercent - a.cpuPercent)[0];
  const waited = [...usage].sort((a, b) => b.runQueueWaitPercent - a.runQueueWaitPercent)[0];
  const machine = `${percent(total)} of one core in all (the machine has ${cpus})`;
  const seconds = (percentOfWindow: number) => `${(percentOfWindow / 100).toFixed(1)} s per second`;
  const waiting =
    waited && waited.runQueueWaitPercent >= 1
      ? `the ${waited.kind} processes waited to run ${seconds(waited.runQueueWaitPercent)} in all, their cgroups held back by their quota ${seconds(waited.throttledPercent)}`
      : undefined;
  if (stack && stack.cpuPercent >= BOUND_SHARE * 100) {
    return (
      `the local stack's own process is CPU-bound at ${percent(stack.cpuPercent)} of its one core (one event loop ` +
      `for dynalite, the Step Functions interpreter and the Lambda endpoint): every tick's DynamoDB request and ` +
      `invoke queues behind it; ${machine}${waiting ? `; ${waiting}` : ''}`
    );
  }
  if (total >= BOUND_SHARE * 100 * cpus)
    return `the machine is saturated: ${machine}${waiting ? `; ${waiting}` : ''}`;
  // Waiting far beyond what the quota explains is waiting for a core: the processes outnumber the machine's cores.
  if (
    waited &&
    waiting &&
    waited.runQueueWaitPercent >= CONTENDED_WAIT_PERCENT &&
    waited.runQueueWaitPercent > 2 * waited.throttledPercent
  ) {
    return `the cores are contended, not one process: ${waiting}, while using ${percent(waited.cpuPercent)} of one core (${waited.processes} processes); ${machine}`;
  }
  // Held back by the quota at least as long as waiting: each sandbox's own share, not the machine, sets the pace.
  if (waited && waiting && waited.throttledPercent >= CONTENDED_WAIT_PERCENT) {
    return `no process is CPU-bound and the cores are not saturated; the ${waited.kind} sandboxes are held back by their own CPU quota: ${waiting}, while using ${percent(waited.cpuPercent)} of one core (${waited.processes} processes); ${machine}`;
  }
  if (!busiest) return 'no process was measured';
  return `no process is CPU-bound; the busiest kind is ${busiest.kind} at ${percent(busiest.cpuPercent)} (${busiest.processes} processes); ${machine}${waiting ? `; ${waiting}` : ''}`;
}

/** A kind whose processes together wait to run a whole second per second or more. */
const CONTENDED_WAIT_PERCENT = 100;

function titleOf(result: FleetBenchResult): string {
  if (result.capacitySearch)
    return '# Shard capacity (the fleet variant: one shard controller, rising fires/s)';
  if (result.serve === 'shards')
    return '# Fleet benchmark (the fleet variant: shared shard controllers, `--serve shards`)';
  return "# Fleet benchmark (today's design: one execution and one controller per poller)";
}

export function renderFleetReport(result: FleetBenchResult): string {
  const largestPassing = result.runs
    .filter((run) => run.verdict.all)
    .reduce<number | undefined>((largest, run) => Math.max(largest ?? 0, run.size), undefined);
  const shards = shardRuns(result.runs);
  const memoryMb = shards[0]?.shards.controllerMemoryMb;
  const lines = [
    titleOf(result),
    '',
    `\`${result.command}\` — started ${result.startedAt}, ${Math.round(result.durationMs / 1000)} s, Node ${result.environment.node}, ${result.environment.cpus} CPUs, ${result.environment.platform}.`,
    '',
    ...(result.workerInProcess
      ? [
          "**The worker ran in the local stack's own process (`--worker in-process`), not in sandboxes**: this measures the controller side without the worker's sandbox processes on the machine; worker lateness includes the stack's event loop running the worker's handler, and the `worker` kind has no process of its own.",
          '',
        ]
      : []),
    `Latency model: ${result.latency}. Targets: controller precision p99 ≤ ${ms(result.targets.precisionP99Ms)} ms (released − due on the shard controllers' own clock, from their metric lines, where they report it; else received at the local Lambda endpoint − due, shown beside it: that arrival also waits on the local stack's one process, dynalite's Query and Scans included); worker lateness p99 ≤ ${ms(result.targets.latenessP99Ms)} ms (the model's async-invoke p99 + 20 ms); no duplicate; no missed tick (a grid slot of the window with no fire that the item does not count as skipped).`,
    '',
  ];
  if (result.capacitySearch) {
    lines.push(
      ...capacityLines(result.runs, result.targets, memoryMb ?? 0),
      '',
      `Each row is one shard (MAX_SHARDS 1) serving that many pollers at 1 s, on a fresh local stack.`,
      '',
    );
  } else {
    lines.push(
      largestPassing === undefined
        ? '**No fleet size met every target.**'
        : `**Largest fleet that met every target: ${largestPassing} pollers.**`,
      '',
    );
  }
  if (shards.length > 0 && !result.capacitySearch) {
    lines.push(
      '## Cost (counted over the measured window, scaled to a day)',
      '',
      ...costVerdictLines(shards),
      '',
      renderShardCostTable(shards),
      '',
      `Everything the fleet spends but the worker's own invocations, us-east-1 list prices (the project's one price table): Standard transitions of the shard executions; the control-plane function's requests and its GB-s at ${memoryMb} MB arm64 (each invocation's time inside the window: a shard stays awake across it), and a hand-back round (its transitions, request and platform log lines) per ${AWAKE_INVOCATION_MS / 1000} s awake, derived, since a short window rarely sees one; the table's read and write units as the local table charged them (a Query by the bytes it read); index writes, which the local table does not report, classified from each write's update expression (one for a write naming an attribute the index projects, two for one setting \`shard\`: errs high); the fleet planner's Scan, estimated as one strongly consistent Scan of the whole table a minute (the local stack's own Scans, standing in for the stream, are left out); the control-plane function's log lines as CloudWatch ingests them, plus the platform's START/END/REPORT lines per invocation. Left out: the worker kit's outcome writes (the user's worker writes them).`,
      '',
      renderShardCountsTable(shards),
      '',
    );
    if (result.comparison !== undefined) {
      lines.push(
        '## Compared, per poller per day at 1 s',
        '',
        renderComparison(shards, result.comparison),
        '',
      );
    }
  }
  lines.push('## Ticks', '', renderFleetTable(result.runs, result.targets), '');
  if (shards.length > 0) {
    lines.push(
      '## Shards',
      '',
      "Each shard's pollers as the items named them at the window's end, and the fires scheduled in the window per second.",
      '',
      renderShardLoadTable(shards, result.targets),
      '',
    );
  }
  lines.push(
    '## CPU and memory per process kind (over the measured window)',
    '',
    `CPU is utime + stime from /proc/<pid>/stat over the window, in % of one core; RSS is each process's largest VmRSS sample (every 5 s), summed per kind. Waiting to run is the time runnable but not running (/proc/<pid>/schedstat, for lack of a free core or of quota), throttled the time the sandbox's cgroup was held back by its quota (cpu.stat), both summed over the kind's processes in % of the window (200% is two processes waiting all the time). \`stack\` is the one Node.js process running dynalite, the Step Functions interpreter, the Lambda endpoint, the table watcher that stands in for DynamoDB Streams (a Scan every 250 ms, which AWS does not need) and the benchmark; \`controller\` and \`worker\` are the sandbox processes (${shards.length > 0 ? `a shard controller at ${memoryMb} MB: ${((100 * (memoryMb ?? 0)) / 1769).toFixed(0)}% of a core; a worker at 128 MB: 7.2%` : '128 MB: 7.2% of a core each'}, where the cgroup applies). The worker is the user's function: its figures are apart from the controller's.`,
    '',
    renderUsageTable(result.runs),
    '',
    '## Where the time goes',
    '',
    ...result.runs.map(
      (run) =>
        `- ${run.size} pollers: ${whereTheTimeGoes(run.usage, result.environment.cpus)}. Machine memory in use ${mb(run.machineMemoryMb.before)} MB before the stack, ${mb(run.machineMemoryMb.peak)} MB at its peak; load average at its start ${run.loadAverageAtStart.toFixed(2)}; warm-up ${Math.round(run.warmupMs / 1000)} s; ${run.cpuShare}.`,
    ),
    '',
  );
  if (result.skippedSizes.length > 0) {
    lines.push(
      result.capacitySearch
        ? `Not run: ${result.skippedSizes.join(', ')} fires/s (a lower rate already missed the precision target).`
        : `Not run: ${result.skippedSizes.join(', ')} pollers (a smaller fleet already failed clearly: lateness p99 over twice its target, over 1% of ticks missed, or a duplicate; a bigger fleet only does worse).`,
      '',
    );
  }
  const problems = result.runs.filter((run) => run.problems.length > 0);
  if (problems.length > 0) {
    lines.push('## Errors and warnings', '');
    for (const run of problems) {
      lines.push(`${run.size} pollers:`, '', ...run.problems.map((problem) => `- ${problem}`), '');
    }
  }
  return lines.join('\n');
}
