import { windowRulesOf } from '../scheduling/window-grid';
import type { PollerConfig } from '../shared/contract';

/**
 * The fleet planner's assignment of pollers to shards (docs/design/fleet.md, "The shape"). Pure: pollers, the
 * measured capacity of one shard, the operator's MaxShards and the assignment in force → the new assignment and
 * the moves that lead to it. Stability comes first: a poller stays on its shard while that shard exists and has
 * room, so a change to one poller never reshuffles the fleet; a poller that must be placed goes to the shard its
 * rendezvous (highest-random-weight) hash ranks highest among those with room.
 */

/** One poller as the planner weighs it: fires per second at its busiest (0 while it does not run). */
export interface PollerLoad {
  readonly pollerId: string;
  readonly firesPerSecond: number;
}

/** The assignment in force: how many shards run, and which shard each poller is on. */
export interface FleetAssignment {
  readonly shardCount: number;
  /** Poller id → shard name (`shardName(i)`, i < shardCount). */
  readonly placement: ReadonlyMap<string, string>;
}

export const EMPTY_ASSIGNMENT: FleetAssignment = { shardCount: 0, placement: new Map() };

export interface FleetLimits {
  /** Fires per second one shard sustains (the fleet benchmark measures it per controller size). */
  readonly capacityFiresPerSecond: number;
  /** The operator's MaxShards: the planner never asks for more. */
  readonly maxShards: number;
  /**
   * Shrink only once the load fits the smaller count at this share of its capacity, so a load hovering at a
   * boundary does not start and stop a shard (and move its pollers) at every change. 1 shrinks as soon as it fits.
   */
  readonly shrinkBelowFill?: number;
}

export const DEFAULT_SHRINK_BELOW_FILL = 0.8;

export type MoveReason =
  /** A poller on no shard yet (new, or its shard was never recorded). */
  | 'unplaced'
  /** Its shard is no longer among the shards the fleet runs. */
  | 'shard-removed'
  /** Its shard carried more than its capacity; it was among the pollers the shard hashes lowest. */
  | 'shard-over-capacity';

export interface Move {
  readonly pollerId: string;
  /** undefined for a poller on no shard yet. */
  readonly from: string | undefined;
  readonly to: string;
  readonly reason: MoveReason;
}

export interface AssignmentPlan extends FleetAssignment {
  readonly moves: readonly Move[];
  /** Fires per second each shard carries, by shard name (every shard listed, empty ones at 0). */
  readonly loadByShard: ReadonlyMap<string, number>;
  /** Shards over capacity: only when even MaxShards cannot hold the load (the operator is told to raise it). */
  readonly overloaded: readonly string[];
}

/** The name of shard `index`: what a shard item's key (`~shard/s3`) and a shard execution's input carry. */
export function shardName(index: number): string {
  return `s${index}`;
}

/**
 * Fires per second of a poller at its busiest: the fastest of its base cadence and every window cadence (a pause
 * fires nothing), since the planner must leave room for the busiest hour of the week, not the current one. A
 * poller that does not run, or whose configuration cannot be read, fires nothing.
 */
export function firesPerSecondAtBusiest(config: PollerConfig | undefined): number {
  if (config === undefined || !config.running) return 0;
  const intervals = [
    config.intervalMs,
    ...windowRulesOf(config).flatMap((rule) =>
      rule.cadence.kind === 'every' ? [rule.cadence.intervalMs] : [],
    ),
  ];
  return 1_000 / Math.min(...intervals);
}

/**
 * The new assignment: ceil(load / capacity) shards (at most MaxShards, at least one while there are pollers, and
 * never shrinking while the load is above `shrinkBelowFill` of the smaller count), more when the pollers do not
 * pack into that many. Pollers whose shard remains and has room stay; the others are placed by rendezvous hash.
 */
export function planAssignment(
  pollers: readonly PollerLoad[],
  current: FleetAssignment,
  limits: FleetLimits,
): AssignmentPlan {
  const maxShards = Math.max(1, Math.floor(limits.maxShards));
  const total = pollers.reduce((sum, poller) => sum + loadOf(poller), 0);
  if (pollers.length === 0) {
    return { shardCount: 0, placement: new Map(), moves: [], loadByShard: new Map(), overloaded: [] };
  }
  const needed = Math.max(1, Math.ceil(total / limits.capacityFiresPerSecond));
  const shrinkFill = limits.shrinkBelowFill ?? DEFAULT_SHRINK_BELOW_FILL;
  const keepCurrent =
    current.shardCount > needed && total > needed * limits.capacityFiresPerSecond * shrinkFill;
  const first = Math.min(maxShards, keepCurrent ? current.shardCount : needed);
  // Pollers that do not pack into `first` shards (one large poller next to a full shard) ask for one more shard.
  let plan = placeOn(first, pollers, current, limits.capacityFiresPerSecond);
  for (let count = first + 1; packsBetter(plan) && count <= maxShards; count++) {
    plan = placeOn(count, pollers, current, limits.capacityFiresPerSecond);
  }
  return plan;
}

function placeOn(
  shardCount: number,
  pollers: readonly PollerLoad[],
  current: FleetAssignment,
  capacity: number,
): AssignmentPlan {
  const shards = Array.from({ length: shardCount }, (_, index) => shardName(index));
  const shardSet = new Set(shards);
  const load = new Map(shards.map((shard) => [shard, 0]));
  const members = new Map<string, PollerLoad[]>(shards.map((shard) => [shard, []]));
  const toPlace: { poller: PollerLoad; from: string | undefined; reason: MoveReason }[] = [];

  for (const poller of [...pollers].sort(byId)) {
    const from = current.placement.get(poller.pollerId);
    if (from !== undefined && shardSet.has(from)) {
      members.get(from)?.push(poller);
      load.set(from, (load.get(from) ?? 0) + loadOf(poller));
    } else {
      toPlace.push({ poller, from, reason: from === undefined ? 'unplaced' : 'shard-removed' });
    }
  }
  // A shard over capacity sheds the pollers that hash lowest on it (the ones it "owns" least) until it fits: a
  // bounded, deterministic set of moves.
  for (const shard of shards) {
    const byWeight = [...(members.get(shard) ?? [])].sort(
      (a, b) => weight(a.pollerId, shard) - weight(b.pollerId, shard) || byId(a, b),
    );
    for (const poller of byWeight) {
      if ((load.get(shard) ?? 0) <= capacity) break;
      load.set(shard, (load.get(shard) ?? 0) - loadOf(poller));
      toPlace.push({ poller, from: shard, reason: 'shard-over-capacity' });
    }
  }

  const placement = new Map<string, string>();
  for (const poller of pollers) {
    const from = current.placement.get(poller.pollerId);
    if (from !== undefined && shardSet.has(from)) placement.set(poller.pollerId, from);
  }
  const moves: Move[] = [];
  // The largest first packs best; ties by id keep the result independent of the input order.
  toPlace.sort((a, b) => loadOf(b.poller) - loadOf(a.poller) || byId(a.poller, b.poller));
  for (const { poller, from, reason } of toPlace) {
    const ranked = rankShards(poller.pollerId, shards);
    const withRoom = ranked.find((shard) => (load.get(shard) ?? 0) + loadOf(poller) <= capacity);
    // No shard has room (only at MaxShards): the emptiest takes it, and is reported overloaded.
    const to =
      withRoom ??
      ranked.reduce((best, shard) => ((load.get(shard) ?? 0) < (load.get(best) ?? 0) ? shard : best));
    load.set(to, (load.get(to) ?? 0) + loadOf(poller));
    placement.set(poller.pollerId, to);
    if (to !== from) moves.push({ pollerId: poller.pollerId, from, to, reason });
  }
  const overloaded = shards.filter((shard) => (load.get(shard) ?? 0) > capacity + LOAD_EPSILON);
  return { shardCount, placement, moves, loadByShard: load, overloaded };
}

/** Loads are sums of 1000 / interval: a float error must not count as an overload. */
const LOAD_EPSILON = 1e-9;

/** Another shard helps only where an overloaded shard holds more than one poller (one poller over capacity stays so). */
function packsBetter(plan: AssignmentPlan): boolean {
  const overloaded = new Set(plan.overloaded);
  const counts = new Map<string, number>();
  for (const shard of plan.placement.values()) {
    if (overloaded.has(shard)) counts.set(shard, (counts.get(shard) ?? 0) + 1);
  }
  return [...counts.values()].some((count) => count > 1);
}

function loadOf(poller: PollerLoad): number {
  return Number.isFinite(poller.firesPerSecond) && poller.firesPerSecond > 0 ? poller.firesPerSecond : 0;
}

function byId(a: PollerLoad, b: PollerLoad): number {
  return a.pollerId < b.pollerId ? -1 : a.pollerId > b.pollerId ? 1 : 0;
}

/** Shards by the poller's rendezvous weight, highest first (ties by name, which cannot repeat). */
export function rankShards(pollerId: string, shards: readonly string[]): string[] {
  return [...shards].sort((a, b) => weight(pollerId, b) - weight(pollerId, a) || (a < b ? -1 : 1));
}

/** The rendezvous weight of a poller on a shard: a hash of both, so each poller ranks the shards its own way. */
export function weight(pollerId: string, shard: string): number {
  return mix32(fnv1a32(`${pollerId}\u0000${shard}`));
}

const UTF8 = new TextEncoder();

/**
 * FNV-1a, 32 bits, over the UTF-8 bytes: written here rather than taken from a runtime's hash so that every
 * Node.js version, and the tests, place pollers identically.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of UTF8.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * FNV-1a's last byte is only multiplied once, so names that differ in their last character (s1, s2) hash close
 * together; a finaliser (murmur3's fmix32) spreads them over the whole range.
 */
function mix32(value: number): number {
  let hash = value;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
