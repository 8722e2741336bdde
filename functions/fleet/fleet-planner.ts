import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DEFAULT_MAX_SHARDS, ENV } from '../shared/contract';
import { decodePollerItem, pollerIdOfKey } from '../shared/control-item';
import { type Environment, wholeNumberFromEnv } from '../shared/env';
import { describeCause } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { PollerTable } from '../shared/poller-table';
import type { ItemChangeRecord } from '../starter/item-change-record';
import {
  type FleetCounts,
  type FleetPoller,
  planFleet,
  SHARD_CAPACITY_FIRES_PER_SECOND,
  type ShardStart,
  shardExecutionName,
} from './fleet-plan';
import {
  type PlacementOutcome,
  SHARD_KEY_PREFIX,
  type ShardItem,
  type ShardStore,
  shardItemKey,
  shardOfKey,
} from './shard-store';
import { decodeShardItem } from './shard-table';

/**
 * The fleet planner's I/O (decision 8 of the wiring): one Scan, the pure plan (fleet-plan.ts), the placement
 * writes (each conditional: one that finds the item changed is left to the next run, which reads it anew) and the
 * shard executions to start. Runs at the fleet start, on the stream (narrowed to the pollers a batch changed) and
 * in the watchdog every minute. A failed write or start is counted and logged, never thrown: the others go on, and
 * the next run (at most a minute later) tries again.
 */

/** What one Scan of the control table lists: the pollers with their fleet fields, and the shard items. */
export interface FleetListing {
  readonly pollers: readonly FleetPoller[];
  readonly shards: readonly ShardItem[];
  /** Items the Scan found and could not use, each named with its problem. */
  readonly problems?: readonly string[];
}

export interface FleetPlannerDeps {
  /** One Scan of the control table (listFleetIn). */
  readonly listFleet: () => Promise<FleetListing>;
  readonly store: Pick<ShardStore, 'place'>;
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  readonly log: Logger;
  /** The operator's MaxShards (env MAX_SHARDS). */
  readonly maxShards: number;
  /** SHARD_CAPACITY_FIRES_PER_SECOND unless a test says otherwise. */
  readonly capacityFiresPerSecond?: number;
}

/** Why the planner runs; the stream narrows it to the pollers its batch placed in question. */
export type PlannerRun =
  | { readonly kind: 'fleet-start' }
  | { readonly kind: 'seed' }
  | { readonly kind: 'watchdog' }
  | { readonly kind: 'stream'; readonly pollers: readonly string[] };

export interface ShardStartResult {
  readonly shard: string;
  readonly executionName: string;
  readonly why: ShardStart['why'];
  /** `exists`: Step Functions already has an execution of that name (a racing start asked for it first). */
  readonly outcome: 'started' | 'exists' | 'failed';
}

export interface FleetPlannerReport {
  readonly checked: number;
  readonly counts: FleetCounts;
  readonly shardCount: number;
  readonly overloaded: readonly string[];
  readonly writes: Readonly<Record<PlacementOutcome | 'failed', number>>;
  readonly starts: readonly ShardStartResult[];
}

export async function runFleetPlanner(
  deps: FleetPlannerDeps,
  nowMs: number,
  why: PlannerRun,
): Promise<FleetPlannerReport> {
  const { pollers, shards, problems = [] } = await deps.listFleet();
  const plan = planFleet(pollers, shards, nowMs, {
    maxShards: deps.maxShards,
    capacityFiresPerSecond: deps.capacityFiresPerSecond,
    changed: why.kind === 'stream' ? new Set(why.pollers) : undefined,
  });

  const writes: Record<PlacementOutcome | 'failed', number> = {
    written: 0,
    changed: 0,
    missing: 0,
    failed: 0,
  };
  const failures: { pollerId?: string; shard?: string; error: string }[] = [];
  for (const { pollerId, write } of plan.writes) {
    try {
      writes[await deps.store.place(pollerId, write)] += 1;
    } catch (error) {
      writes.failed += 1;
      failures.push({ pollerId, error: describeCause(error) });
    }
  }

  const starts: ShardStartResult[] = [];
  for (const start of plan.starts) {
    const executionName = shardExecutionName(start.shard, start.nextEpoch, nowMs);
    try {
      const outcome = await startShardExecution(deps, start.shard, executionName);
      starts.push({ shard: start.shard, executionName, why: start.why, outcome });
    } catch (error) {
      starts.push({ shard: start.shard, executionName, why: start.why, outcome: 'failed' });
      failures.push({ shard: start.shard, error: describeCause(error) });
    }
  }

  const report: FleetPlannerReport = {
    checked: pollers.length,
    counts: plan.counts,
    shardCount: plan.assignment.shardCount,
    overloaded: plan.assignment.overloaded,
    writes,
    starts,
  };
  const line = {
    why: why.kind,
    ...(why.kind === 'stream' ? { pollers: why.pollers } : {}),
    checked: report.checked,
    shards: report.shardCount,
    ...report.counts,
    writes,
    started: starts.filter((start) => start.outcome !== 'failed').map((start) => start.executionName),
    ...(report.overloaded.length > 0 ? { overloaded: report.overloaded } : {}),
    ...(failures.length > 0 ? { failures } : {}),
    ...(problems.length > 0 ? { problems } : {}),
  };
  if (failures.length > 0 || problems.length > 0) deps.log.error('fleet planner', line);
  else if (report.overloaded.length > 0)
    deps.log.warn('fleet planner: shards over capacity at MaxShards', line);
  else deps.log.info('fleet planner', line);
  return report;
}

/**
 * Starts a fresh execution of a shard: input `{ "pollerId": "~shard/s0" }` (the ASL's HandOver and Wait read
 * `$.pollerId` and `$.wakeAt` as for a poller). Only one execution takes the lease; a start that loses the race
 * ends at once. A name already taken is such a race, and fine.
 */
async function startShardExecution(
  deps: Pick<FleetPlannerDeps, 'sfn' | 'stateMachineArn'>,
  shard: string,
  name: string,
): Promise<'started' | 'exists'> {
  try {
    await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name,
        input: JSON.stringify({ pollerId: shardItemKey(shard) }),
      }),
    );
    return 'started';
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) return 'exists';
    throw error;
  }
}

/**
 * The fleet as one Scan of the control table lists it: shard items by their `~shard/` key, every other item a
 * poller. A shard item that cannot be read (a hand edit) is left out and named in `problems`: the rest of the fleet
 * is still planned.
 */
export function listFleetIn(table: Pick<PollerTable, 'scanEveryImage'>): () => Promise<FleetListing> {
  return async () => {
    const pollers: FleetPoller[] = [];
    const shards: ShardItem[] = [];
    const problems: string[] = [];
    for (const { pollerId, image } of await table.scanEveryImage()) {
      if (!pollerId.startsWith(SHARD_KEY_PREFIX)) {
        pollers.push(decodePollerItem(pollerId, image));
        continue;
      }
      const shard = shardOfKey(pollerId);
      try {
        if (shard === undefined) throw new Error(`item '${pollerId}' names no shard (s0, s1, …)`);
        shards.push(decodeShardItem(shard, image));
      } catch (error) {
        problems.push(describeCause(error));
      }
    }
    return { pollers, shards, problems };
  };
}

/**
 * The pollers a stream batch puts in question: created with `running` true, switched on, or a running poller whose
 * pending move was completed (`moveTo` removed as `shard` changed: the old shard's flip), so that its new shard is
 * started or woken within seconds rather than at the watchdog's next minute. Every other change (a shard's claim
 * writes, an operator's edit of a running poller) is the watchdog's, a minute later at most.
 */
export function pollersToPlace(records: readonly ItemChangeRecord[]): string[] {
  const pollers = new Set<string>();
  for (const record of records) {
    const change = record.dynamodb;
    const pollerId = pollerIdOfKey(change?.Keys);
    if (pollerId === undefined || pollerId.startsWith(SHARD_KEY_PREFIX) || change?.NewImage === undefined)
      continue;
    const after = decodePollerItem(pollerId, change.NewImage);
    const before = change.OldImage === undefined ? undefined : decodePollerItem(pollerId, change.OldImage);
    if (after.operator.running !== true) continue;
    const switchedOn = before?.operator.running !== true;
    const moved = before?.moveTo !== undefined && after.moveTo === undefined && after.shard !== before.shard;
    if (switchedOn || moved) pollers.add(pollerId);
  }
  return [...pollers];
}

/** MAX_SHARDS as the stack sets it: a whole number from 1; DEFAULT_MAX_SHARDS when unset. */
export function maxShardsFrom(env: Environment): number {
  return wholeNumberFromEnv(ENV.maxShards, env, DEFAULT_MAX_SHARDS);
}

/**
 * SHARD_CAPACITY (env), the fires per second the planner lays on one shard: a whole number from 1; unset (as the
 * templates leave it), SHARD_CAPACITY_FIRES_PER_SECOND, the figure for the fleet's default controller.
 * An operator who sizes the controller otherwise sets the figure the fleet benchmark measured for that size.
 */
export function shardCapacityFrom(env: Environment): number {
  return wholeNumberFromEnv(ENV.shardCapacity, env, SHARD_CAPACITY_FIRES_PER_SECOND);
}

/**
 * The reason a fleet start ends with (PollerStoppedSignal): the shards it started (`fleet started: s0, s1`), those
 * a racing start had already asked for, and any that failed (the watchdog tries again within a minute).
 */
export function fleetStartReason(report: FleetPlannerReport): string {
  const named = (outcome: ShardStartResult['outcome']) =>
    report.starts.filter((start) => start.outcome === outcome).map((start) => start.shard);
  const started = [...named('started'), ...named('exists')];
  const failed = named('failed');
  const parts = [
    started.length > 0
      ? `fleet started: ${started.join(', ')}`
      : `fleet started: no shard needed a start (${report.counts.active} running pollers served)`,
    ...(failed.length > 0 ? [`could not start ${failed.join(', ')} (the watchdog tries again)`] : []),
  ];
  return parts.join('; ');
}
