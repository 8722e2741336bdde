import { SubMinuteError } from '../../functions/shared/errors';
import type { BenchResult, CostRow, TargetCheck, TargetVerdict, TimingRow } from './results';
import { COST_CADENCES_S } from './results';
import type { SeriesSummary } from './stats';

/** Markdown tables, one renderer per section; `renderReport` puts them together. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const ms = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(1));
const drift = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(3));
const driftWithError = (summary: SeriesSummary) =>
  Number.isNaN(summary.driftStandardError)
    ? drift(summary.driftPerTick)
    : `${drift(summary.driftPerTick)} ± ${drift(summary.driftStandardError)}`;
const usd = (value: number) => (value < 0.01 ? `$${value.toFixed(5)}` : `$${value.toFixed(4)}`);
const times = (value: number) => (Number.isFinite(value) ? `${value.toFixed(3)}×` : 'n/a');

function summaryCells(summary: SeriesSummary | undefined): string[] {
  if (!summary) return ['n/a', 'n/a', 'n/a'];
  return [ms(summary.p50), ms(summary.p99), ms(summary.max)];
}

export function renderTimingTable(rows: readonly TimingRow[]): string {
  const body = rows.flatMap((row) => {
    const size = `${row.controllerMemoryMb} MB`;
    const ours = [
      size,
      `${row.everySeconds} s`,
      'ours',
      String(row.ours.lateness.count),
      String(row.skippedTicks),
      ...summaryCells(row.ours.precision),
      ...summaryCells(row.ours.lateness),
      driftWithError(row.ours.lateness),
      row.usdPerDay === undefined ? 'n/a' : usd(row.usdPerDay),
      row.sustained ? 'yes' : 'no',
    ];
    const recipe = row.recipe
      ? [
          [
            size,
            `${row.everySeconds} s`,
            'recipe',
            String(row.recipe.lateness.count),
            '—',
            ...summaryCells(row.recipe.precision),
            ...summaryCells(row.recipe.lateness),
            driftWithError(row.recipe.lateness),
            '—',
            '—',
          ],
        ]
      : [];
    return [ours, ...recipe];
  });
  return table(
    [
      'controller',
      'cadence',
      'design',
      'ticks',
      'skipped',
      'precision p50 ms',
      'precision p99 ms',
      'precision max ms',
      'lateness p50 ms',
      'lateness p99 ms',
      'lateness max ms',
      'drift ms/tick',
      '$/day',
      'sustains',
    ],
    body,
  );
}

export function renderRatioTable(rows: readonly TimingRow[]): string {
  return table(
    ['cadence', 'lateness p99 ours/recipe', '|drift| ours/recipe'],
    rows.flatMap((row) =>
      row.ratio ? [[`${row.everySeconds} s`, times(row.ratio.latenessP99), times(row.ratio.drift)]] : [],
    ),
  );
}

export function renderCountsTable(result: Pick<BenchResult, 'counts'>): string {
  return table(
    [
      'run',
      'cadence',
      'design',
      'ticks',
      'transitions',
      'history events',
      'controller invocations',
      'controller GB-s',
      'RCU (GetItem)',
      'WCU',
    ],
    result.counts.map((row) => [
      row.run,
      `${row.everySeconds} s`,
      row.design,
      String(row.ticks),
      String(row.counts.stateTransitions),
      String(row.counts.historyEvents),
      String(row.counts.controllerInvocations),
      row.counts.controllerGbSeconds.toFixed(3),
      String(row.counts.readUnits),
      String(row.counts.writeUnits),
    ]),
  );
}

export function renderCostTable(
  cost: readonly CostRow[],
  cheapest: BenchResult['cheapest'],
  unit: 'day' | 'month',
): string {
  const header = ['design', 'Step Functions', ...COST_CADENCES_S.map((everySeconds) => `${everySeconds} s`)];
  const rows = cost.map((row) => [
    row.name,
    row.stepFunctionsBased ? 'yes' : 'no',
    ...COST_CADENCES_S.map((everySeconds) => {
      const cell = row.cells[String(everySeconds)];
      if (!cell) return 'n/a';
      const value = usd(unit === 'day' ? cell.usdPerDay : cell.usdPerMonth);
      const marks = [
        cheapest[String(everySeconds)]?.anchor === row.id ? '**cheapest SF anchor**' : '',
        row.id === 'ours' && cell.basis === 'derived' ? '(derived)' : '',
      ].filter((mark) => mark !== '');
      return [value, ...marks].join(' ');
    }),
  ]);
  return table(header, rows);
}

export function renderCheapestTable(cheapest: BenchResult['cheapest'], cost: readonly CostRow[]): string {
  const ours = cost.find((row) => row.id === 'ours');
  return table(
    ['cadence', 'cheapest Step Functions anchor', 'its $/day', 'ours $/day', 'ours at or below'],
    COST_CADENCES_S.map((everySeconds) => {
      const best = cheapest[String(everySeconds)];
      const cell = ours?.cells[String(everySeconds)];
      return [
        `${everySeconds} s`,
        best ? `(${best.anchor})` : 'n/a',
        best ? usd(best.usdPerDay) : 'n/a',
        cell ? usd(cell.usdPerDay) : 'n/a',
        best ? (best.oursAtOrBelow ? 'yes' : 'NO') : 'n/a',
      ];
    }),
  );
}

export function renderPerTickTable(cost: readonly CostRow[]): string {
  const rows = cost.flatMap((row) =>
    COST_CADENCES_S.flatMap((everySeconds) => {
      const cell = row.cells[String(everySeconds)];
      if (!cell || (row.id !== 'ours' && row.id !== 'recipe')) return [];
      const c = cell.counts;
      return [
        [
          row.id,
          `${everySeconds} s`,
          c.stateTransitions.toFixed(4),
          c.lambdaRequests.toFixed(4),
          c.lambdaGbSeconds.toFixed(4),
          c.readUnits.toFixed(3),
          c.writeUnits.toFixed(4),
          cell.basis,
          cell.source,
        ],
      ];
    }),
  );
  return table(
    ['design', 'cadence', 'transitions', 'Lambda requests', 'GB-s', 'RCU', 'WCU', 'basis', 'how'],
    rows,
  );
}

export function renderTargets(result: Pick<BenchResult, 'targets'>): string {
  return table(
    ['target', 'scope', 'value', 'limit', 'result'],
    result.targets.map((check) => [check.target, check.scope, check.value, check.limit, verdictText(check)]),
  );
}

/** A results file's `targets` hold an entry that is neither shape `parseTargetChecks` reads. */
export class BenchResultsError extends SubMinuteError {
  override readonly name = 'BenchResultsError';
}

const VERDICTS: readonly TargetVerdict[] = ['pass', 'fail', 'not-judged'];

/**
 * The `targets` of a results JSON (bench/results/*.json), as written by this code (`verdict`) or by the code before
 * `not-judged` existed (`pass: boolean`, every target judged): a committed report reads as it was judged.
 */
export function parseTargetChecks(targets: unknown): TargetCheck[] {
  if (!Array.isArray(targets)) {
    throw new BenchResultsError(`targets must be a list; got ${JSON.stringify(targets)}`, { value: targets });
  }
  return targets.map((entry: unknown, index) => {
    const refuse = (why: string) =>
      new BenchResultsError(`targets[${index}] ${why}; got ${JSON.stringify(entry)}`, { value: entry });
    if (typeof entry !== 'object' || entry === null) throw refuse('must be an object');
    const text = (key: string): string => {
      const value: unknown = key in entry ? Reflect.get(entry, key) : undefined;
      if (typeof value !== 'string') throw refuse(`needs a string ${key}`);
      return value;
    };
    const verdictField: unknown = 'verdict' in entry ? entry.verdict : undefined;
    const passField: unknown = 'pass' in entry ? entry.pass : undefined;
    const verdict = VERDICTS.find((known) => known === verdictField);
    const judged: TargetVerdict | undefined =
      verdict ?? (typeof passField === 'boolean' ? (passField ? 'pass' : 'fail') : undefined);
    if (judged === undefined) throw refuse(`needs a verdict (${VERDICTS.join(', ')}) or a boolean pass`);
    const why: unknown = 'notJudgedBecause' in entry ? entry.notJudgedBecause : undefined;
    return {
      target: text('target'),
      scope: text('scope'),
      value: text('value'),
      limit: text('limit'),
      verdict: judged,
      ...(typeof why === 'string' ? { notJudgedBecause: why } : {}),
    };
  });
}

/** PASS, FAIL, or `not judged (30 ticks; a p99 needs at least 100)`: never a FAIL for what a run cannot tell. */
export function verdictText(check: TargetCheck): string {
  if (check.verdict === 'not-judged')
    return `not judged (${check.notJudgedBecause ?? 'too little measured'})`;
  return check.verdict === 'pass' ? 'PASS' : 'FAIL';
}

/** `Targets: 7 PASS, 0 FAIL, 6 not judged (a quick run has too few ticks for a p99 or a drift).` */
export function targetsSummary(result: Pick<BenchResult, 'targets' | 'mode'>): string {
  const count = (verdict: TargetCheck['verdict']) =>
    result.targets.filter((check) => check.verdict === verdict).length;
  const notJudged = count('not-judged');
  const why =
    notJudged === 0
      ? ''
      : ` (${result.mode === 'quick' ? 'a quick run has' : 'the run had'} too few ticks for a p99 or a drift: run the full benchmark to judge them)`;
  return `Targets: ${count('pass')} PASS, ${count('fail')} FAIL${notJudged === 0 ? '' : `, ${notJudged} not judged`}${why}.`;
}

export function renderReport(result: BenchResult, chartFile?: string): string {
  const sections = [
    `# Benchmark: anchored loop vs the relative-wait recipe (${result.mode} run)`,
    [
      `Run ${result.startedAt}, ${(result.durationMs / 1000).toFixed(0)} s, Node ${result.environment.node} on ${result.environment.platform}, ${result.environment.cpus} CPUs.`,
      `Latency model: ${result.latency.description} (async invoke p99 ${result.latency.asyncInvokeP99Ms.toFixed(1)} ms).`,
      `Controller: ${result.controller.memoryMb} MB ${result.controller.architecture} by default; break-even ${(result.controller.breakEvenMs / 1000).toFixed(1)} s (stay awake below, a Wait round per tick above).`,
      `CPU share: ${result.cpuShare.join('; ')}.`,
      `Smallest cadence each size sustains (no tick skipped): ${Object.entries(result.smallestSustained)
        .map(
          ([memoryMb, everySeconds]) =>
            `${memoryMb} MB ${everySeconds === null ? 'none measured' : `${everySeconds} s`}`,
        )
        .join(', ')}.`,
      targetsSummary(result),
    ].join('\n'),
    '## Timing, per controller size\n\nEach controller runs in its own process confined to its memory’s share of a core (memory / 1,769 MB, 20 ms periods) where the machine allows; the worker in its own 128 MB sandbox. Precision = when the Lambda endpoint received the async invoke − scheduled time (ours; the recipe: its controller’s own reading). Lateness = worker handler start − scheduled time (the `fire` event). Skipped = grid slots left out (a tick half an interval late or more is skipped). $/day = ours at that size and cadence, counted in the run, logs included. Drift = least-squares slope of lateness over the tick index, ± its standard error.',
    renderTimingTable(result.timing),
    renderRatioTable(result.timing),
    ...(chartFile ? [`![Lateness per tick at 1 s, ours vs the recipe](${chartFile})`] : []),
    '## Counts from the runs\n\nEverything the meter counted per run (timing runs, per-cadence count runs, and the rounds run with a short controller timeout so that hand-back rounds can be counted).',
    renderCountsTable(result),
    `Rounds run: ${result.rounds.rounds} rounds, ${result.rounds.ticks} ticks at ${result.rounds.everySeconds} s with a ${result.rounds.controllerTimeoutMs ?? 'default'} ms controller timeout.`,
    '## Cost per poller\n\nPer-tick units, counted or derived (see "how"), priced with `functions/scheduling/cost-model.ts`.',
    renderPerTickTable(result.cost),
    '### $/day',
    renderCostTable(result.cost, result.cheapest, 'day'),
    '### $/month',
    renderCostTable(result.cost, result.cheapest, 'month'),
    '### Ours against the cheapest Step Functions-based anchor',
    renderCheapestTable(result.cheapest, result.cost),
    '### Anchor configurations',
    table(
      ['anchor', 'configuration'],
      result.cost
        .filter((row) => row.id !== 'ours' && row.id !== 'recipe')
        .map((row) => [row.name, row.configuration]),
    ),
    '## Targets',
    renderTargets(result),
    '## Notes',
    result.notes.map((note) => `- ${note}`).join('\n'),
  ];
  return `${sections.join('\n\n')}\n`;
}
