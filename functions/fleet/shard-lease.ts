import { loopAfterTick } from '../scheduling/plan-round';
import { gridIntervalMs, tickDueAt } from '../scheduling/tick-schedule';
import { settleOnWindows, windowRulesOf } from '../scheduling/window-grid';
import type { LoopState } from '../shared/contract';

/**
 * "Never twice" for shards (docs/design/fleet.md): leases on time instead of a claim write per poller. A shard
 * holds a lease on its shard item, `(owner, epoch, validUntil)`, and fires a tick only while the lease covers it.
 * Whoever serves a poller after it (a takeover, or a move to another shard) starts at the first tick due at or
 * after the instant the previous owner's right ended, so the two never fire the same (poller, seq). Pure: every
 * function takes the clock reading.
 */

export interface ShardLease {
  /** The execution that holds the lease. */
  readonly owner: string;
  /** Raised by every takeover: a renewal holds only for the (owner, epoch) it read. */
  readonly epoch: number;
  /** Epoch ms: the owner fires nothing due at or after this (less the guard). */
  readonly validUntilMs: number;
}

export interface LeaseTiming {
  /** A renewal moves validUntil this far ahead of now. */
  readonly durationMs: number;
  /** Renew once this long has passed since the last renewal: two chances to renew before the lease runs out. */
  readonly renewEveryMs: number;
  /**
   * A tick fires only when due this long before validUntil, by the owner's clock. Lambda hosts keep time by NTP
   * (skew of a few ms); the guard bounds the skew between two hosts plus the send allowance.
   */
  readonly guardMs: number;
}

export const DEFAULT_LEASE_TIMING: LeaseTiming = { durationMs: 30_000, renewEveryMs: 10_000, guardMs: 250 };

/**
 * Whether the owner of `lease` may fire a tick due at `dueAtMs`, at `nowMs` by its own clock. The lease is the one
 * held when the pollers were read: a batch planned from an earlier read never uses a renewal made after it (the
 * fleet planner places a move at or after the validUntil it reads, which is at least the one held at that read).
 */
export function mayFire(lease: ShardLease, dueAtMs: number, nowMs: number, guardMs: number): boolean {
  const lastSafeMs = lease.validUntilMs - guardMs;
  // A lease the owner's own clock says has run out gives no right to fire, even a tick due before its end.
  return dueAtMs < lastSafeMs && nowMs < lastSafeMs;
}

/** Whether the owner should renew now: the renewal interval has passed since the lease was last moved ahead. */
export function renewalDue(lease: ShardLease, nowMs: number, timing: LeaseTiming): boolean {
  return nowMs >= lease.validUntilMs - timing.durationMs + timing.renewEveryMs;
}

/** The lease after a renewal (a write conditional on owner and epoch): validUntil never moves back. */
export function renewed(lease: ShardLease, nowMs: number, timing: LeaseTiming): ShardLease {
  return { ...lease, validUntilMs: Math.max(lease.validUntilMs, nowMs + timing.durationMs) };
}

/**
 * The lease a shard leaves behind when it hands back to a Wait state: valid until now, so a fresh execution (the
 * starter waking the shard for a new poller) may take at once instead of waiting out the 30 s.
 */
export function released(lease: ShardLease, nowMs: number): ShardLease {
  return { ...lease, validUntilMs: Math.min(lease.validUntilMs, nowMs) };
}

export type TakeDecision =
  /** Write this lease (conditional on the epoch read); fire nothing due before `resumeFromMs`. */
  | { readonly kind: 'take'; readonly lease: ShardLease; readonly resumeFromMs: number }
  /** Another owner's lease still runs: look again at `untilMs`. */
  | { readonly kind: 'wait'; readonly untilMs: number }
  /** The lease is already this owner's: renew it instead. */
  | { readonly kind: 'own' };

/**
 * The takeover rule: a new epoch may take the shard once the lease in force has run out by the taker's clock (a
 * crashed owner stops renewing), and resumes every poller at the old validUntil. A shard item with no lease yet is
 * taken at epoch 1 and resumes at once.
 */
export function decideTakeover(
  current: ShardLease | undefined,
  owner: string,
  nowMs: number,
  timing: LeaseTiming,
): TakeDecision {
  if (current === undefined) {
    return {
      kind: 'take',
      lease: { owner, epoch: 1, validUntilMs: nowMs + timing.durationMs },
      resumeFromMs: nowMs,
    };
  }
  if (current.owner === owner) return { kind: 'own' };
  if (nowMs < current.validUntilMs) return { kind: 'wait', untilMs: current.validUntilMs };
  return {
    kind: 'take',
    lease: { owner, epoch: current.epoch + 1, validUntilMs: nowMs + timing.durationMs },
    resumeFromMs: current.validUntilMs,
  };
}

/** Where a poller is placed, as its item says (written by the fleet planner only). */
export interface PollerPlacement {
  readonly shard: string;
  /** From this instant the named shard fires the poller, and the shard it came from no longer does. */
  readonly movedAtMs: number | undefined;
}

/** The due times (from inclusive, until exclusive) within which a shard may fire a poller. */
export interface FiringSpan {
  readonly fromMs: number;
  readonly untilMs: number;
}

/**
 * The move rule: the shard the item names fires ticks due at or after `movedAt`; the shard the poller leaves (one
 * that was serving it) fires only ticks due before `movedAt`. With `movedAt ≥ validUntil(old shard)` the old
 * shard's own lease ends first, so the two spans never overlap. Undefined: this shard fires nothing of the poller.
 */
export function firingSpan(placement: PollerPlacement, shard: string): FiringSpan | undefined {
  const movedAtMs = placement.movedAtMs ?? Number.NEGATIVE_INFINITY;
  if (placement.shard === shard) return { fromMs: movedAtMs, untilMs: Number.POSITIVE_INFINITY };
  if (placement.movedAtMs === undefined) return undefined;
  return { fromMs: Number.NEGATIVE_INFINITY, untilMs: movedAtMs };
}

/** The earliest instant the fleet planner may write as `movedAt` for a poller leaving a shard with this lease. */
export function earliestMoveAt(leaving: ShardLease | undefined, nowMs: number): number {
  return Math.max(nowMs, leaving?.validUntilMs ?? nowMs);
}

/** Whether a tick may go out: inside the poller's span on this shard and inside the lease held at the read. */
export function mayFireTick(
  lease: ShardLease,
  span: FiringSpan,
  dueAtMs: number,
  nowMs: number,
  guardMs: number,
): boolean {
  return span.fromMs <= dueAtMs && dueAtMs < span.untilMs && mayFire(lease, dueAtMs, nowMs, guardMs);
}

/** The first seq due at or after `instantMs` on the loop's grid (straight arithmetic on tickDueAt). */
export function firstSeqDueAtOrAfter(
  grid: Pick<LoopState, 'anchorAt' | 'anchorSeq' | 'config' | 'windowIntervalMs'>,
  instantMs: number,
): number {
  const intervalMs = gridIntervalMs(grid);
  let seq = grid.anchorSeq + Math.ceil((instantMs - grid.anchorAt) / intervalMs);
  // Float division may land one off either way; the grid itself decides.
  while (tickDueAt(grid, seq - 1) >= instantMs) seq -= 1;
  while (tickDueAt(grid, seq) < instantMs) seq += 1;
  return seq;
}

/** Ticks replayed at most when resuming a poller with window rules (a 30 s lease at 0.1 s is 300). */
const MAX_REPLAYED_TICKS = 100_000;

/**
 * The handover rule for a poller: the loop a new owner resumes with, positioned at the first tick due at or after
 * `resumeFromMs` (the previous owner's validUntil, or `movedAt`). `recorded` is the last state the previous owner
 * recorded (a hand-over record, or the shard item's bulk progress), perhaps older than what it fired since.
 *
 * Why that is safe: from one state, the grid only moves later for a given seq as a loop goes on — a late tick is
 * skipped without taking a seq, so the anchor moves ahead and the seq stays. Without window rules the grid is
 * straight arithmetic (firstSeqDueAtOrAfter); with them, a window edge re-anchors the grid earlier than the old
 * cadence would have put it, so the new owner replays the ticks since the record by the same rule the planner lays
 * them by (settleOnWindows, as after every fired tick) and can never land below a seq the old owner fired. A
 * cadence change re-anchors too: the previous owner records it (shard-round.ts reports it), so `recorded` is never
 * older than one.
 */
export function resumeAt(recorded: LoopState, resumeFromMs: number): LoopState {
  if (
    windowRulesOf(recorded.config).length === 0 &&
    recorded.windowIntervalMs === undefined &&
    !recorded.paused
  ) {
    const seq = firstSeqDueAtOrAfter(recorded, resumeFromMs);
    return seq <= recorded.nextSeq ? recorded : { ...recorded, nextSeq: seq };
  }
  let current = settleOnWindows(recorded, tickDueAt(recorded, recorded.nextSeq)).loop;
  for (let ticks = 0; ticks < MAX_REPLAYED_TICKS; ticks++) {
    const dueAtMs = tickDueAt(current, current.nextSeq);
    if (dueAtMs >= resumeFromMs) return current;
    current = loopAfterTick(current, dueAtMs);
  }
  // A record this stale (a day at 1 s) cannot have come from a live lease; go on by arithmetic on the last run.
  const seq = firstSeqDueAtOrAfter(current, resumeFromMs);
  return seq <= current.nextSeq ? current : { ...current, nextSeq: seq };
}
