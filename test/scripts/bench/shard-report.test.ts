import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../../scripts/bench/cli-options';
import { stopsAfter } from '../../../scripts/bench/fleet-cli';
import { type FleetWindowCounts, fleetCost } from '../../../scripts/bench/fleet-cost';
import { renderFleetReport } from '../../../scripts/bench/fleet-report';
import { type FleetTickStats, fleetTickStats, judgeFleet } from '../../../scripts/bench/fleet-stats';
import { type FleetRun, shardLoads } from '../../../scripts/bench/run-fleet';
import {
  CommittedReportError,
  costVerdictLines,
  eventBridgeSqsAtOneSecond,
  headlineMarginal,
  loopCostFromLatest,
  shardCapacity,
  shardRuns,
} from '../../../scripts/bench/shard-report';

const targets = { precisionP99Ms: 5, latenessP99Ms: 59.7 };

/** Stats whose precision p99 is `p99` (100 fires at 1 s, the last one at p99, no empty slot). */
function stats(precisionMs: number): FleetTickStats {
  const fires = Array.from({ length: 100 }, (_, seq) => ({
    poller: 'p',
    seq,
    scheduledAtMs: seq * 1000,
    sentAtMs: seq * 1000 + precisionMs,
    firedAtMs: seq * 1000 + precisionMs + 20,
  }));
  return fleetTickStats(fires, [{ id: 'p', intervalMs: 1000, countedSkips: 0 }], {
    startMs: 0,
    endMs: 100_000,
  });
}

/** A day's counts per poller (window of a day): `perPoller` read units each, plus a shard's fixed GB-s. */
function counts(pollers: number, readUnitsPerPoller: number): FleetWindowCounts {
  return {
    pollers,
    windowSeconds: 86_400,
    stateTransitions: 0,
    controllerInvocations: 0,
    controllerBilledMs: 86_400_000, // one 1,024 MB shard awake all day
    controllerSize: { memoryMb: 1024, architecture: 'arm64' },
    readUnits: pollers * readUnitsPerPoller,
    writeUnits: 0,
    indexWriteUnits: 0,
    logBytes: 0,
  };
}

function run(size: number, precisionMs: number, window?: FleetWindowCounts): FleetRun {
  const tickStats = stats(precisionMs);
  return {
    size,
    cadences: 'uniform',
    windowMs: 60_000,
    warmupMs: 20_000,
    cpuShare: 'applied',
    loadAverageAtStart: 0.5,
    machineMemoryMb: { before: 1000, peak: 1500 },
    stats: tickStats,
    verdict: judgeFleet(tickStats, targets),
    byCadence: [],
    usage: [],
    problems: [],
    ...(window === undefined
      ? {}
      : {
          shards: {
            maxShards: 1,
            controllerMemoryMb: 1024,
            shards: [{ shard: 's0', pollers: size, firesPerSecond: size, stats: tickStats }],
            window: {
              counts: window,
              cost: fleetCost(window),
              readUnitsByOperation: { Query: window.readUnits },
              plannerScanReadUnits: 0,
              outcomeWriteUnits: 0,
              controllerLogLines: 0,
              controllerInvocations: 0,
              controllerAwakeMs: window.controllerBilledMs,
              derivedHandBackRounds: 0,
              controllerPrecisionMs: undefined,
            },
          },
        }),
  };
}

describe('loopCostFromLatest: today per poller at 1 s, from the committed timing report', () => {
  it('reads cost[ours].cells["1"].usdPerDay and names the run', () => {
    const latest = {
      startedAt: '2026-11-20T10:00:00.000Z',
      cost: [
        { id: 'a', cells: {} },
        { id: 'ours', cells: { '1': { usdPerDay: 0.166 } } },
      ],
    };
    expect(loopCostFromLatest(latest, 'latest.json')).toEqual({
      usdPerDay: 0.166,
      source: 'latest.json, run of 2026-11-20T10:00:00.000Z',
    });
  });

  it.each([[{}], [{ cost: [{ id: 'ours', cells: { '1': { usdPerDay: '0.1' } } }] }], [null]])(
    'refuses %j with a typed error naming the field',
    (json) => {
      expect(() => loopCostFromLatest(json, 'latest.json')).toThrow(CommittedReportError);
    },
  );
});

describe('the shard fleet cost figures', () => {
  it('takes the marginal cost between 100 and 1,000 pollers when both ran, else the two smallest', () => {
    // A fixed shard ($1.15/day at 1,024 MB arm64) plus 10,000 RU per poller a day ($0.00125).
    const all = shardRuns([
      run(10, 2, counts(10, 10_000)),
      run(100, 2, counts(100, 10_000)),
      run(1000, 2, counts(1000, 10_000)),
    ]);
    const marginal = headlineMarginal(all);
    expect(marginal?.from.pollers).toBe(100);
    expect(marginal?.to.pollers).toBe(1000);
    expect(marginal?.usdPerPoller).toBeCloseTo(0.00125, 8);
    expect(headlineMarginal(all.slice(0, 2))?.from.pollers).toBe(10);
    expect(headlineMarginal(all.slice(0, 1))).toBeUndefined();
  });

  it('judges the marginal and the fleet of 100 against the targets, and says what was not run', () => {
    const lines = costVerdictLines(
      shardRuns([run(100, 2, counts(100, 10_000)), run(1000, 2, counts(1000, 10_000))]),
    );
    expect(lines[0]).toMatch(
      /Floor: one 1024 MB arm64 shard awake all day costs \$1\.15\/day in GB-s alone; .* at 444 MB or less/,
    );
    expect(lines[1]).toMatch(
      /brings 1\/100 of a shard: \$0\.0115\d*\/day .* at least 231 fires\/s per 1024 MB shard/,
    );
    expect(lines[2]).toMatch(/from 100 to 1000 pollers: \*\*\$0\.00125\/day\*\* \(target ≤ \$0\.005\): yes/);
    // The slope is flattered (both fleets here have 2 shards); at full shards a poller brings 1/100 of one.
    expect(lines[3]).toMatch(
      /At full shards .* 1\/100 of a shard's awake day \(\$0\.0115\d*\) .* 1000 pollers spent/,
    );
    expect(lines[3]).toMatch(/\*\*\$0\.0128\/day\*\* \(target ≤ \$0\.005\): \*\*no\*\*/);
    // $1.15 for the shard + $0.125 of reads: over $0.50.
    expect(lines.at(-1)).toMatch(
      /fleet of 100 at 1 s: \*\*\$1\.28\/day\*\* in total \(target ≤ \$0\.50\): \*\*no\*\*/,
    );
    expect(costVerdictLines(shardRuns([run(50, 2, counts(50, 1))]))).toEqual([
      expect.stringMatching(/Floor/),
      expect.stringMatching(/1\/100 of a shard/),
      expect.stringMatching(/not measured/),
      expect.stringMatching(/At full shards .* the 50 pollers spent/),
      expect.stringMatching(/fleet of 100 at 1 s: \*\*not run\*\*/),
    ]);
  });

  it('prices anchor d at 1 s with the one price table', () => {
    expect(eventBridgeSqsAtOneSecond().usdPerDay).toBeCloseTo(0.11507, 4);
  });
});

describe('the shard capacity search', () => {
  it('answers with the largest rate within the precision target and the first beyond it', () => {
    expect(shardCapacity([run(400, 7.5), run(100, 2), run(200, 4.9)], targets)).toEqual({
      sustained: 200,
      failedAt: 400,
    });
    expect(shardCapacity([run(100, 6)], targets)).toEqual({ sustained: undefined, failedAt: 100 });
    expect(shardCapacity([run(100, 1)], targets)).toEqual({ sustained: 100, failedAt: undefined });
  });

  it('stops the capacity search at the first rate beyond the precision target', () => {
    const search = parseBenchArgs(['--shard-capacity', '100,200']).fleet;
    const fleet = parseBenchArgs(['--fleet', '100,200', '--serve', 'shards']).fleet;
    if (search === undefined || fleet === undefined) throw new Error('options expected');
    expect(stopsAfter(run(100, 5.2), search, targets)).toBe(true);
    expect(stopsAfter(run(100, 4.8), search, targets)).toBe(false);
    // A shard fleet runs every size (each one's cost is wanted), however it fares; today's loops stop on a clear failure.
    expect(stopsAfter({ ...run(100, 5.2), stats: { ...stats(5.2), duplicates: 1 } }, fleet, targets)).toBe(
      false,
    );
    const loops = parseBenchArgs(['--fleet', '100,200']).fleet;
    if (loops === undefined) throw new Error('options expected');
    expect(stopsAfter({ ...run(100, 5.2), stats: { ...stats(5.2), duplicates: 1 } }, loops, targets)).toBe(
      true,
    );
  });
});

describe('renderFleetReport with shards', () => {
  const base = {
    command: 'npm run bench -- --fleet 100,1000 --serve shards',
    startedAt: '2026-11-23T09:00:00.000Z',
    durationMs: 300_000,
    environment: { node: 'v24', cpus: 2, platform: 'linux x64' },
    latency: 'harsh',
    targets,
    skippedSizes: [],
    workerInProcess: false,
  };

  it('puts the counted cost, the verdicts, the comparison and each shard in one report', () => {
    const markdown = renderFleetReport({
      ...base,
      runs: [run(100, 2, counts(100, 10_000)), run(1000, 2, counts(1000, 10_000))],
      serve: 'shards',
      capacitySearch: false,
      comparison: {
        loopPerPoller: { usdPerDay: 0.166, source: 'bench/results/latest.json' },
        eventBridgeSqs: { usdPerDay: 0.115, configuration: 'a rule each minute' },
      },
    });
    expect(markdown).toMatch(/^# Fleet benchmark \(the fleet variant: shared shard controllers/);
    expect(markdown).toMatch(/## Cost \(counted over the measured window, scaled to a day\)/);
    expect(markdown).toMatch(/\| 1000 \| 1 s \| 1 \(1\) \| \$2\.40 \| \$0\.00240 \|/);
    expect(markdown).toMatch(/## Compared, per poller per day at 1 s/);
    expect(markdown).toMatch(/\| shards, one more poller \(100 → 1000\) \| \$0\.00125 \|/);
    expect(markdown).toMatch(
      /\| today's design: one loop and one 128 MB controller per poller \| \$0\.166 \|/,
    );
    expect(markdown).toMatch(/\| EventBridge rule \+ SQS delays .* \| \$0\.115 \|/);
    expect(markdown).toMatch(/## Shards[\s\S]*\| 100 \| s0 \| 100 \| 100\.0 \| 2\.0 \|/);
  });

  it("today's loops keep their report: no cost or shard section", () => {
    const markdown = renderFleetReport({
      ...base,
      runs: [run(50, 2)],
      serve: 'loops',
      capacitySearch: false,
    });
    expect(markdown).toMatch(/^# Fleet benchmark \(today's design/);
    expect(markdown).not.toMatch(/## Cost|## Shards|in-process/);
  });

  it("says so in bold when the worker ran in the stack's process", () => {
    const markdown = renderFleetReport({
      ...base,
      runs: [run(50, 2)],
      serve: 'loops',
      capacitySearch: false,
      workerInProcess: true,
    });
    expect(markdown).toMatch(
      /\*\*The worker ran in the local stack's own process \(`--worker in-process`\), not in sandboxes\*\*/,
    );
  });

  it('answers the capacity search with the sustained rate and the constant it is to set', () => {
    const markdown = renderFleetReport({
      ...base,
      runs: [run(100, 2, counts(100, 1)), run(200, 6, counts(200, 1))],
      serve: 'shards',
      capacitySearch: true,
    });
    expect(markdown).toMatch(/^# Shard capacity/);
    expect(markdown).toMatch(
      /\*\*One 1024 MB shard sustained 100 fires\/s\*\* with precision p99 ≤ 5 ms; at 200 fires\/s it did not/,
    );
    expect(markdown).toMatch(/SHARD_CAPACITY_FIRES_PER_SECOND/);
  });
});

describe('shardLoads: each shard of the window', () => {
  it('groups the pollers by the shard their items name, with their fires per second; unplaced ones as none', () => {
    const fire = (poller: string, seq: number) => ({
      poller,
      seq,
      scheduledAtMs: seq * 1000,
      sentAtMs: seq * 1000 + 1,
      firedAtMs: seq * 1000 + 30,
    });
    const fires = [0, 1, 2, 3].flatMap((seq) => [fire('a', seq), fire('b', seq), fire('c', seq)]);
    const pollers = ['a', 'b', 'c', 'd'].map((id) => ({ id, intervalMs: 1000, countedSkips: 0 }));
    const loads = shardLoads(
      [
        { pollerId: 'a', shard: 's1' },
        { pollerId: 'b', shard: 's0' },
        { pollerId: 'c', shard: 's1' },
        { pollerId: 'd', shard: undefined },
      ],
      fires,
      pollers,
      { startMs: 0, endMs: 4000 },
      4000,
    );
    expect(
      loads.map(({ shard, pollers: count, firesPerSecond }) => ({ shard, count, firesPerSecond })),
    ).toEqual([
      { shard: 'none', count: 1, firesPerSecond: 0 },
      { shard: 's0', count: 1, firesPerSecond: 1 },
      { shard: 's1', count: 2, firesPerSecond: 2 },
    ]);
    expect(loads[0]?.stats.missedTicks).toBe(4);
  });
});
