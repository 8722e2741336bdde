import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions, FleetOptions } from './cli-options';
import { type FleetBenchResult, renderFleetReport } from './fleet-report';
import { type FleetTargets, failsClearly, judgedPrecision } from './fleet-stats';
import { HARSH_FIGURES, SeededLatencyModel, scaleFigures } from './latency-model';
import { benchEnvironment } from './results';
import { type FleetRun, runFleet } from './run-fleet';
import { type CostComparison, eventBridgeSqsAtOneSecond, loopCostFromLatest } from './shard-report';

/** Today's design's counted cost per poller: the committed timing report. */
const COMMITTED_TIMING_REPORT = 'bench/results/latest.json';

/** The shard fleet's comparison: today's loop per poller (when the committed report is there) and anchor d. */
export function costComparison(path = COMMITTED_TIMING_REPORT): CostComparison {
  return {
    loopPerPoller: existsSync(path)
      ? loopCostFromLatest(JSON.parse(readFileSync(path, 'utf8')), path)
      : undefined,
    eventBridgeSqs: eventBridgeSqsAtOneSecond(),
  };
}

/**
 * After a size, the sizes left are not run when: the capacity search's shard missed its precision target (the
 * capacity is found); or today's loops failed clearly (a bigger fleet only does worse). A shard fleet runs every
 * size asked: each one's cost is counted, and the marginal cost needs two of them.
 */
export function stopsAfter(run: FleetRun, fleet: FleetOptions, targets: FleetTargets): boolean {
  if (fleet.capacitySearch) return !run.verdict.precision;
  if (fleet.serve === 'shards') return false;
  return failsClearly(run.stats, targets);
}

/** The targets: the controller's own precision, and lateness no worse than the model's invoke plus this. */
const PRECISION_P99_MS = 5;
const LATENESS_MARGIN_MS = 20;

/**
 * A size starts once the machine's 1-minute load is below 1.25 per core (2.5 on two cores), or after 3 minutes of
 * waiting: the previous size's own load takes a minute or two to decay, and another job on the machine would skew
 * every figure. The load each size started at is in its report row.
 */
const MAX_LOAD_PER_CPU = 1.25;
const LOAD_WAIT_CAP_MS = 180_000;

async function settleLoad(log: (line: string) => void): Promise<void> {
  const limit = MAX_LOAD_PER_CPU * cpus().length;
  const waitingSince = Date.now();
  for (;;) {
    const load = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    if (load < limit) return;
    if (Date.now() - waitingSince >= LOAD_WAIT_CAP_MS) {
      log(`  load ${load} still ≥ ${limit} after ${LOAD_WAIT_CAP_MS / 1000} s: starting anyway`);
      return;
    }
    log(`  load ${load} ≥ ${limit}: waiting for it to settle`);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  }
}

export interface FleetBenchOutput {
  readonly markdown: string;
  readonly files: readonly string[];
}

/**
 * `npm run bench -- --fleet N[,N…]` (today's loops, or `--serve shards`) and `--shard-capacity F[,F…]`: each size on
 * a fresh local stack, smallest first. The report is rewritten after every size, so a run cut short keeps what it
 * measured; which sizes are left out after one is `stopsAfter`'s.
 */
export async function runFleetBench(
  options: BenchOptions,
  fleet: FleetOptions,
  command: string,
  log: (line: string) => void,
): Promise<FleetBenchOutput> {
  const started = Date.now();
  const figures = scaleFigures(HARSH_FIGURES, options.latencyScale);
  const describe = new SeededLatencyModel(options.seed, figures);
  const targets: FleetTargets = {
    precisionP99Ms: PRECISION_P99_MS,
    latenessP99Ms: describe.asyncInvokeP99Ms() + LATENESS_MARGIN_MS,
  };
  mkdirSync(options.outDir, { recursive: true });
  const files = [join(options.outDir, `${options.name}.md`), join(options.outDir, `${options.name}.json`)];
  const runs: FleetRun[] = [];
  const comparison = fleet.serve === 'shards' ? costComparison() : undefined;
  let markdown = '';
  const write = (skippedSizes: readonly number[]) => {
    const result: FleetBenchResult = {
      command,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      environment: benchEnvironment(),
      latency: describe.describe(),
      targets,
      runs,
      skippedSizes,
      serve: fleet.serve,
      capacitySearch: fleet.capacitySearch,
      workerInProcess: fleet.workerInProcess,
      ...(comparison === undefined ? {} : { comparison }),
    };
    markdown = renderFleetReport(result);
    writeFileSync(files[0] as string, markdown);
    writeFileSync(files[1] as string, `${JSON.stringify(result, null, 2)}\n`);
  };
  for (const [index, size] of fleet.sizes.entries()) {
    await settleLoad(log);
    // Every size draws the same stream of the model: only the fleet size differs between them.
    const run = await runFleet({
      size,
      fleet,
      latency: new SeededLatencyModel(options.seed, figures),
      targets,
      progress: log,
    });
    runs.push(run);
    const cost = run.shards?.window.cost;
    log(
      `  ${size} pollers: precision p99 ${judgedPrecision(run.stats).p99.toFixed(1)} ms (at the endpoint ${run.stats.precisionMs.p99.toFixed(1)} ms), lateness p99 ${run.stats.latenessMs.p99.toFixed(1)} ms, ` +
        `${run.stats.duplicates} duplicates, ${run.stats.missedTicks} missed: ${run.verdict.all ? 'met' : 'FAILED'}` +
        (cost === undefined
          ? ''
          : `; $${cost.usdPerDay.toPrecision(3)}/day, $${cost.usdPerPollerPerDay.toPrecision(3)} per poller`),
    );
    const skipped = stopsAfter(run, fleet, targets) ? fleet.sizes.slice(index + 1) : [];
    write(skipped);
    if (skipped.length > 0) break;
  }
  return { markdown, files };
}
