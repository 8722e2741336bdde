import { FIELD, type LoopState } from '../shared/contract';
import type { PollerItem } from '../shared/control-item';
import type { PollerPlacement, ShardLease } from './shard-lease';

/**
 * What the shard controller and the fleet planner need from the control table (docs/design/fleet.md, "Wiring").
 * One implementation (shard-table.ts) over the real DynamoDB client; the pure modules of this folder never see it.
 *
 * Items, all in the control table:
 * - a **shard item** per shard, key `~shard/<name>` (no poller id can start with `~`): the lease
 *   (`leaseOwner`, `leaseEpoch`, `leaseUntil` epoch ms) and `sleepUntil` (epoch ms) while its execution sleeps in a
 *   Wait state with the lease released;
 * - on each **poller item**, system fields written by the fleet only: `shard` (the shard serving it: the GSI key),
 *   `moveTo` + `movedAt` while a move is pending (the item still names the old shard, which fires ticks due before
 *   `movedAt` and then flips `shard` to `moveTo`, writing its loop), `movedAt` alone after a move (the new shard
 *   fires ticks due at or after it), `shardLoop` (the poller's grid as the serving shard last recorded it: JSON of
 *   encodeLoopState) and `shardEpoch` (the lease epoch of the shard that wrote `shardLoop`; a write never lowers it).
 *   `claimedSeq`, `seq`, `lastTickAt`, `nextTickAt`, `stoppedReason`, `lastError` keep their single-loop meaning.
 */

/** The prefix of a shard item's key; POLLER_ID_PATTERN excludes `~`, so no poller can collide. */
export const SHARD_KEY_PREFIX = '~shard/';

/** The sparse global secondary index on `shard` (projection SHARD_INDEX_PROJECTION) a shard queries its pollers with. */
export const SHARD_INDEX_NAME = 'shard-index';

/**
 * The attributes the shard index projects (besides the keys `id` and `shard`): what a shard round reads, and no
 * more. A Query is charged on the projected bytes it returns (4 KB a read unit, half for the index's eventually
 * consistent reads), so the worker kit's outcome history (up to ~2 KB an item) stays out of it; and a write that
 * changes only attributes the index does not project (the outcome records) is no index write. One list, read by
 * the CDK table, the local stack's table and the tests.
 */
export const SHARD_INDEX_PROJECTION = [
  FIELD.running,
  FIELD.waitSeconds,
  FIELD.target,
  FIELD.payload,
  FIELD.timezone,
  FIELD.windows,
  FIELD.overlap,
  FIELD.seq,
  FIELD.claimedSeq,
  FIELD.stoppedReason,
  FIELD.lastError,
  FIELD.moveTo,
  FIELD.movedAt,
  FIELD.shardLoop,
  FIELD.shardEpoch,
] as const;

/** A shard's name: `s0`, `s1`, … (assignment.ts shardName). */
export const SHARD_NAME_PATTERN = /^s\d{1,4}$/;

/** The key of a shard's item, and the `pollerId` of a shard execution's input and output. */
export function shardItemKey(shard: string): string {
  return `${SHARD_KEY_PREFIX}${shard}`;
}

/** The shard named by an item key or an execution input's `pollerId`; undefined for a poller's. */
export function shardOfKey(id: string): string | undefined {
  if (!id.startsWith(SHARD_KEY_PREFIX)) return undefined;
  const shard = id.slice(SHARD_KEY_PREFIX.length);
  return SHARD_NAME_PATTERN.test(shard) ? shard : undefined;
}

/**
 * Whether the loop on a poller's item was recorded by another shard than `shard` (`shardLoop` names its writer:
 * `{"by":"s1",…}`). A record naming no shard, written before shards named themselves, is taken as this one's.
 */
export function recordedByAnother(recordedBy: string | undefined, shard: string): boolean {
  return (recordedBy ?? shard) !== shard;
}

/** A shard item as read. */
export interface ShardItem {
  readonly shard: string;
  readonly lease: ShardLease | undefined;
  /** Set when the owner handed back to a Wait state (lease released): it wakes by then. */
  readonly sleepUntilMs: number | undefined;
}

/** One poller as a shard's Query returns it. */
export interface ShardMemberRead {
  readonly item: PollerItem;
  /**
   * As the pure core reads it: `{ shard: moveTo, movedAtMs: movedAt }` while a move is pending, else
   * `{ shard, movedAtMs: movedAt }`.
   */
  readonly placement: PollerPlacement;
  /** `shardLoop` decoded (undefined when absent or unreadable: the shard then starts above `claimedSeq`). */
  readonly recordedLoop: LoopState | undefined;
  readonly recordedEpoch: number | undefined;
  /** The shard that recorded the loop (undefined for records older than shards naming themselves). */
  readonly recordedBy: string | undefined;
}

export type LeaseWrite =
  | { readonly kind: 'written'; readonly lease: ShardLease }
  /** The condition failed: another owner or epoch holds the shard item now (as read after the refusal). */
  | { readonly kind: 'lost'; readonly current: ShardItem | undefined };

/** A shard's write on one of its pollers' items; every one is conditional on the item naming this shard. */
export type PollerWrite =
  /**
   * Before the first tick of a seq above the item's `claimedSeq`: the grid and a claim ahead (claimedSeq only
   * rises), with the progress fields the CLI shows. Also after a schedule change (the grid is re-anchored).
   */
  | {
      readonly kind: 'claim';
      readonly loop: LoopState;
      readonly claimedSeq: number;
      readonly lastSeq: number | undefined;
      readonly lastTickAt: string | undefined;
      readonly nextTickAt: string | undefined;
      /** Late ticks skipped since the last claim write (ADDed to `skippedTicks`, not a write per tick). */
      readonly skippedTicksAdded?: number | undefined;
      /** Fires that failed since the last claim write (ADDed to `failedFires`). */
      readonly failedFiresAdded?: number | undefined;
      /** Ticks of an `overlap: skip` poller not fired since the last claim write (ADDed to `overlapSkips`). */
      readonly overlapSkipsAdded?: number | undefined;
      /** The last fire that failed since the last claim write, into `lastError` as the single loop records it. */
      readonly fireError?: { readonly message: string; readonly at: string } | undefined;
    }
  | { readonly kind: 'stopped'; readonly reason: string; readonly at: string }
  /** The item's problems and warnings (empty: all fixed), into `lastError` as the single loop records them. */
  | { readonly kind: 'notes'; readonly notes: readonly string[]; readonly at: string }
  /**
   * A pending move reached `movedAt`: `shard` := `to`, `moveTo` removed (condition: it is still `to`), the loop
   * recorded for the new shard, `shardEpoch` removed (the new shard's epochs are its own); with what this shard
   * counted since its last write (its last ticks before movedAt), ADDed as a claim adds them.
   */
  | {
      readonly kind: 'moved-out';
      readonly to: string;
      readonly loop: LoopState | undefined;
      readonly skippedTicksAdded?: number | undefined;
      readonly failedFiresAdded?: number | undefined;
      readonly overlapSkipsAdded?: number | undefined;
      readonly fireError?: { readonly message: string; readonly at: string } | undefined;
    };

export type PollerWriteOutcome = 'written' | 'not-ours' | 'missing';

/** The fleet planner's writes on poller items. */
export type PlacementWrite =
  /** A poller on no shard: `shard` := to, stale `moveTo`/`movedAt`/`shardEpoch` removed (condition: no `shard` yet). */
  | { readonly kind: 'place'; readonly to: string }
  /** From a live shard: `moveTo` := to, `movedAt` := at (condition: `shard` = from, no move pending). */
  | { readonly kind: 'move'; readonly from: string; readonly to: string; readonly atMs: number }
  /**
   * From a shard with no live owner (its lease ran out, or it was removed): `shard` := to, `movedAt` := at,
   * `moveTo` and `shardEpoch` removed, `shardLoop` kept for the new shard to resume (condition: `shard` = from).
   * `atMs` ≥ the old lease's validUntil.
   */
  | { readonly kind: 'reassign'; readonly from: string; readonly to: string; readonly atMs: number };

export type PlacementOutcome = 'written' | 'changed' | 'missing';

export interface ShardStore {
  readonly tableName: string;
  /** Strongly consistent. */
  readShard(shard: string): Promise<ShardItem | undefined>;
  /** Every shard item (a Scan; the planner's view). */
  listShards(): Promise<ShardItem[]>;
  /**
   * Takes the lease at `next.epoch`, on the condition that the item still holds exactly the lease read (`expected`:
   * its epoch and validUntil; undefined: none yet). Matching validUntil too means a renewal that lands between the
   * read and the take (a slow owner coming back in time) makes the take lose, never two owners.
   */
  takeLease(shard: string, next: ShardLease, expected: ShardLease | undefined): Promise<LeaseWrite>;
  /**
   * Moves validUntil ahead, on the condition that (owner, epoch) still hold and the lease held still runs at
   * `nowMs` (a lease that ran out may already have been judged dead and its pollers reassigned: it is re-taken at
   * the next epoch, never renewed); clears `sleepUntil`.
   */
  renewLease(shard: string, lease: ShardLease, nowMs: number): Promise<LeaseWrite>;
  /** Releases the lease to `lease.validUntilMs` (released()) and records `sleepUntil`, on the same condition. */
  releaseLease(shard: string, lease: ShardLease, sleepUntilMs: number): Promise<LeaseWrite>;
  /** The pollers whose item names the shard (the GSI: eventually consistent, as every GSI read is). */
  queryMembers(shard: string): Promise<ShardMemberRead[]>;
  /** A write by the shard holding `epoch` on one of its pollers. */
  writePoller(
    pollerId: string,
    shard: string,
    epoch: number,
    write: PollerWrite,
  ): Promise<PollerWriteOutcome>;
  /** A placement by the fleet planner. */
  place(pollerId: string, write: PlacementWrite): Promise<PlacementOutcome>;
}
