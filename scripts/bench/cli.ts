import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONTROLLER_MEMORY_MB } from '../../functions/scheduling/cost-model';
import { renderLatenessChart } from './chart-svg';
import type { BenchOptions } from './cli-options';
import { HARSH_FIGURES, SeededLatencyModel, scaleFigures } from './latency-model';
import { BenchProgress, type ProgressOutput, plannedRunMs, STEP_OVERHEAD_MS } from './progress';
import { renderReport } from './report-markdown';
import {
  assembleResult,
  type BenchResult,
  benchEnvironment,
  SWEEP_MEMORY_MB,
  TIMING_CADENCES_S,
} from './results';
import { type CadenceRun, runCadence } from './run-cadence';

/** Cadences whose per-tick counts the full run measures directly (the timing runs cover 1 s). */
const COUNT_RUNS = [
  { everySeconds: 5, ticks: 12 },
  { everySeconds: 59, ticks: 3 },
] as const;

/** The recipe is timed at this cadence (it is n/a below 1 s, and drifts the same way at any cadence). */
const RECIPE_CADENCE_S = 1;

/** Slow cadences get a fifth of the ticks (at least 6): 40 ticks at 5 s already take over three minutes. */
function ticksAt(everySeconds: number, ticks: number): number {
  return everySeconds >= 5 ? Math.max(6, Math.round(ticks / 5)) : ticks;
}

/** A controller timeout this short makes the loop hand back every couple of ticks, so rounds can be counted. */
const ROUNDS_RUN = { everySeconds: 1, controllerTimeoutMs: 7_000, quickMs: 15_000, fullMs: 40_000 } as const;

/** The seed of the n-th run of a benchmark seeded `seed` (a fixed odd multiplier keeps the streams apart). */
export function runSeed(seed: number, index: number): number {
  return (seed + Math.imul(index, 0x9e3779b1)) >>> 0;
}

export interface BenchOutput {
  readonly result: BenchResult;
  readonly markdown: string;
  readonly files: readonly string[];
}

/** Progress on stderr: rewritten in place on a terminal, otherwise whole lines through `log`. */
function stderrProgress(log: (line: string) => void): ProgressOutput {
  return process.stderr.isTTY
    ? { isTTY: true, write: (text) => process.stderr.write(text) }
    : { isTTY: false, write: (text) => log(text.replace(/\n$/, '')) };
}

export async function runBench(
  options: BenchOptions,
  log: (line: string) => void,
  progressOutput?: ProgressOutput,
): Promise<BenchOutput> {
  const started = Date.now();
  const figures = scaleFigures(HARSH_FIGURES, options.latencyScale);
  // Every run draws its own stream of the same model, so one unlucky sequence does not repeat at every cadence.
  let runIndex = 0;
  const model = () => new SeededLatencyModel(runSeed(options.seed, runIndex++), figures);
  const describe = new SeededLatencyModel(options.seed, figures);

  // Every size at every timing cadence, each controller in a sandbox confined to its memory's share of a core.
  // The recipe runs once, at the deployed default size, at 1 s.
  const timingPlan = SWEEP_MEMORY_MB.flatMap((controllerMemoryMb) =>
    TIMING_CADENCES_S.map((everySeconds) => ({
      controllerMemoryMb,
      everySeconds,
      withRecipe: controllerMemoryMb === DEFAULT_CONTROLLER_MEMORY_MB && everySeconds === RECIPE_CADENCE_S,
      ticks: ticksAt(everySeconds, options.ticks),
    })),
  );
  const countPlan = options.quick ? [] : COUNT_RUNS;
  const roundsMs = options.quick ? ROUNDS_RUN.quickMs : ROUNDS_RUN.fullMs;
  const progress = new BenchProgress(
    [
      ...timingPlan.map((run) => ({
        label: `timing ${run.controllerMemoryMb} MB, ${run.everySeconds} s: ${run.ticks} ticks${run.withRecipe ? ', then the recipe' : ''}`,
        plannedMs: plannedRunMs(run.everySeconds, run.ticks, run.withRecipe),
      })),
      {
        label: `rounds run: ${ROUNDS_RUN.everySeconds} s with a ${ROUNDS_RUN.controllerTimeoutMs} ms controller timeout`,
        plannedMs: STEP_OVERHEAD_MS + roundsMs,
      },
      ...countPlan.map((run) => ({
        label: `count run ${run.everySeconds} s: ${run.ticks} ticks`,
        plannedMs: plannedRunMs(run.everySeconds, run.ticks, false),
      })),
    ],
    progressOutput ?? stderrProgress(log),
  );
  const say = (line: string) => progress.log(line);
  let step = 0;

  const timingRuns: CadenceRun[] = [];
  const countRuns: CadenceRun[] = [];
  let roundsRun: CadenceRun | undefined;
  try {
    for (const { controllerMemoryMb, everySeconds, withRecipe, ticks } of timingPlan) {
      progress.begin(step++);
      timingRuns.push(
        await runCadence({
          everySeconds,
          ticks,
          kind: 'timing',
          withRecipe,
          latency: model(),
          controllerMemoryMb,
          progress: say,
        }),
      );
      say(`  ${controllerMemoryMb} MB, ${everySeconds} s: ${timingRuns.at(-1)?.cpuShare}`);
    }
    progress.begin(step++);
    roundsRun = await runCadence({
      everySeconds: ROUNDS_RUN.everySeconds,
      durationMs: roundsMs,
      kind: 'rounds',
      withRecipe: false,
      latency: model(),
      controllerTimeoutMs: ROUNDS_RUN.controllerTimeoutMs,
    });
    for (const { everySeconds, ticks } of countPlan) {
      progress.begin(step++);
      countRuns.push(
        await runCadence({
          everySeconds,
          ticks,
          kind: 'count',
          withRecipe: false,
          latency: model(),
          progress: say,
        }),
      );
    }
  } finally {
    // Also when a run fails: the terminal's progress line is cleared and its timer stopped.
    progress.finish();
  }

  const result = assembleResult({
    mode: options.quick ? 'quick' : 'full',
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    environment: benchEnvironment(),
    latency: { description: describe.describe(), figures, asyncInvokeP99Ms: describe.asyncInvokeP99Ms() },
    timingRuns,
    countRuns,
    roundsRun,
    recipeSkippedNote: `timed at ${RECIPE_CADENCE_S} s and ${DEFAULT_CONTROLLER_MEMORY_MB} MB only`,
  });

  mkdirSync(options.outDir, { recursive: true });
  const chartName = `${options.name}-lateness-1s.svg`;
  const chart = renderLatenessChart(
    [
      { label: 'ours (anchored, stay-awake)', color: '#1f77b4', values: result.series.ours },
      { label: 'relative-wait recipe', color: '#d62728', values: result.series.recipe },
    ],
    {
      title: `Lateness per tick at 1 s: worker start − scheduled time (${result.mode} run, seed ${options.seed})`,
      xLabel: 'tick index',
      yLabel: 'lateness (log scale)',
    },
  );
  const markdown = renderReport(result, chartName);
  const files = [
    join(options.outDir, `${options.name}.md`),
    join(options.outDir, `${options.name}.json`),
    join(options.outDir, chartName),
  ];
  writeFileSync(files[0] as string, markdown);
  writeFileSync(files[1] as string, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(files[2] as string, chart);
  return { result, markdown, files };
}
