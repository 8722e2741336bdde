import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { renderLatenessChart } from './chart-svg';
import type { BenchOptions } from './cli-options';
import { HARSH_FIGURES, SeededLatencyModel, scaleFigures } from './latency-model';
import { renderReport } from './report-markdown';
import { assembleResult, type BenchResult, TIMING_CADENCES_S } from './results';
import { type CadenceRun, runCadence } from './run-cadence';

/** Cadences whose per-tick counts the full run measures directly (the timing runs cover 1 s). */
const COUNT_RUNS = [
  { everySeconds: 5, ticks: 12 },
  { everySeconds: 59, ticks: 3 },
] as const;

/** --quick times the recipe at this cadence only (it is n/a below 1 s anyway). */
const QUICK_RECIPE_CADENCE_S = 1;

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

export async function runBench(options: BenchOptions, log: (line: string) => void): Promise<BenchOutput> {
  const started = Date.now();
  const figures = scaleFigures(HARSH_FIGURES, options.latencyScale);
  // Every run draws its own stream of the same model, so one unlucky sequence does not repeat at every cadence.
  let runIndex = 0;
  const model = () => new SeededLatencyModel(runSeed(options.seed, runIndex++), figures);
  const describe = new SeededLatencyModel(options.seed, figures);

  const timingRuns: CadenceRun[] = [];
  for (const everySeconds of TIMING_CADENCES_S) {
    log(`timing ${everySeconds} s: ${options.ticks} ticks, ours and (whole seconds) the recipe`);
    timingRuns.push(
      await runCadence({
        everySeconds,
        ticks: options.ticks,
        kind: 'timing',
        withRecipe: !options.quick || everySeconds === QUICK_RECIPE_CADENCE_S,
        latency: model(),
        progress: log,
      }),
    );
  }
  log(
    `rounds run: ${ROUNDS_RUN.everySeconds} s with a ${ROUNDS_RUN.controllerTimeoutMs} ms controller timeout`,
  );
  const roundsRun = await runCadence({
    everySeconds: ROUNDS_RUN.everySeconds,
    durationMs: options.quick ? ROUNDS_RUN.quickMs : ROUNDS_RUN.fullMs,
    kind: 'rounds',
    withRecipe: false,
    latency: model(),
    controllerTimeoutMs: ROUNDS_RUN.controllerTimeoutMs,
  });
  const countRuns: CadenceRun[] = [];
  if (!options.quick) {
    for (const { everySeconds, ticks } of COUNT_RUNS) {
      log(`count run ${everySeconds} s: ${ticks} ticks`);
      countRuns.push(
        await runCadence({
          everySeconds,
          ticks,
          kind: 'count',
          withRecipe: false,
          latency: model(),
          progress: log,
        }),
      );
    }
  }

  const result = assembleResult({
    mode: options.quick ? 'quick' : 'full',
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    environment: {
      node: process.version,
      cpus: cpus().length,
      platform: `${process.platform}-${process.arch}`,
    },
    latency: { description: describe.describe(), figures, asyncInvokeP99Ms: describe.asyncInvokeP99Ms() },
    timingRuns,
    countRuns,
    roundsRun,
    ...(options.quick ? { recipeSkippedNote: 'skipped (--quick)' } : {}),
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
