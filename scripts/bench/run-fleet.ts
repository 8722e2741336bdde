import { readFileSync } from 'node:fs';
import type { WorkerEvent } from '../../functions/shared/contract';
import type { PollerItem } from '../../functions/shared/control-item';
import { ControlTable } from '../../functions/shared/control-table';
import { createLogger } from '../../functions/shared/logger';
import { parseWorkerEvent } from '../../functions/worker-kit/tick-event';
import { describeCpuShare } from '../local-stack/lambda-sandbox/sandbox-host';
import type { LatencyModel } from '../local-stack/latency-model';
import { LOCAL_WORKER_NAME } from '../local-stack/local-endpoints';
import type { InvocationStart } from '../local-stack/local-functions';
import { type LocalStackEvent, startLocalStack } from '../local-stack/local-stack';
import type { DeclaredPoller } from '../local-stack/poller-file';
import { forwardLogLine } from '../local-stack/stack-functions';
import type { FleetOptions } from './cli-options';
import {
  type FleetFire,
  type FleetPoller,
  type FleetTargets,
  type FleetTickStats,
  type FleetVerdict,
  fleetTickStats,
  judgeFleet,
} from './fleet-stats';
import {
  clockTicksPerSecond,
  type KindUsage,
  machineMemoryUsedMb,
  type ProcessSample,
  sampleProcesses,
  usageByKind,
} from './process-usage';
import {
  fullScanReadUnits,
  type ShardWindowCounts,
  ShardWindowMeter,
  shardControllerSize,
  shardsForLoad,
} from './shard-window';

/** The mix: a quarter of the fleet at each cadence. */
export const MIX_CADENCES_S = [0.25, 1, 5, 60] as const;
const UNIFORM_CADENCE_S = 1;
/** How often CPU and memory are read during the window (peak RSS, processes that come and go). */
const SAMPLE_EVERY_MS = 5_000;
/** After the window, ticks scheduled inside it may still be on their way to the worker. */
const GRACE_MS = 3_000;
/** A problem's text is cut here in the report: enough to say what failed. */
const PROBLEM_CHARS = 160;
/** How the fleet start's execution ends (`fleet started: s0, s1`): fleet-planner.ts fleetStartReason. */
const FLEET_STARTED_REASON = 'fleet started:';
/** How much longer than asked the warm-up may wait for every poller's first fire. */
const WARMUP_CAP_MS = 90_000;

export interface FleetRun {
  readonly size: number;
  readonly cadences: FleetOptions['cadences'];
  readonly windowMs: number;
  readonly warmupMs: number;
  readonly cpuShare: string;
  /** The machine's 1-minute load average as the run began (other work on the machine skews every figure). */
  readonly loadAverageAtStart: number;
  /** The machine's memory in use (MemTotal − MemAvailable) before the stack started and at its peak in the window. */
  readonly machineMemoryMb: { readonly before: number; readonly peak: number };
  readonly stats: FleetTickStats;
  readonly verdict: FleetVerdict;
  /** The same figures per cadence, for a mix (a uniform fleet has one cadence: its own row says it all). */
  readonly byCadence: readonly { readonly everySeconds: number; readonly stats: FleetTickStats }[];
  readonly usage: readonly KindUsage[];
  /** Error events and handler warnings, deduplicated with a count (the first 20 kinds). */
  readonly problems: readonly string[];
  /** `--serve shards`: the shards, what each fired, and the fleet's counted cost; absent for today's loops. */
  readonly shards?: ShardFigures;
}

/** One shard as the window saw it: its pollers (by the items at the window's end) and what they fired. */
export interface ShardLoad {
  readonly shard: string;
  readonly pollers: number;
  /** Fires scheduled in the window / the window's seconds. */
  readonly firesPerSecond: number;
  readonly stats: FleetTickStats;
}

export interface ShardFigures {
  readonly maxShards: number;
  readonly controllerMemoryMb: number;
  /** Every shard that served a poller, by name; `none` for pollers no shard named at the window's end. */
  readonly shards: readonly ShardLoad[];
  readonly window: ShardWindowCounts;
}

/** The cadence of the n-th poller of a fleet. */
export function cadenceOf(index: number, cadences: FleetOptions['cadences']): number {
  if (cadences === 'uniform') return UNIFORM_CADENCE_S;
  return MIX_CADENCES_S[index % MIX_CADENCES_S.length] ?? UNIFORM_CADENCE_S;
}

/** `fleet-0001` …: ids that sort in creation order. */
export function declareFleet(size: number, cadences: FleetOptions['cadences']): DeclaredPoller[] {
  const width = Math.max(4, String(size).length);
  return Array.from({ length: size }, (_, index) => ({
    id: `fleet-${String(index + 1).padStart(width, '0')}`,
    fields: { running: true, waitSeconds: cadenceOf(index, cadences) },
  }));
}

/** Fires per second of a fleet: 1 / interval summed. */
export function firesPerSecondOf(pollers: readonly DeclaredPoller[]): number {
  return pollers.reduce((sum, poller) => sum + 1 / poller.fields.waitSeconds, 0);
}

export interface RunFleetOptions {
  readonly size: number;
  readonly fleet: FleetOptions;
  readonly latency: LatencyModel;
  readonly targets: FleetTargets;
  readonly progress: (line: string) => void;
}

/**
 * One fleet on one local stack, seeded the way `npm start -- --pollers FILE` seeds one: each poller its own
 * execution and controller (today's design), or with `serve: 'shards'` the fleet variant as `npm start -- --fleet`
 * runs it (shared shard controllers, the fleet start at boot), its orchestration counted over the window. A
 * warm-up, then a window whose ticks are measured, then a grace for the window's last ticks to reach the worker.
 */
export async function runFleet(options: RunFleetOptions): Promise<FleetRun> {
  const { size, fleet, progress } = options;
  const loadAverageAtStart = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  const memoryBefore = machineMemoryUsedMb();
  const pollers = declareFleet(size, fleet.cadences);
  const fires: FleetFire[] = [];
  const problems = new Map<string, number>();
  // Ids, ticks and times make every line distinct: they are blanked so the same failure is counted as one.
  const note = (problem: string) => {
    const kind = problem
      .replace(/'[^']*'/g, "'…'")
      .replace(/\d+/g, 'N')
      .slice(0, PROBLEM_CHARS);
    problems.set(kind, (problems.get(kind) ?? 0) + 1);
  };
  // The stack's `fire` event carries these times as ISO text, whole milliseconds: a fifth of the 5 ms precision
  // target. The same moments, sub-millisecond, come with the invocation start the event is made from.
  const onInvocationStart = (start: InvocationStart) => {
    const tick = tickOf(start);
    if (tick === undefined) return;
    fires.push({
      poller: tick.pollerId,
      seq: tick.seq,
      scheduledAtMs: Date.parse(tick.scheduledAt),
      sentAtMs: start.requestedAt,
      firedAtMs: start.startedAt,
    });
  };
  const onEvent = (event: LocalStackEvent) => {
    if (event.event === 'error') {
      // The poller's id would make every line distinct: the message says what went wrong.
      note(`error: ${event.message}`);
    } else if (
      event.event === 'stopped' &&
      event.reason !== 'local stack stopped' &&
      // The fleet variant's fleet start ends so once it has started the shards: its job, not a problem (unless a
      // start failed: fleet-planner.ts fleetStartReason).
      !(event.reason.startsWith(FLEET_STARTED_REASON) && !event.reason.includes('could not start'))
    ) {
      note(`stopped: ${event.reason}`);
    }
  };
  const handlerLog = createLogger((level, message) => {
    if (level !== 'info') note(`${level}: ${message}`);
  });

  const shardSize = fleet.serve === 'shards' ? shardControllerSize(fleet.controllerMemoryMb) : undefined;
  const maxShards = fleet.maxShards ?? shardsForLoad(firesPerSecondOf(pollers));
  const shardMeter = shardSize === undefined ? undefined : new ShardWindowMeter(shardSize);
  progress(
    shardSize === undefined
      ? `fleet ${size} (${fleet.cadences}): starting the stack and ${size} loops`
      : `fleet ${size} (${fleet.cadences}): starting the fleet variant, at most ${maxShards} shards of ${shardSize.memoryMb} MB`,
  );
  const stack = await startLocalStack({
    port: 0,
    fleet: { source: `bench --fleet ${size}`, pollers },
    latency: options.latency,
    onEvent,
    onInvocationStart: (start) => {
      shardMeter?.onInvocationStart(start);
      onInvocationStart(start);
    },
    handlerLog,
    ...(fleet.workerInProcess ? { workerInProcess: true } : {}),
    ...(shardMeter === undefined || shardSize === undefined
      ? {}
      : {
          fleetVariant: { maxShards },
          controllerMemoryMb: shardSize.memoryMb,
          meter: shardMeter.meter,
          sandboxLog: (line) => {
            shardMeter.onSandboxLine(line);
            forwardLogLine(handlerLog, line);
          },
        }),
  });
  const table = new ControlTable(stack.dynamoDb, stack.tableName);
  try {
    const warmupStarted = Date.now();
    progress(`  warm-up ${fleet.warmupSeconds} s`);
    await sleep(fleet.warmupSeconds * 1000);
    // A big fleet's controllers cold-start for a while: the window opens once every poller has fired.
    const firing = () => new Set(fires.map((fire) => fire.poller)).size;
    while (firing() < size && Date.now() - warmupStarted < fleet.warmupSeconds * 1000 + WARMUP_CAP_MS) {
      progress(`  warm-up: ${firing()} of ${size} pollers fired so far`);
      await sleep(2_000);
    }
    const warmupMs = Date.now() - warmupStarted;

    const ticksPerSecond = clockTicksPerSecond();
    const countersAtStart = await skipCounters(table);
    const readings: ProcessSample[][] = [sampleProcesses()];
    let memoryPeak = machineMemoryUsedMb();
    shardMeter?.openWindow();
    const window = { startMs: Date.now(), endMs: Date.now() + fleet.seconds * 1000 };
    progress(`  measuring ${fleet.seconds} s`);
    while (Date.now() < window.endMs) {
      await sleep(Math.min(SAMPLE_EVERY_MS, window.endMs - Date.now()));
      readings.push(sampleProcesses());
      memoryPeak = Math.max(memoryPeak, machineMemoryUsedMb());
      const measured = fires.filter((fire) => fire.scheduledAtMs >= window.startMs).length;
      progress(`  ${Math.round((Date.now() - window.startMs) / 1000)} s: ${measured} fires`);
    }
    const windowMs = Date.now() - window.startMs;
    const windowSpan = { startMs: window.startMs, endMs: window.startMs + windowMs };
    const shardWindow = shardMeter?.closeWindow(
      windowSpan,
      size,
      await fullScanReadUnits(stack.dynamoDb, stack.tableName),
    );
    const itemsAtEnd = await table.listAll();
    const countersAtEnd = skipCountersOf(itemsAtEnd);
    await sleep(GRACE_MS);

    const fleetPollers: FleetPoller[] = pollers.map((poller) => ({
      id: poller.id,
      intervalMs: Math.round(poller.fields.waitSeconds * 1000),
      countedSkips: (countersAtEnd.get(poller.id) ?? 0) - (countersAtStart.get(poller.id) ?? 0),
    }));
    const endpointStats = fleetTickStats(fires, fleetPollers, window);
    const controllerPrecisionMs = shardWindow?.controllerPrecisionMs;
    const stats =
      controllerPrecisionMs === undefined ? endpointStats : { ...endpointStats, controllerPrecisionMs };
    const cadences = [...new Set(pollers.map((poller) => poller.fields.waitSeconds))];
    const byCadence =
      cadences.length < 2
        ? []
        : cadences.map((everySeconds) => {
            const ids = new Set(
              pollers
                .filter((poller) => poller.fields.waitSeconds === everySeconds)
                .map((poller) => poller.id),
            );
            return {
              everySeconds,
              stats: fleetTickStats(
                fires.filter((fire) => ids.has(fire.poller)),
                fleetPollers.filter((poller) => ids.has(poller.id)),
                window,
              ),
            };
          });
    return {
      size,
      cadences: fleet.cadences,
      windowMs,
      warmupMs,
      cpuShare: describeCpuShare(stack.cpuShare),
      loadAverageAtStart,
      machineMemoryMb: { before: memoryBefore, peak: memoryPeak },
      stats,
      verdict: judgeFleet(stats, options.targets),
      byCadence,
      usage: usageByKind(readings, windowMs, ticksPerSecond),
      problems: [...problems]
        .sort(([, a], [, b]) => b - a)
        .slice(0, 20)
        .map(([problem, count]) => `${count} × ${problem}`),
      ...(shardWindow === undefined || shardSize === undefined
        ? {}
        : {
            shards: {
              maxShards,
              controllerMemoryMb: shardSize.memoryMb,
              shards: shardLoads(itemsAtEnd, fires, fleetPollers, window, windowMs),
              window: shardWindow,
            },
          }),
    };
  } finally {
    progress(`  stopping the stack`);
    await stack.stop();
  }
}

/** skippedTicks + overlapSkips of every poller: the ticks its controller withheld on purpose. */
async function skipCounters(table: ControlTable): Promise<Map<string, number>> {
  return skipCountersOf(await table.listAll());
}

function skipCountersOf(items: readonly PollerItem[]): Map<string, number> {
  return new Map(items.map((item) => [item.pollerId, (item.skippedTicks ?? 0) + (item.overlapSkips ?? 0)]));
}

/** The pollers of each shard (as the items name them at the window's end) and their figures in the window. */
export function shardLoads(
  items: readonly Pick<PollerItem, 'pollerId' | 'shard'>[],
  fires: readonly FleetFire[],
  pollers: readonly FleetPoller[],
  window: { readonly startMs: number; readonly endMs: number },
  windowMs: number,
): ShardLoad[] {
  const shardOf = new Map(items.map((item) => [item.pollerId, item.shard ?? 'none']));
  const byShard = new Map<string, FleetPoller[]>();
  for (const poller of pollers) {
    const shard = shardOf.get(poller.id) ?? 'none';
    byShard.set(shard, [...(byShard.get(shard) ?? []), poller]);
  }
  return [...byShard]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([shard, members]) => {
      const ids = new Set(members.map((poller) => poller.id));
      const stats = fleetTickStats(
        fires.filter((fire) => ids.has(fire.poller)),
        members,
        window,
      );
      return { shard, pollers: members.length, firesPerSecond: stats.fires / (windowMs / 1000), stats };
    });
}

/** The tick a worker invocation carries, as the stack's `fire` event reads it; undefined for anything else. */
function tickOf(start: InvocationStart): WorkerEvent | undefined {
  if (start.functionName !== LOCAL_WORKER_NAME) return undefined;
  try {
    return parseWorkerEvent(start.event);
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
