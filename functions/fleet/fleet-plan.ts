import type { PollerItem } from '../shared/control-item';
import { type AssignmentPlan, firesPerSecondAtBusiest, planAssignment } from './assignment';
import { earliestMoveAt } from './shard-lease';
import type { PlacementWrite, ShardItem } from './shard-store';

/**
 * The fleet planner's decision (docs/design/fleet.md, "The shape"; decisions 8 and 9 of the wiring), pure: the
 * pollers and shard items as one Scan listed them and the clock → the placement writes, the shard executions to
 * start and the counts the watchdog reports. The I/O is fleet-planner.ts.
 */

/**
 * Fires per second one shard controller (DEFAULT_SHARD_SIZE, 320 MB) is planned to carry: what `npm run bench --
 * --shard-capacity` and the fleet benchmark measured it to sustain within the 5 ms precision target
 * (bench/results/shard-capacity.md, fleet-shards.md), as SUSTAINED_INTERVAL_MS follows the single-loop benchmark.
 */
export const SHARD_CAPACITY_FIRES_PER_SECOND = 100;

/**
 * A shard whose execution sleeps in a Wait state (lease released, `sleepUntil` recorded) counts as served until
 * this long after `sleepUntil`: a Wait state wakes on the whole second and a round takes a moment to re-take.
 */
export const SLEEP_SLACK_MS = 5_000;

/**
 * The stream's wake rule: a poller just placed or switched on is picked up by a sleeping shard due within this
 * long (the design's 2 s responsiveness); a shard sleeping longer gets a fresh execution.
 */
export const WAKE_WITHIN_MS = 2_000;

/**
 * One poller as the planner's Scan listed it: the decoded item, whose fleet fields (`shard`, `moveTo`, `movedAt`,
 * written by the fleet only) control-item.ts decodes with the rest.
 */
export type FleetPoller = Pick<PollerItem, 'pollerId' | 'operator' | 'config'> & {
  /** The shard serving it, undefined while unplaced. */
  readonly shard: string | undefined;
  /** A pending move: the shard it goes to at `movedAt` (epoch ms). */
  readonly moveTo: string | undefined;
  readonly movedAt: number | undefined;
};

/** How a shard stands at the planner's clock. */
export type ShardStanding =
  /** Its lease runs: an execution renews it. */
  | 'leased'
  /** Its execution sleeps in a Wait state, due back by `sleepUntil` (+ slack). */
  | 'sleeping'
  /** No owner: never taken, the lease ran out with no sleep ahead, or no shard item at all. */
  | 'dead';

export function shardStanding(item: ShardItem | undefined, nowMs: number): ShardStanding {
  if (item?.lease !== undefined && nowMs < item.lease.validUntilMs) return 'leased';
  if (item?.sleepUntilMs !== undefined && nowMs < item.sleepUntilMs + SLEEP_SLACK_MS) return 'sleeping';
  return 'dead';
}

export interface ShardStart {
  readonly shard: string;
  /** The epoch the new execution will take (the one read + 1): part of its name. */
  readonly nextEpoch: number;
  readonly why: 'no-owner' | 'wake';
}

export interface PlannedPlacement {
  readonly pollerId: string;
  readonly write: PlacementWrite;
}

export interface FleetCounts {
  /** Running pollers on a shard with a live owner (leased or sleeping). */
  readonly active: number;
  /** Running pollers on a shard with no live owner, plus running pollers on no shard. */
  readonly stale: number;
  /** Of `stale`, those on no shard. */
  readonly unplaced: number;
}

export interface FleetPlan {
  readonly writes: readonly PlannedPlacement[];
  readonly starts: readonly ShardStart[];
  /** As read, before this plan's writes and starts. */
  readonly counts: FleetCounts;
  readonly assignment: AssignmentPlan;
}

export interface FleetPlanOptions {
  readonly maxShards: number;
  readonly capacityFiresPerSecond?: number;
  /**
   * The stream's narrowing: only these pollers are placed or moved, and only their shards started (dead) or woken
   * (sleeping for more than WAKE_WITHIN_MS more). Undefined: the whole fleet (the fleet start, the watchdog).
   */
  readonly changed?: ReadonlySet<string>;
}

/** Whether the poller counts for the fleet: `running` reads as true (a bad configuration still gets a shard, which records its problems). */
function isRunning(poller: FleetPoller): boolean {
  return poller.operator.running === true;
}

export function planFleet(
  pollers: readonly FleetPoller[],
  shards: readonly ShardItem[],
  nowMs: number,
  options: FleetPlanOptions,
): FleetPlan {
  const shardItems = new Map(shards.map((item) => [item.shard, item]));
  const standing = (shard: string) => shardStanding(shardItems.get(shard), nowMs);
  const running = pollers.filter(isRunning);

  // The assignment in force: a pending move counts at its destination (the plan must not undo it).
  const current = new Map<string, string>();
  for (const poller of running) {
    const at = poller.moveTo ?? poller.shard;
    if (at !== undefined) current.set(poller.pollerId, at);
  }
  const assignment = planAssignment(
    running.map((poller) => ({
      pollerId: poller.pollerId,
      firesPerSecond: firesPerSecondAtBusiest(poller.config.config),
    })),
    { shardCount: shardCountOf(current.values()), placement: current },
    {
      capacityFiresPerSecond: options.capacityFiresPerSecond ?? SHARD_CAPACITY_FIRES_PER_SECOND,
      maxShards: options.maxShards,
    },
  );

  const inScope = (pollerId: string) => options.changed === undefined || options.changed.has(pollerId);
  const writes: PlannedPlacement[] = [];
  for (const poller of running) {
    const { pollerId } = poller;
    const to = assignment.placement.get(pollerId);
    if (to === undefined || !inScope(pollerId)) continue;
    const write = placementWrite(poller, to, standing, shardItems, nowMs);
    if (write !== undefined) writes.push({ pollerId, write });
  }

  const starts: ShardStart[] = [];
  // The shard each poller's item names once this plan's writes are made: a shard started for pollers it cannot
  // see yet (a pending move's destination, before the old shard flips the item) would find none and end at once.
  const writeOf = new Map(writes.map(({ pollerId, write }) => [pollerId, write]));
  const wanted = new Set<string>();
  for (const poller of running) {
    if (!inScope(poller.pollerId)) continue;
    const write = writeOf.get(poller.pollerId);
    const shard = write === undefined ? poller.shard : write.kind === 'move' ? write.from : write.to;
    if (shard !== undefined) wanted.add(shard);
  }
  for (const shard of [...wanted].sort(byShardIndex)) {
    const item = shardItems.get(shard);
    const nextEpoch = (item?.lease?.epoch ?? 0) + 1;
    const stands = standing(shard);
    if (stands === 'dead') starts.push({ shard, nextEpoch, why: 'no-owner' });
    else if (options.changed !== undefined && sleepsPastWake(item, nowMs))
      starts.push({ shard, nextEpoch, why: 'wake' });
  }

  let active = 0;
  let unplaced = 0;
  let onDeadShards = 0;
  for (const poller of running) {
    if (poller.shard === undefined) unplaced += 1;
    else if (standing(poller.shard) === 'dead') onDeadShards += 1;
    else active += 1;
  }
  return { writes, starts, counts: { active, stale: unplaced + onDeadShards, unplaced }, assignment };
}

/**
 * The write that brings a poller to `to`, or none. From a shard with an owner, a move at earliestMoveAt (the old
 * shard fires ticks due before it, then flips the item itself); from a shard with none (dead, or removed and
 * dead), a reassign at ≥ its validUntil. A pending move whose old shard died is completed by a reassign at
 * ≥ movedAt; one whose old shard lives is left to it (a plan that wants the poller elsewhere waits for the flip).
 */
function placementWrite(
  poller: FleetPoller,
  to: string,
  standing: (shard: string) => ShardStanding,
  shardItems: ReadonlyMap<string, ShardItem>,
  nowMs: number,
): PlacementWrite | undefined {
  const from = poller.shard;
  if (from === undefined) return { kind: 'place', to };
  const leaving = shardItems.get(from)?.lease;
  const fromDead = standing(from) === 'dead';
  if (poller.moveTo !== undefined) {
    if (!fromDead) return undefined;
    const atMs = Math.max(poller.movedAt ?? nowMs, leaving?.validUntilMs ?? nowMs);
    return { kind: 'reassign', from, to, atMs };
  }
  if (to === from) return undefined;
  const atMs = earliestMoveAt(leaving, nowMs);
  return fromDead ? { kind: 'reassign', from, to, atMs } : { kind: 'move', from, to, atMs };
}

/** A released lease whose execution sleeps for more than WAKE_WITHIN_MS more: a new poller would wait for it. */
function sleepsPastWake(item: ShardItem | undefined, nowMs: number): boolean {
  if (item === undefined || (item.lease !== undefined && nowMs < item.lease.validUntilMs)) return false;
  return item.sleepUntilMs !== undefined && item.sleepUntilMs > nowMs + WAKE_WITHIN_MS;
}

/** The shards in force: one past the highest index any poller names (shard names are `s<index>`). */
function shardCountOf(shards: Iterable<string>): number {
  let count = 0;
  for (const shard of shards) {
    const index = shardIndexOf(shard);
    if (index !== undefined) count = Math.max(count, index + 1);
  }
  return count;
}

function shardIndexOf(shard: string): number | undefined {
  const match = /^s(\d{1,4})$/.exec(shard);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function byShardIndex(a: string, b: string): number {
  return (shardIndexOf(a) ?? 0) - (shardIndexOf(b) ?? 0) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The name of a shard execution: `shard-s0-<epoch it will take>-<start time, epoch ms>`. Step Functions keeps a
 * closed execution's name for 90 days, so the time makes every start's name new; two starts racing in the same
 * millisecond ask for the same name, and Step Functions keeps it to one execution.
 */
export function shardExecutionName(shard: string, nextEpoch: number, nowMs: number): string {
  return `shard-${shard}-${nextEpoch}-${Math.floor(nowMs)}`;
}
