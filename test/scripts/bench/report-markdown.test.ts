import { describe, expect, it } from 'vitest';
import type { DesignCounts, MeterReading } from '../../../scripts/bench/meter';
import { renderReport, renderTimingTable, table } from '../../../scripts/bench/report-markdown';
import { assembleResult, MIN_TICKS_TO_JUDGE_TAIL } from '../../../scripts/bench/results';
import type { CadenceRun } from '../../../scripts/bench/run-cadence';
import { summarize } from '../../../scripts/bench/stats';

const counts = (overrides: Partial<DesignCounts>): DesignCounts => ({
  historyEvents: 0,
  stateTransitions: 0,
  transitionsByState: {},
  controllerInvocations: 0,
  controllerDurationMs: 0,
  controllerGbSeconds: 0,
  readUnits: 0,
  writeUnits: 0,
  dynamoDbRequests: {},
  ...overrides,
});

const meter = (ours: Partial<DesignCounts>, recipe: Partial<DesignCounts> = {}): MeterReading => ({
  designs: { ours: counts(ours), recipe: counts(recipe) },
  workerInvocations: 0,
  workerDurationMs: 0,
  excludedDynamoDbRequests: { Scan: 4 },
  capacityUnits: {},
  indexWrites: 0,
  outcomeWriteUnits: 0,
});

const run = (
  everySeconds: number,
  kind: CadenceRun['kind'],
  withRecipe: boolean,
  reading: MeterReading,
  controllerMemoryMb = 128,
): CadenceRun => ({
  everySeconds,
  controllerMemoryMb,
  cpuShare: 'CPU share: 128 MB → 7.2% of a core (cgroup v1, 20 ms period)',
  ticksWanted: 4,
  kind,
  ours: { precisionMs: [0, 0, 1, 0], latenessMs: [20, 30, 25, 22], skippedTicks: 0 },
  recipe: withRecipe ? { precisionMs: [0, 60, 120, 180], latenessMs: [20, 80, 140, 200] } : undefined,
  meter: reading,
  wallMs: 4_000,
  controllerTimeoutMs: kind === 'rounds' ? 7_000 : undefined,
  problems: [],
});

describe('table', () => {
  it('renders a header, a separator and escaped rows', () => {
    expect(table(['a', 'b'], [['1', 'x|y']])).toBe('| a | b |\n| --- | --- |\n| 1 | x\\|y |');
  });
});

describe('renderTimingTable', () => {
  it('shows the size, skipped ticks, cost and whether the size sustains the cadence; the recipe only where run', () => {
    const summaries = { precision: summarize([0, 1]), lateness: summarize([10, 20]) };
    const markdown = renderTimingTable([
      {
        everySeconds: 0.5,
        controllerMemoryMb: 256,
        skippedTicks: 0,
        sustained: true,
        usdPerDay: 0.3,
        ours: summaries,
        recipe: undefined,
        recipeNote: 'n/a: SecondsPath must be a whole number',
        ratio: undefined,
      },
    ]);
    expect(markdown).toContain(
      '| 256 MB | 0.5 s | ours | 2 | 0 | 0.0 | 1.0 | 1.0 | 10.0 | 20.0 | 20.0 | 10.000 | $0.3000 | yes |',
    );
    expect(markdown).not.toContain('recipe |');
  });
});

describe('renderReport', () => {
  const result = assembleResult({
    mode: 'quick',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 60_000,
    environment: { node: 'v24', cpus: 2, platform: 'linux-x64' },
    latency: {
      description: 'seed 1',
      figures: {
        dynamoDbMs: [5, 15],
        asyncInvokeMs: [10, 40],
        taskStartMs: [20, 80],
        coldStartMs: 300,
        coldStartEvery: 100,
      },
      asyncInvokeP99Ms: 39.7,
    },
    timingRuns: [
      run(
        0.25,
        'timing',
        false,
        meter({
          stateTransitions: 1,
          controllerInvocations: 1,
          controllerGbSeconds: 0.25,
          readUnits: 4,
          writeUnits: 1,
        }),
      ),
      run(
        1,
        'timing',
        true,
        meter(
          {
            stateTransitions: 1,
            controllerInvocations: 1,
            controllerGbSeconds: 0.5,
            readUnits: 4,
            writeUnits: 1,
          },
          { stateTransitions: 12, controllerInvocations: 4, controllerGbSeconds: 0.05, readUnits: 4 },
        ),
      ),
    ],
    countRuns: [],
    roundsRun: run(
      1,
      'rounds',
      false,
      meter({
        stateTransitions: 6,
        historyEvents: 12,
        controllerInvocations: 2,
        readUnits: 4,
        writeUnits: 4,
      }),
    ),
  });
  const markdown = renderReport(result, 'chart.svg');

  it('has the timing, ratio, counts, cost and targets tables', () => {
    for (const heading of [
      '## Timing',
      '## Counts from the runs',
      '### $/day',
      '### $/month',
      '## Targets',
    ]) {
      expect(markdown).toContain(heading);
    }
    expect(markdown).toContain('| 128 MB | 1 s | recipe | 4 |');
    expect(markdown).toContain(
      '| cadence | lateness p99 ours/recipe | |drift| ours/recipe |'.replace('|drift|', '\\|drift\\|'),
    );
    expect(markdown).toContain('(b) Always-awake 840 s controller (aws-samples)');
    expect(markdown).toContain('![Lateness per tick at 1 s, ours vs the recipe](chart.svg)');
  });

  it('prints a verdict for every target: PASS, FAIL, or not judged with the reason', () => {
    const targetRows = markdown.split('## Targets')[1]?.split('## Notes')[0] ?? '';
    expect(targetRows.match(/\| (PASS|FAIL|not judged \([^)]*\)) \|/g)?.length).toBe(result.targets.length);
    expect(result.targets.length).toBe(2 * 4 + 5);
  });

  it('says which targets a run of 4 ticks cannot judge (the p99s and the drift) instead of printing FAIL', () => {
    const notJudged = result.targets.filter((check) => check.verdict === 'not-judged');

    expect(notJudged.map((check) => `${check.target} @ ${check.scope}`)).toEqual([
      'controller precision p99 ≤ 5 ms @ 0.25 s, 128 MB',
      'lateness p99 ≤ model invoke p99 + 5 ms @ 0.25 s, 128 MB',
      'drift < 0.1 ms/tick @ 0.25 s, 128 MB',
      'controller precision p99 ≤ 5 ms @ 1 s, 128 MB',
      'lateness p99 ≤ model invoke p99 + 5 ms @ 1 s, 128 MB',
      'drift < 0.1 ms/tick @ 1 s, 128 MB',
    ]);
    expect(markdown).toContain(
      '| controller precision p99 ≤ 5 ms | 1 s, 128 MB | 1.00 ms | 5 ms | not judged (4 ticks; a p99 needs at least 100) |',
    );
    expect(markdown).toMatch(
      /Targets: \d+ PASS, \d+ FAIL, 6 not judged \(a quick run has too few ticks for a p99 or a drift: run the full benchmark to judge them\)\./,
    );
    expect(markdown).not.toMatch(/\| FAIL \|/);
  });

  it('judges the p99s and the drift of a run with enough ticks', () => {
    const ticks = MIN_TICKS_TO_JUDGE_TAIL;
    const long: CadenceRun = {
      ...run(1, 'timing', false, meter({})),
      ours: {
        precisionMs: Array.from({ length: ticks }, (_, index) => (index === 0 ? 9 : 1)),
        latenessMs: Array.from({ length: ticks }, () => 20),
        skippedTicks: 0,
      },
    };
    const judged = assembleResult({
      mode: 'full',
      startedAt: '2026-01-01T00:00:00.000Z',
      durationMs: 60_000,
      environment: { node: 'v24', cpus: 2, platform: 'linux-x64' },
      latency: result.latency,
      timingRuns: [long],
      countRuns: [],
      roundsRun: run(1, 'rounds', false, meter({})),
    });

    expect(
      judged.targets.filter((check) => check.scope === '1 s, 128 MB').map((check) => check.verdict),
    ).toEqual(['pass', 'pass', 'pass', 'pass']);
    expect(judged.targets.some((check) => check.verdict === 'not-judged')).toBe(false);
  });

  it('marks the cheapest Step Functions anchor at each cost cadence', () => {
    expect(Object.keys(result.cheapest)).toEqual(['1', '5', '10', '30', '59']);
    expect(markdown).toContain('**cheapest SF anchor**');
  });
});
