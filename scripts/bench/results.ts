import { cpus } from 'node:os';
import {
  breakEvenIntervalMs,
  CONTROLLER_SIZE,
  DEFAULT_CONTROLLER_MEMORY_MB,
  LOG_BYTES_PER_INVOCATION,
  PLATFORM_LOG_BYTES_PER_INVOCATION,
} from '../../functions/scheduling/cost-model';
import { HISTORY_EVENTS_PER_ROUND } from '../../functions/scheduling/history-budget';
import {
  ANCHORS,
  type AnchorId,
  cheapestStepFunctionsAnchor,
  type PerTickCounts,
  usdPerDay,
  usdPerMonth,
  usdPerTick,
} from './anchors-cost';
import type { LatencyFigures } from './latency-model';
import { type CountedRun, oursPerTick, perRound, type RoundsRun, recipePerTick } from './measured-cost';
import type { DesignCounts, MeterReading } from './meter';
import type { CadenceRun } from './run-cadence';
import { type SeriesSummary, summarize } from './stats';

/** The machine a benchmark ran on, as every report states it. */
export interface BenchEnvironment {
  readonly node: string;
  readonly cpus: number;
  readonly platform: string;
}

export function benchEnvironment(): BenchEnvironment {
  return { node: process.version, cpus: cpus().length, platform: `${process.platform}-${process.arch}` };
}

export const TIMING_CADENCES_S = [0.1, 0.25, 1, 5] as const;
/** The controller sizes the benchmark runs every timing cadence at (ControllerMemory values up to 512 MB). */
export const SWEEP_MEMORY_MB = [128, 256, 512] as const;
/** The timing targets hold at the default size at these cadences. */
export const TARGET_CADENCES_S = [0.25, 1] as const;

export const COST_CADENCES_S = [1, 5, 10, 30, 59] as const;

export interface TimingRow {
  readonly everySeconds: number;
  readonly controllerMemoryMb: number;
  /** Grid slots skipped in the run (a tick half an interval late or more is skipped). */
  readonly skippedTicks: number;
  /** The size keeps up with the cadence: no tick skipped. */
  readonly sustained: boolean;
  /** Ours at this size and cadence, counted in this run (hand-back rounds derived), logs included. */
  readonly usdPerDay: number | undefined;
  readonly ours: { readonly precision: SeriesSummary; readonly lateness: SeriesSummary };
  /** n/a: the recipe's SecondsPath must be a whole number, or the run skipped it (--quick). */
  readonly recipe: { readonly precision: SeriesSummary; readonly lateness: SeriesSummary } | undefined;
  readonly recipeNote?: string;
  /** ours / recipe, for lateness p99 and |drift|. */
  readonly ratio: { readonly latenessP99: number; readonly drift: number } | undefined;
}

export interface CountsRow {
  readonly run: string;
  readonly design: 'ours' | 'recipe';
  readonly everySeconds: number;
  readonly ticks: number;
  readonly counts: DesignCounts;
}

export interface CostCell {
  readonly usdPerTick: number;
  readonly usdPerDay: number;
  readonly usdPerMonth: number;
  readonly counts: PerTickCounts;
  readonly basis: 'counted' | 'derived' | 'published configuration';
  readonly source: string;
}

export interface CostRow {
  readonly id: 'ours' | 'recipe' | AnchorId;
  readonly name: string;
  readonly stepFunctionsBased: boolean;
  readonly configuration: string;
  /** By cadence in seconds; null where the design cannot run it. */
  readonly cells: Readonly<Record<string, CostCell | null>>;
}

export type TargetVerdict = 'pass' | 'fail' | 'not-judged';

export interface TargetCheck {
  readonly target: string;
  readonly scope: string;
  readonly value: string;
  readonly limit: string;
  /** 'not-judged': the run measured too little to tell (`notJudgedBecause` says why), whatever the value reads. */
  readonly verdict: TargetVerdict;
  readonly notJudgedBecause?: string;
}

/**
 * A p99 of fewer ticks is the maximum, or next to it: one unlucky tick decides it. And a drift fitted over few ticks
 * carries a standard error as large as the 0.1 ms/tick limit (lateness varies by ms from tick to tick). Below this
 * many ticks (a quick run has 30) those targets are reported as not judged rather than as a PASS or a FAIL.
 */
export const MIN_TICKS_TO_JUDGE_TAIL = 100;

export interface BenchResult {
  readonly mode: 'quick' | 'full';
  readonly startedAt: string;
  readonly durationMs: number;
  readonly environment: BenchEnvironment;
  readonly latency: {
    readonly description: string;
    readonly figures: LatencyFigures;
    readonly asyncInvokeP99Ms: number;
  };
  readonly controller: {
    readonly memoryMb: number;
    readonly architecture: string;
    readonly breakEvenMs: number;
  };
  /** Whether each run's controller sandbox was confined to its memory's CPU share (the local stack's account). */
  readonly cpuShare: readonly string[];
  /** Per size: the smallest timing cadence it sustains. */
  readonly smallestSustained: Readonly<Record<string, number | null>>;
  readonly timing: readonly TimingRow[];
  readonly counts: readonly CountsRow[];
  readonly rounds: RoundsRun & {
    readonly controllerTimeoutMs: number | undefined;
    readonly everySeconds: number;
  };
  readonly cost: readonly CostRow[];
  /** Cadence (s) → the cheapest Step Functions-based anchor and whether ours is at or below it. */
  readonly cheapest: Readonly<
    Record<string, { readonly anchor: AnchorId; readonly usdPerDay: number; readonly oursAtOrBelow: boolean }>
  >;
  readonly targets: readonly TargetCheck[];
  /** Raw series of the 1 s run, for the chart. */
  readonly series: {
    readonly everySeconds: number;
    readonly ours: readonly number[];
    readonly recipe: readonly number[];
  };
  readonly runs: readonly RunDigest[];
  readonly notes: readonly string[];
}

export interface RunDigest {
  readonly kind: CadenceRun['kind'];
  readonly everySeconds: number;
  readonly wallMs: number;
  readonly fires: { readonly ours: number; readonly recipe: number | null };
  readonly meter: MeterReading;
  readonly problems: readonly string[];
  readonly latenessMs: { readonly ours: readonly number[]; readonly recipe: readonly number[] | null };
  readonly precisionMs: { readonly ours: readonly number[]; readonly recipe: readonly number[] | null };
}

export interface AssembleInput {
  readonly mode: 'quick' | 'full';
  readonly startedAt: string;
  readonly durationMs: number;
  readonly environment: BenchResult['environment'];
  readonly latency: BenchResult['latency'];
  readonly timingRuns: readonly CadenceRun[];
  readonly countRuns: readonly CadenceRun[];
  readonly roundsRun: CadenceRun;
  /** Why the recipe was not run at a whole-second cadence (--quick), if it was not. */
  readonly recipeSkippedNote?: string;
}

const ratio = (ours: number, recipe: number) => (recipe === 0 ? Number.NaN : ours / recipe);

export function assembleResult(input: AssembleInput): BenchResult {
  const defaultMemoryRuns = input.timingRuns.filter(
    (run) => run.controllerMemoryMb === DEFAULT_CONTROLLER_MEMORY_MB,
  );
  const measuredRows: Omit<TimingRow, 'usdPerDay'>[] = input.timingRuns.map((run) => {
    const ours = { precision: summarize(run.ours.precisionMs), lateness: summarize(run.ours.latenessMs) };
    const recipe = run.recipe
      ? { precision: summarize(run.recipe.precisionMs), lateness: summarize(run.recipe.latenessMs) }
      : undefined;
    const recipeNote = recipe
      ? undefined
      : Number.isInteger(run.everySeconds)
        ? (input.recipeSkippedNote ?? 'not run')
        : 'n/a: SecondsPath must be a whole number';
    const skippedTicks = run.ours.skippedTicks ?? 0;
    return {
      everySeconds: run.everySeconds,
      controllerMemoryMb: run.controllerMemoryMb,
      skippedTicks,
      sustained: skippedTicks === 0,
      ours,
      recipe,
      ...(recipeNote ? { recipeNote } : {}),
      ratio: recipe
        ? {
            latenessP99: ratio(ours.lateness.p99, recipe.lateness.p99),
            drift: ratio(Math.abs(ours.lateness.driftPerTick), Math.abs(recipe.lateness.driftPerTick)),
          }
        : undefined,
    };
  });

  const allRuns = [...defaultMemoryRuns, ...input.countRuns];
  const counts: CountsRow[] = [];
  for (const run of [...allRuns, input.roundsRun]) {
    counts.push({
      run: run.kind,
      design: 'ours',
      everySeconds: run.everySeconds,
      ticks: run.ours.latenessMs.length,
      counts: run.meter.designs.ours,
    });
    if (run.recipe) {
      counts.push({
        run: run.kind,
        design: 'recipe',
        everySeconds: run.everySeconds,
        ticks: run.recipe.latenessMs.length,
        counts: run.meter.designs.recipe,
      });
    }
  }

  const oursRuns: CountedRun[] = allRuns.map((run) => ({
    everySeconds: run.everySeconds,
    ticks: run.ours.latenessMs.length,
    counts: run.meter.designs.ours,
  }));
  const recipeRuns: CountedRun[] = allRuns.flatMap((run) =>
    run.recipe
      ? [
          {
            everySeconds: run.everySeconds,
            ticks: run.recipe.latenessMs.length,
            counts: run.meter.designs.recipe,
          },
        ]
      : [],
  );
  const reference = oursRuns.find((run) => run.everySeconds === 1) ?? oursRuns[0];
  if (reference === undefined) throw new Error('no timing run to derive costs from');
  const rounds: RoundsRun = {
    rounds: input.roundsRun.meter.designs.ours.controllerInvocations,
    ticks: input.roundsRun.ours.latenessMs.length,
    counts: input.roundsRun.meter.designs.ours,
  };

  // Every Lambda invocation writes log lines: ours its summary and the platform's, the others at least the
  // platform's START/END/REPORT.
  const cell = (
    countsWithoutLogs: PerTickCounts,
    everySeconds: number,
    basis: CostCell['basis'],
    source: string,
    logBytesPerInvocation: number = PLATFORM_LOG_BYTES_PER_INVOCATION,
  ): CostCell => {
    const counts = {
      ...countsWithoutLogs,
      logBytes: countsWithoutLogs.lambdaRequests * logBytesPerInvocation,
    };
    return {
      usdPerTick: usdPerTick(counts),
      usdPerDay: usdPerDay(counts, everySeconds),
      usdPerMonth: usdPerMonth(counts, everySeconds),
      counts,
      basis,
      source,
    };
  };
  const cellsOf = (build: (everySeconds: number) => CostCell | null) =>
    Object.fromEntries(COST_CADENCES_S.map((everySeconds) => [String(everySeconds), build(everySeconds)]));

  const cost: CostRow[] = [
    {
      id: 'ours',
      name: 'Ours (anchored loop, stay-awake below break-even)',
      stepFunctionsBased: true,
      configuration: `${CONTROLLER_SIZE.memoryMb} MB ${CONTROLLER_SIZE.architecture}; measured on the local stack`,
      cells: cellsOf((everySeconds) => {
        const measured = oursPerTick(everySeconds, oursRuns, reference, rounds);
        return cell(
          measured.counts,
          everySeconds,
          measured.basis,
          `${measured.strategy}: ${measured.source}`,
          LOG_BYTES_PER_INVOCATION,
        );
      }),
    },
    ...(recipeRuns.length > 0
      ? [
          {
            id: 'recipe' as const,
            name: 'Relative-wait recipe (measured; drifts)',
            stepFunctionsBased: true,
            configuration: `Task → Choice → Wait SecondsPath; ${CONTROLLER_SIZE.memoryMb} MB ${CONTROLLER_SIZE.architecture}`,
            cells: cellsOf((everySeconds) => {
              const measured = recipePerTick(everySeconds, recipeRuns);
              return measured ? cell(measured.counts, everySeconds, measured.basis, measured.source) : null;
            }),
          },
        ]
      : []),
    ...ANCHORS.map((anchor) => ({
      id: anchor.id,
      name: `(${anchor.id}) ${anchor.name}`,
      stepFunctionsBased: anchor.stepFunctionsBased,
      configuration: anchor.configuration,
      cells: cellsOf((everySeconds) => {
        const counts = anchor.perTick(everySeconds);
        return counts ? cell(counts, everySeconds, 'published configuration', anchor.configuration) : null;
      }),
    })),
  ];

  // Each size's cost at each timing cadence, from its own runs (the hand-back rounds as counted at the default size).
  const timing: TimingRow[] = measuredRows.map((row) => {
    const sizeRuns: CountedRun[] = input.timingRuns
      .filter((run) => run.controllerMemoryMb === row.controllerMemoryMb)
      .map((run) => ({
        everySeconds: run.everySeconds,
        ticks: run.ours.latenessMs.length,
        counts: run.meter.designs.ours,
      }));
    const sizeReference = sizeRuns.find((run) => run.everySeconds === 1) ?? sizeRuns[0];
    if (sizeReference === undefined) return { ...row, usdPerDay: undefined };
    const measured = oursPerTick(row.everySeconds, sizeRuns, sizeReference, rounds);
    const usd = cell(
      measured.counts,
      row.everySeconds,
      measured.basis,
      measured.source,
      LOG_BYTES_PER_INVOCATION,
    );
    return { ...row, usdPerDay: usd.usdPerDay };
  });
  const smallestSustained: Record<string, number | null> = {};
  for (const memoryMb of new Set(timing.map((row) => row.controllerMemoryMb))) {
    const sustained = timing
      .filter((row) => row.controllerMemoryMb === memoryMb && row.sustained)
      .map((row) => row.everySeconds);
    smallestSustained[String(memoryMb)] = sustained.length > 0 ? Math.min(...sustained) : null;
  }

  const oursRow = cost[0];
  const cheapest: Record<string, { anchor: AnchorId; usdPerDay: number; oursAtOrBelow: boolean }> = {};
  for (const everySeconds of COST_CADENCES_S) {
    const best = cheapestStepFunctionsAnchor(everySeconds);
    const ours = oursRow?.cells[String(everySeconds)];
    if (best && ours) {
      cheapest[String(everySeconds)] = {
        anchor: best.anchor.id,
        usdPerDay: best.usdPerDay,
        oursAtOrBelow: ours.usdPerDay <= best.usdPerDay,
      };
    }
  }

  const targets = checkTargets(
    timing.filter(
      (row) =>
        row.controllerMemoryMb === DEFAULT_CONTROLLER_MEMORY_MB &&
        (TARGET_CADENCES_S as readonly number[]).includes(row.everySeconds),
    ),
    cheapest,
    oursRow,
    input.latency.asyncInvokeP99Ms,
  );
  const oneSecond = defaultMemoryRuns.find((run) => run.everySeconds === 1);
  return {
    mode: input.mode,
    startedAt: input.startedAt,
    durationMs: input.durationMs,
    environment: input.environment,
    latency: input.latency,
    controller: { ...CONTROLLER_SIZE, breakEvenMs: breakEvenIntervalMs() },
    cpuShare: [...new Set(input.timingRuns.map((run) => `${run.controllerMemoryMb} MB: ${run.cpuShare}`))],
    smallestSustained,
    timing,
    counts,
    rounds: {
      ...rounds,
      controllerTimeoutMs: input.roundsRun.controllerTimeoutMs,
      everySeconds: input.roundsRun.everySeconds,
    },
    cost,
    cheapest,
    targets,
    series: {
      everySeconds: 1,
      ours: oneSecond?.ours.latenessMs ?? [],
      recipe: oneSecond?.recipe?.latenessMs ?? [],
    },
    runs: [...allRuns, input.roundsRun].map(digest),
    notes: notesFor(rounds),
  };
}

function checkTargets(
  timing: readonly TimingRow[],
  cheapest: BenchResult['cheapest'],
  oursRow: CostRow | undefined,
  asyncInvokeP99Ms: number,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const judged = (pass: boolean) => ({ verdict: pass ? ('pass' as const) : ('fail' as const) });
  // A tail or a drift over too few ticks: say so instead of a verdict (see MIN_TICKS_TO_JUDGE_TAIL).
  const judgedOver = (ticks: number, pass: boolean, what: string) =>
    ticks >= MIN_TICKS_TO_JUDGE_TAIL
      ? judged(pass)
      : {
          verdict: 'not-judged' as const,
          notJudgedBecause: `${ticks} ticks; ${what} needs at least ${MIN_TICKS_TO_JUDGE_TAIL}`,
        };
  for (const row of timing) {
    const scope = `${row.everySeconds} s, ${row.controllerMemoryMb} MB`;
    const { precision, lateness } = row.ours;
    checks.push({
      target: 'controller precision p99 ≤ 5 ms',
      scope,
      value: ms(precision.p99),
      limit: '5 ms',
      ...judgedOver(precision.count, precision.p99 <= 5, 'a p99'),
    });
    // A maximum over any number of ticks is a fact about those ticks: judged in every run.
    checks.push({
      target: 'controller precision max ≤ 20 ms',
      scope,
      value: ms(precision.max),
      limit: '20 ms',
      ...judged(precision.max <= 20),
    });
    const latenessLimit = asyncInvokeP99Ms + 5;
    checks.push({
      target: 'lateness p99 ≤ model invoke p99 + 5 ms',
      scope,
      value: ms(lateness.p99),
      limit: ms(latenessLimit),
      ...judgedOver(lateness.count, lateness.p99 <= latenessLimit, 'a p99'),
    });
    checks.push({
      target: 'drift < 0.1 ms/tick',
      scope,
      value: `${lateness.driftPerTick.toFixed(4)} ± ${lateness.driftStandardError.toFixed(4)} ms/tick`,
      limit: '0.1 ms/tick',
      ...judgedOver(lateness.count, Math.abs(lateness.driftPerTick) < 0.1, 'a drift'),
    });
  }
  for (const everySeconds of COST_CADENCES_S) {
    const best = cheapest[String(everySeconds)];
    const ours = oursRow?.cells[String(everySeconds)];
    if (!best || !ours) continue;
    checks.push({
      target: '$/day ≤ cheapest Step Functions anchor',
      scope: `${everySeconds} s`,
      value: `$${ours.usdPerDay.toFixed(4)}`,
      limit: `$${best.usdPerDay.toFixed(4)} (${best.anchor})`,
      ...judged(best.oursAtOrBelow),
    });
  }
  return checks;
}

function digest(run: CadenceRun): RunDigest {
  return {
    kind: run.kind,
    everySeconds: run.everySeconds,
    wallMs: run.wallMs,
    fires: { ours: run.ours.latenessMs.length, recipe: run.recipe ? run.recipe.latenessMs.length : null },
    meter: run.meter,
    problems: run.problems,
    latenessMs: { ours: run.ours.latenessMs, recipe: run.recipe ? run.recipe.latenessMs : null },
    precisionMs: { ours: run.ours.precisionMs, recipe: run.recipe ? run.recipe.precisionMs : null },
  };
}

function notesFor(rounds: RoundsRun): string[] {
  const round = perRound(rounds);
  return [
    'Worker invocations are counted and reported but left out of every $ figure: every design pays them equally.',
    'DynamoDB Scan requests come only from the local stack’s table watcher (its stand-in for a DynamoDB Stream) and its start-up scan: excluded. The deployed stream starter and the once-a-minute watchdog (one Lambda request and one Scan a minute per stack, not per poller) are not in the figures either.',
    'GetItem is priced at 1 RCU (strongly consistent, item ≤ 4 KB); UpdateItem/PutItem/DeleteItem at 1 WCU (item ≤ 1 KB).',
    `History events are the local interpreter’s (StateEntered/StateExited…); AWS adds LambdaFunctionScheduled/Started/Succeeded per Lambda Task, hence ${HISTORY_EVENTS_PER_ROUND} per round there (${round.historyEvents.toFixed(1)} counted per round here). Only transitions are billed.`,
    'Timing runs use the deployed 900 s controller timeout, so a stay-awake run of a few hundred ticks contains no hand-back round; the rounds run (short timeout) counts what a hand-back round costs.',
    'Our loop and the recipe run one after the other on the same local stack and table (one Node.js process; run together, the recipe’s work delayed our timers by a few ms), each run under its own stream of the same seeded latency model.',
    '$/month = $/day × 365.25 / 12.',
  ];
}
