import { HISTORY_EVENTS_PER_ROUND } from '../scheduling/history-budget';
import { nextDueAt, withholdLateTick } from '../scheduling/plan-round';
import { tickDueAt } from '../scheduling/tick-schedule';
import type { LoopState } from '../shared/contract';
import type { PollerItem } from '../shared/control-item';
import {
  firstSeqDueAtOrAfter,
  type LeaseTiming,
  mayFire,
  renewed,
  resumeAt,
  type ShardLease,
} from './shard-lease';
import type { PollerRecord, ShardMember, ShardPollerState, ShardState, ShardTick } from './shard-round';
import { recordedByAnother, type ShardItem, type ShardMemberRead } from './shard-store';

/**
 * The shard controller's own decisions (functions/controller/run-shard-round.ts), beside planShardRound's: how an
 * invocation comes to hold the lease, what it rebuilds from the items, which claims a batch needs, and whether a
 * tick still goes out at its release. Pure: every function takes the clock reading.
 */

/** How an invocation starts serving its shard. */
export type LeaseStart =
  /** Take a new epoch: write `lease` on the condition that the item still holds `expected` (what was read). */
  | {
      readonly kind: 'take';
      readonly lease: ShardLease;
      readonly expected: ShardLease | undefined;
      readonly resumeFromMs: number;
    }
  /** This execution's own lease, still live (a retried attempt): renew it on (owner, epoch) while it runs. */
  | { readonly kind: 'renew'; readonly lease: ShardLease; readonly resumeFromMs: number }
  /** Another execution holds a live lease: a racing start lost; end at once. */
  | { readonly kind: 'end'; readonly reason: string };

/** What a round carries from the round before (its ShardLoopState). */
export interface CarriedLease {
  /** The round before was this execution's (a later round), not a previous execution's (a hand-over). */
  readonly laterRound: boolean;
  /** The epoch held when that round handed back. */
  readonly epoch: number;
  /** When it handed back (epoch ms, after its last fired tick). */
  readonly handedBackAtMs: number;
}

/**
 * Decision 3. A later round (`carried.laterRound`: the same execution's previous round) whose epoch is no longer the item's,
 * taken by another execution, ends `superseded by epoch N`: a fresh execution woke the shard while it slept. Else:
 * no lease → take epoch 1; the execution's own lease while it still runs (a retried attempt) → renew it; a live
 * lease of another owner → end; a lease that ran out, its own included (a released one, or one it held while frozen
 * past its end: the fleet planner may have judged the shard dead and reassigned its pollers meanwhile) → take
 * epoch+1 on exactly the lease read. Every poller resumes at the later of the lease's validUntil as read (what it
 * may have been fired up to) and the instant the previous round handed back.
 */
export function decideLeaseStart(
  current: ShardItem | undefined,
  owner: string,
  carried: CarriedLease | undefined,
  nowMs: number,
  timing: LeaseTiming,
): LeaseStart {
  const held = current?.lease;
  const handedBackAtMs = carried?.handedBackAtMs ?? Number.NEGATIVE_INFINITY;
  if (
    carried?.laterRound === true &&
    (held === undefined || (held.owner !== owner && held.epoch !== carried.epoch))
  )
    return { kind: 'end', reason: supersededReason(current) };
  if (held === undefined) {
    const lease = { owner, epoch: 1, validUntilMs: nowMs + timing.durationMs };
    return { kind: 'take', lease, expected: undefined, resumeFromMs: Math.max(nowMs, handedBackAtMs) };
  }
  const resumeFromMs = Math.max(held.validUntilMs, handedBackAtMs);
  if (nowMs < held.validUntilMs) {
    if (held.owner !== owner) return { kind: 'end', reason: `shard already served by ${held.owner}` };
    return { kind: 'renew', lease: renewed(held, nowMs, timing), resumeFromMs };
  }
  return { kind: 'take', lease: retaken(held, owner, nowMs, timing), expected: held, resumeFromMs };
}

/** The lease taken over one that ran out (this owner's own included): the next epoch, `durationMs` ahead. */
export function retaken(expired: ShardLease, owner: string, nowMs: number, timing: LeaseTiming): ShardLease {
  return { owner, epoch: expired.epoch + 1, validUntilMs: nowMs + timing.durationMs };
}

/**
 * After a refused renewal: whether the item still holds this very lease, run out (frozen or partitioned past its
 * end), so the owner may re-take it at the next epoch on exactly that read; any other lease means superseded.
 */
export function ranOutStillOurs(held: ShardLease, current: ShardItem | undefined, nowMs: number): boolean {
  const now = current?.lease;
  return (
    now !== undefined && now.owner === held.owner && now.epoch === held.epoch && now.validUntilMs <= nowMs
  );
}

/** How long an execution's first round keeps reading a shard that shows no member before it ends `no pollers`. */
export const NO_MEMBER_GRACE_MS = 10_000;

/** How often it reads again meanwhile: one Query a second. */
export const NO_MEMBER_READ_EVERY_MS = 1_000;

/**
 * When a read shows the shard no member: read again at the instant returned, or end `no pollers` (undefined). An
 * execution's first round reads for NO_MEMBER_GRACE_MS from its first read, since the index is eventually
 * consistent and the execution was started for a poller placed a moment ago (ending at once would leave that
 * poller unserved until the watchdog's next start), never past `lastReadByMs` (the round's deadline less its
 * hand-back margin); a later round had members before, and ends at once.
 */
export function noMemberReadAgainAt(
  firstRound: boolean,
  firstReadAtMs: number,
  nowMs: number,
  lastReadByMs: number,
): number | undefined {
  if (!firstRound || nowMs >= firstReadAtMs + NO_MEMBER_GRACE_MS) return undefined;
  const again = Math.min(nowMs + NO_MEMBER_READ_EVERY_MS, firstReadAtMs + NO_MEMBER_GRACE_MS);
  return again > lastReadByMs ? undefined : again;
}

/** The stop reason of an execution whose lease another epoch took. */
export function supersededReason(current: ShardItem | undefined): string {
  const epoch = current?.lease?.epoch;
  return epoch === undefined ? 'superseded: the shard item was removed' : `superseded by epoch ${epoch}`;
}

/**
 * Whether a read poller's recorded loop is this shard's own: its item still names this shard and this shard wrote
 * `shardEpoch` there (a move in, or a reassignment, removes it: the loop is then the previous shard's hand-over; a
 * hand edit of `shard` leaves the other shard's: `by` tells). A record naming no shard is taken as this one's.
 */
function recordedHere(read: ShardMemberRead, shard: string): boolean {
  return (
    read.item.shard !== undefined &&
    read.recordedEpoch !== undefined &&
    !recordedByAnother(read.recordedBy, shard)
  );
}

/**
 * A loop another shard recorded and still fences (its epoch on the item): no planner write handed it over, so that
 * shard may fire it until its next read shows the edit.
 */
function recordedElsewhere(read: ShardMemberRead, shard: string): boolean {
  return read.recordedEpoch !== undefined && recordedByAnother(read.recordedBy, shard);
}

/**
 * The state an invocation starts from, rebuilt from what the items record (a shard carries no per-poller state
 * through Step Functions): each poller this shard recorded, with its recorded loop (planShardRound resumes it at
 * the invocation's resume instant), the stop reason it recorded, and no notes yet (recordNews drops a note the
 * item already shows).
 */
export function recordedState(reads: readonly ShardMemberRead[], shard: string): ShardState {
  const state = new Map<string, ShardPollerState>();
  for (const read of reads) {
    const own = recordedHere(read, shard);
    // A stop recorded on an item this shard serves is not written again; its loop, if moved in, is a hand-over.
    if (!own && read.item.stoppedReason === undefined) continue;
    state.set(read.item.pollerId, {
      loop: own ? read.recordedLoop : undefined,
      stoppedReason: read.item.stoppedReason,
      notes: [],
    });
  }
  return state;
}

/**
 * The pollers planShardRound sees in a batch: the read, less the pollers this invocation handed over already (the
 * index, eventually consistent, may still show the pending move; fired again from a stale record they could repeat
 * a seq; `leftBehind`) and those whose writes were refused as not this shard's (`refused`), each with its recorded loop as the hand-over
 * when the shard keeps no loop for it.
 */
export function batchMembers(
  reads: readonly ShardMemberRead[],
  state: ShardState,
  shard: string,
  leftBehind: ReadonlySet<string>,
  refused: ReadonlySet<string>,
): ShardMember[] {
  return reads.flatMap((read) => {
    const pollerId = read.item.pollerId;
    if (refused.has(pollerId)) return [];
    // A poller that came back to this shard (placed here again, no move pending) is this shard's again.
    if (leftBehind.has(pollerId) && !(read.placement.shard === shard && read.item.moveTo === undefined))
      return [];
    const handedOver = state.get(pollerId)?.loop === undefined ? read.recordedLoop : undefined;
    const unannounced = handedOver !== undefined && recordedElsewhere(read, shard);
    return [
      {
        item: read.item,
        placement: read.placement,
        ...(handedOver ? { handedOver } : {}),
        ...(unannounced ? { unannounced } : {}),
      },
    ];
  });
}

/**
 * Records the item already shows are no news: a first batch starts with no notes, so the problems an item records
 * are not written again at every invocation.
 */
export function recordNews(
  records: readonly PollerRecord[],
  items: ReadonlyMap<string, PollerItem>,
): PollerRecord[] {
  return records.filter((record) => {
    if (record.kind !== 'notes') return true;
    const recorded = items.get(record.pollerId)?.lastError?.message;
    const message = record.notes.join('; ');
    return message === '' ? recorded !== undefined : message !== recorded;
  });
}

/**
 * A claim covers the ticks due within this span ahead: renewed when less than CLAIM_RENEW_WITHIN_MS is left, so
 * one write every ~3 minutes (~480 a poller a day at any cadence), plus the first one of every invocation.
 */
export const CLAIM_AHEAD_MS = 300_000;

/** A claim is renewed once the ticks it still covers are due within this span, long before a tick needs it. */
export const CLAIM_RENEW_WITHIN_MS = 120_000;

export interface ClaimNeed {
  readonly pollerId: string;
  /** The seq the claim reaches: the tick due ~CLAIM_AHEAD_MS ahead, at least every seq of the batch. */
  readonly claimedSeq: number;
  readonly loop: LoopState;
  readonly why: 'joined' | 'schedule-changed' | 'restarted' | 'ahead';
}

export interface ClaimInputs {
  readonly ticks: readonly ShardTick[];
  /** The state planShardRound returned (each loop after the batch). */
  readonly state: ShardState;
  /** The state it started from (a poller running again after a stop was stopped there). */
  readonly before: ShardState;
  readonly records: readonly PollerRecord[];
  /** The highest claim known per poller: the item's as read, or a higher one this invocation wrote. */
  readonly claimed: ReadonlyMap<string, number>;
  /** Pollers whose grid this epoch of the shard already recorded (their item's `shardEpoch`, or a write of ours). */
  readonly recorded: ReadonlySet<string>;
  readonly nowMs: number;
}

/**
 * The claim writes a batch needs (decision 5): a poller that joined this epoch of the shard (its grid not yet
 * recorded by it), whose schedule changed (re-anchored), that runs again after a stop, or whose claim covers less
 * than CLAIM_RENEW_WITHIN_MS of ticks ahead. Pollers with no running loop need none.
 */
export function claimsNeeded(inputs: ClaimInputs): ClaimNeed[] {
  const highestTick = new Map<string, number>();
  for (const tick of inputs.ticks)
    highestTick.set(tick.pollerId, Math.max(tick.seq, highestTick.get(tick.pollerId) ?? 0));
  const changed = new Set(
    inputs.records.flatMap((record) => (record.kind === 'schedule-changed' ? [record.pollerId] : [])),
  );
  const needs: ClaimNeed[] = [];
  for (const [pollerId, poller] of inputs.state) {
    const loop = poller.loop;
    if (loop === undefined || poller.stoppedReason !== undefined) continue;
    const claimed = inputs.claimed.get(pollerId) ?? 0;
    const renewBy = seqDueBy(loop, inputs.nowMs + CLAIM_RENEW_WITHIN_MS);
    const why = !inputs.recorded.has(pollerId)
      ? 'joined'
      : changed.has(pollerId)
        ? 'schedule-changed'
        : inputs.before.get(pollerId)?.stoppedReason !== undefined
          ? 'restarted'
          : claimed < Math.max(renewBy, highestTick.get(pollerId) ?? 0)
            ? 'ahead'
            : undefined;
    if (why === undefined) continue;
    const claimedSeq = Math.max(
      claimed,
      highestTick.get(pollerId) ?? 0,
      loop.nextSeq,
      seqDueBy(loop, inputs.nowMs + CLAIM_AHEAD_MS),
    );
    needs.push({ pollerId, claimedSeq, loop, why });
  }
  return needs;
}

/** The last seq due before `instantMs` on the loop's grid as it runs now (at least the next one). */
function seqDueBy(loop: LoopState, instantMs: number): number {
  if (loop.paused) return loop.nextSeq;
  return Math.max(loop.nextSeq, firstSeqDueAtOrAfter(loop, instantMs) - 1);
}

/** Why a tick is not sent at its release, or 'send'. */
export type Release = 'send' | 'late' | 'lease-ended' | 'unclaimed';

/**
 * At a tick's release: withheld when the lease held no longer covers it by this clock, when its seq is above the
 * claim confirmed on the item (a claim write still under way or refused: a write never delays a tick), or when
 * it would arrive half an interval late (withholdLateTick, as the single loop judges it).
 */
export function releaseOf(
  tick: ShardTick,
  lease: ShardLease,
  confirmedClaim: number,
  nowMs: number,
  guardMs: number,
  sendAllowanceMs: number,
): Release {
  if (!mayFire(lease, tick.dueAt, nowMs, guardMs)) return 'lease-ended';
  if (tick.seq > confirmedClaim) return 'unclaimed';
  if (withholdLateTick(tick.at, nowMs, sendAllowanceMs) !== undefined) return 'late';
  return 'send';
}

/**
 * The instant an invocation hands back at: after every tick it fired (a later round resumes at it, so a tick due
 * exactly then must not be one it fired) and not before now.
 */
export function handBackInstant(lastFiredDueMs: number | undefined, nowMs: number): number {
  return Math.max(nowMs, (lastFiredDueMs ?? Number.NEGATIVE_INFINITY) + 1);
}

/**
 * The ticks no round decides when an invocation hands back at `releasedAtMs`: those of each running poller from
 * its next planned tick to the release, which it did not fire (its batch ended before them: a slow batch, a drain
 * of writes) and the next round skips (it resumes at the release, resumeAt). Counted as skipped, so that an
 * operator sees every miss; only pollers whose count is above 0.
 */
export function ticksUndecidedAtHandBack(state: ShardState, releasedAtMs: number): Map<string, number> {
  const undecided = new Map<string, number>();
  for (const [pollerId, poller] of state) {
    if (poller.stoppedReason !== undefined || poller.loop === undefined) continue;
    const count = resumeAt(poller.loop, releasedAtMs).nextSeq - poller.loop.nextSeq;
    if (count > 0) undecided.set(pollerId, count);
  }
  return undecided;
}

/** The history events an execution will have spent after this round, and whether it must hand over first. */
export function historyAfterRound(
  counted: number,
  eventsBeforeRound: number,
  budget: number,
): { readonly events: number; readonly handOver: boolean } {
  const events = counted + eventsBeforeRound + HISTORY_EVENTS_PER_ROUND;
  return { events, handOver: events > budget };
}

/** The due time of a loop's next tick, ISO (the `nextTickAt` the CLI shows), undefined while paused or stopped. */
export function nextTickAtOf(poller: ShardPollerState | undefined): string | undefined {
  const loop = poller?.loop;
  if (loop === undefined || poller?.stoppedReason !== undefined) return undefined;
  return new Date(nextDueAt(loop)).toISOString();
}

/** The due time of seq `seq` on a loop's grid, ISO. */
export function dueIsoOf(loop: LoopState, seq: number): string {
  return new Date(tickDueAt(loop, seq)).toISOString();
}
