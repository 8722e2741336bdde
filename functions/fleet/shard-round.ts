import { breakEvenIntervalMs, type LambdaSize } from '../scheduling/cost-model';
import { DEFAULT_HISTORY_BUDGET } from '../scheduling/history-budget';
import {
  DEFAULT_TIMING,
  followSchedule,
  loopAfterTick,
  nextDueAt,
  type Timing,
} from '../scheduling/plan-round';
import { cadenceWarning } from '../scheduling/round-step';
import { wakeAtFor } from '../scheduling/tick-schedule';
import { anchorOn, sameSchedule, settleOnWindows } from '../scheduling/window-grid';
import { type LoopState, type PollerConfig, STOP_REASON } from '../shared/contract';
import { configOf, type PollerItem } from '../shared/control-item';
import { fnv1a32 } from './assignment';
import {
  DEFAULT_LEASE_TIMING,
  type FiringSpan,
  firingSpan,
  mayFireTick,
  type PollerPlacement,
  resumeAt,
  type ShardLease,
} from './shard-lease';

/**
 * One round of a shard (docs/design/fleet.md, "One round of a shard"), as a pure step: the shard's pollers as just
 * read, the loop state it keeps per poller, its lease and the clock → the ticks to fire before the next read, what
 * to record per poller, and how to continue. Each poller's ticks are laid by the single-poller planner's own rules
 * (followSchedule, settleOnWindows, loopAfterTick), so a poller ticks on a shard exactly as it would on its own loop.
 */

export interface ShardTiming {
  /** The single-poller loop's knobs: read-ahead, wake lead, first-tick delay, hand-back margin, check-in. */
  readonly tick: Timing;
  /** A tick fires only when due this long before the lease ends (see LeaseTiming.guardMs). */
  readonly guardMs: number;
  /**
   * One read covers the ticks due within this span after its read-ahead: the shard reads its pollers about once a
   * second while any is sub-minute (the cost in the design assumes 86,400 reads a day), so an edit applies at the
   * next tick of a poller at 1 s or slower, and within a second for a faster one.
   */
  readonly batchMs: number;
  /**
   * A poller new to the shard starts up to this much before the first-tick delay ends (at most half of it), at an
   * offset its id fixes: pollers that join in one read (a fleet start) do not all fall due on the same millisecond,
   * where the shard would release them one after another, the last late by the sum of their sends.
   */
  readonly joinSpreadMs?: number;
}

/**
 * How far behind a write the shard index may be when a shard reads it. DynamoDB gives no bound for a GSI; it is
 * typically well under a second. Only a hand edit of `shard` leans on it (a planner move names its instant).
 */
export const INDEX_LAG_MS = 1_000;

export const DEFAULT_SHARD_TIMING: ShardTiming = {
  tick: DEFAULT_TIMING,
  guardMs: DEFAULT_LEASE_TIMING.guardMs,
  batchMs: 1_000,
  joinSpreadMs: 500,
};

/**
 * The fleet controller's default size: 320 MB (18% of a core) holds a shard of SHARD_CAPACITY_FIRES_PER_SECOND
 * within the precision target once a fire makes little garbage, where 256 MB did in some runs only
 * (docs/design/fleet.md, "Measured"), and keeps a fleet of 100 pollers at 1 s under $0.50/day; the single-poller
 * loop keeps its 128 MB default. It sets the break-even interval and the cadence warning.
 */
export const DEFAULT_SHARD_SIZE: LambdaSize = { memoryMb: 320, architecture: 'arm64' };

/** What the shard keeps per poller between rounds (carried in its state, recorded in bulk on the shard item). */
export interface ShardPollerState {
  /** The poller's grid; kept while it is stopped, so a restart continues above every seq it fired. */
  readonly loop: LoopState | undefined;
  /** Why it does not tick (recorded once); undefined while it runs. */
  readonly stoppedReason: string | undefined;
  /** The problems and warnings last recorded on its item, so each is written once, not at every read. */
  readonly notes: readonly string[];
}

export type ShardState = ReadonlyMap<string, ShardPollerState>;

/** One poller as the shard's Query returned it. */
export interface ShardMember {
  /** Decoded by control-item.ts (the one decoder of items). */
  readonly item: PollerItem;
  /** The item's `shard` and `movedAt`, written by the fleet planner. */
  readonly placement: PollerPlacement;
  /**
   * The loop the previous owner recorded when the poller left it (a move), if this shard has no state for the
   * poller: the new owner resumes it at `movedAt` (resumeAt) instead of starting a new grid.
   */
  readonly handedOver?: LoopState | undefined;
  /**
   * The hand-over is another shard's live record (a hand edit of `shard`, no planner move): that shard may fire the
   * loop until its next read shows the edit, so it resumes only past that read (beginLoop: read-ahead + batch +
   * INDEX_LAG_MS).
   */
  readonly unannounced?: boolean;
}

export interface ShardRoundInputs {
  readonly shard: string;
  readonly executionId: string;
  readonly members: readonly ShardMember[];
  readonly state: ShardState;
  /** The lease as held when the members were read. */
  readonly lease: ShardLease;
  /**
   * Set in the first round after a takeover: the previous owner's validUntil. Every poller resumes at the first
   * tick due at or after it (the handover rule); its ticks before are the previous owner's.
   */
  readonly resumeFromMs: number | undefined;
  readonly nowMs: number;
  /** The invocation's deadline: staying awake hands back before it. */
  readonly deadlineMs: number;
  readonly timing: ShardTiming;
  /** The shard controller's memory and architecture; DEFAULT_SHARD_SIZE when not given. */
  readonly size?: LambdaSize;
}

export interface ShardTick {
  readonly pollerId: string;
  readonly seq: number;
  readonly dueAt: number;
  /** What to fire (target, payload, overlap policy). */
  readonly config: PollerConfig;
  /** The poller's loop with this tick next: whether it is still on time at its release is judged on it. */
  readonly at: LoopState;
}

/** A write on a poller's item: only what an operator reads, never progress (that goes in bulk on the shard item). */
export type PollerRecord =
  /** The poller stopped ticking on this shard (running false, no readable configuration). */
  | { readonly pollerId: string; readonly kind: 'stopped'; readonly reason: string }
  /** The item's problems and warnings changed (empty: all fixed). */
  | { readonly pollerId: string; readonly kind: 'notes'; readonly notes: readonly string[] }
  /**
   * The schedule changed and the grid was re-anchored: record the loop, so a new owner never resumes from a grid
   * older than the change (resumeAt's precondition), and the operator sees the new cadence.
   */
  | { readonly pollerId: string; readonly kind: 'schedule-changed'; readonly loop: LoopState }
  /** The poller left this shard: the loop is the hand-over record the new shard resumes from. */
  | { readonly pollerId: string; readonly kind: 'moved-out'; readonly loop: LoopState | undefined };

export type ShardContinuation =
  /** Stay in this invocation: read the pollers again at `readAt`. */
  | { readonly kind: 'next-batch'; readonly readAt: number }
  /** Hand back to the Wait state until `wakeAt` (a whole second); `nextDueAt` undefined when nothing ticks. */
  | { readonly kind: 'hand-back'; readonly wakeAt: number; readonly nextDueAt: number | undefined };

export interface ShardRoundPlan {
  /** The ticks due before the next read, by due time. */
  readonly ticks: readonly ShardTick[];
  readonly records: readonly PollerRecord[];
  /** The state to carry into the next round (each poller positioned after its last planned tick). */
  readonly state: ShardState;
  /** Late ticks skipped per poller in this round (for the bulk progress and metrics), only those above 0. */
  readonly skipped: ReadonlyMap<string, number>;
  /** Pollers with a tick due in this batch that the lease does not cover: renew before they can fire. */
  readonly heldByLease: readonly string[];
  readonly continuation: ShardContinuation;
}

/** Plans one round of a shard. Pure: no I/O, no clock reads. */
export function planShardRound(inputs: ShardRoundInputs): ShardRoundPlan {
  const { nowMs, timing } = inputs;
  const batchEndMs = nowMs + timing.tick.readAheadMs + timing.batchMs;
  const ticks: ShardTick[] = [];
  const records: PollerRecord[] = [];
  const state = new Map<string, ShardPollerState>();
  const skipped = new Map<string, number>();
  const heldByLease: string[] = [];

  const read = new Set(inputs.members.map((member) => member.item.pollerId));
  for (const [pollerId, kept] of inputs.state) {
    // Not returned by the read (its item deleted): keep the loop so that, should the item come back, its seqs
    // continue above the ones fired; nothing to record on an item that is not there.
    if (!read.has(pollerId)) state.set(pollerId, { ...kept, stoppedReason: STOP_REASON.itemMissing });
  }

  for (const member of inputs.members) {
    const pollerId = member.item.pollerId;
    const outcome = planPoller(member, inputs.state.get(pollerId), inputs, batchEndMs);
    records.push(...outcome.records);
    ticks.push(...outcome.ticks);
    if (outcome.state !== undefined) state.set(pollerId, outcome.state);
    if (outcome.skipped > 0) skipped.set(pollerId, outcome.skipped);
    if (outcome.heldByLease) heldByLease.push(pollerId);
  }
  ticks.sort((a, b) => a.dueAt - b.dueAt || (a.pollerId < b.pollerId ? -1 : 1));
  return {
    ticks,
    records,
    state,
    skipped,
    heldByLease,
    continuation: continueShard(state, batchEndMs, inputs),
  };
}

interface PollerOutcome {
  readonly ticks: readonly ShardTick[];
  readonly records: readonly PollerRecord[];
  /** undefined: the shard no longer serves the poller. */
  readonly state: ShardPollerState | undefined;
  readonly skipped: number;
  readonly heldByLease: boolean;
}

function planPoller(
  member: ShardMember,
  kept: ShardPollerState | undefined,
  inputs: ShardRoundInputs,
  batchEndMs: number,
): PollerOutcome {
  const { item } = member;
  const pollerId = item.pollerId;
  const span = firingSpan(member.placement, inputs.shard);
  // Placed elsewhere with no move time: a poller this shard served hands over at once; one it never served is
  // nothing of its own (a stale index entry).
  if (span === undefined) return kept === undefined ? NOTHING : movedOut(pollerId, kept.loop, []);

  const records: PollerRecord[] = [];
  const reading = configOf(item.operator, kept?.loop?.config);
  const notes = reading.problems.map((problem) => problem.message);
  const tooFast = cadenceWarning(pollerId, reading.config, inputs.size ?? DEFAULT_SHARD_SIZE);
  if (tooFast !== undefined) notes.push(tooFast);
  if (notes.join('\n') !== (kept?.notes ?? []).join('\n')) records.push({ pollerId, kind: 'notes', notes });

  const config = reading.config;
  if (config === undefined || !config.running) {
    // The same reasons, in the same words, as a single-poller loop stops with (planTick).
    const reason =
      config === undefined
        ? `${STOP_REASON.invalidConfig}: ${reading.problems.map((problem) => problem.message).join('; ')}`
        : STOP_REASON.runningFalse;
    if (kept?.stoppedReason !== reason) records.push({ pollerId, kind: 'stopped', reason });
    // After a takeover the kept loop (from the bulk record) is resumed even while stopped: the previous owner may
    // have restarted the poller and fired after its record, and a later restart must continue above those seqs.
    const loop =
      kept?.loop !== undefined && inputs.resumeFromMs !== undefined
        ? resumeAt(kept.loop, inputs.resumeFromMs)
        : kept?.loop;
    // A stopped poller moving away is handed over at once: it fires nothing here before movedAt anyway.
    if (Number.isFinite(span.untilMs)) return movedOut(pollerId, loop, records);
    return {
      ticks: [],
      records,
      state: { loop, stoppedReason: reason, notes },
      skipped: 0,
      heldByLease: false,
    };
  }

  const begun = beginLoop(member, kept, config, span, inputs);
  if (begun.scheduleChanged) records.push({ pollerId, kind: 'schedule-changed', loop: begun.loop });
  const settled = settleOnWindows(begun.loop, inputs.nowMs);
  const skipped = begun.jumped + settled.skipped;
  let loop = settled.loop;
  const ticks: ShardTick[] = [];
  let heldByLease = false;
  for (let dueAt = nextDueAt(loop); dueAt < batchEndMs; dueAt = nextDueAt(loop)) {
    if (dueAt >= span.untilMs) break;
    if (!mayFireTick(inputs.lease, span, dueAt, inputs.nowMs, inputs.timing.guardMs)) {
      heldByLease = true;
      break;
    }
    ticks.push({ pollerId, seq: loop.nextSeq, dueAt, config, at: loop });
    loop = loopAfterTick(loop, dueAt);
  }
  // Leaving: once its next tick is the new shard's, the poller is handed over with the loop positioned there.
  if (nextDueAt(loop) >= span.untilMs) return { ...movedOut(pollerId, loop, records), ticks, skipped };
  return {
    ticks,
    records,
    state: { loop, stoppedReason: undefined, notes },
    skipped,
    heldByLease,
  };
}

const NOTHING: PollerOutcome = { ticks: [], records: [], state: undefined, skipped: 0, heldByLease: false };

function movedOut(
  pollerId: string,
  loop: LoopState | undefined,
  records: readonly PollerRecord[],
): PollerOutcome {
  return {
    ticks: [],
    records: [...records, { pollerId, kind: 'moved-out', loop }],
    state: undefined,
    skipped: 0,
    heldByLease: false,
  };
}

/**
 * The poller's loop for this round: the one the shard kept (resumed at a takeover's instant, re-anchored after a
 * stop), the one handed over by the shard it left (resumed at `movedAt`), or a new grid above every seq the item
 * records; then laid on the configuration just read.
 */
function beginLoop(
  member: ShardMember,
  kept: ShardPollerState | undefined,
  config: PollerConfig,
  span: FiringSpan,
  inputs: ShardRoundInputs,
): { readonly loop: LoopState; readonly scheduleChanged: boolean; readonly jumped: number } {
  const { nowMs, timing } = inputs;
  const startAtMs = Math.max(nowMs + timing.tick.firstTickDelayMs, span.fromMs, inputs.resumeFromMs ?? nowMs);
  const previous = kept?.loop ?? member.handedOver;
  if (previous === undefined) {
    const spreadMs = Math.min(timing.joinSpreadMs ?? 0, timing.tick.firstTickDelayMs / 2);
    const joinAtMs = Math.max(
      startAtMs - joinOffsetMs(member.item.pollerId, spreadMs),
      span.fromMs,
      inputs.resumeFromMs ?? nowMs,
    );
    return { loop: newLoop(member.item, config, joinAtMs, inputs), scheduleChanged: false, jumped: 0 };
  }
  // The handover rule: a loop handed over resumes at movedAt, every loop at a takeover's instant; the ticks
  // before are the previous owner's. A loop this shard kept from its own last round goes on as it was.
  // A loop handed over by the fleet (a flip or a reassignment: `movedAt` set, the old epoch removed) resumes at
  // movedAt even when this shard reads it later: the ticks due since are late, skipped and counted by
  // settleOnWindows like any late tick (or jumped to the batch's resume instant and counted, below), never
  // jumped uncounted. With no `movedAt` (a hand edit of `shard`) the record may be older than ticks its previous
  // owner fired since, and its seqs must not be fired again: it resumes no earlier than now. One its previous
  // owner still fences resumes past that owner's next read: the batch it may have planned before the edit
  // reached its index, and the index's lag.
  const waitMs = member.unannounced === true ? timing.tick.readAheadMs + timing.batchMs + INDEX_LAG_MS : 0;
  const announced = member.unannounced !== true && Number.isFinite(span.fromMs);
  const handedOverAtMs = announced ? span.fromMs : Math.max(span.fromMs, nowMs + waitMs);
  const resumeFromMs = Math.max(
    kept?.loop === undefined ? handedOverAtMs : Number.NEGATIVE_INFINITY,
    inputs.resumeFromMs ?? Number.NEGATIVE_INFINITY,
  );
  const resumed = Number.isFinite(resumeFromMs) ? resumeAt(previous, resumeFromMs) : previous;
  // A restarted poller starts a new run at the first-tick delay (its seqs go on); a running one keeps its grid.
  const restarted = kept !== undefined && kept.stoppedReason !== undefined;
  // A loop the fleet handed over at movedAt, read first in a batch that resumes later (the first of an invocation
  // started after movedAt: its take's instant): the ticks between are this shard's, and none of its rounds fired
  // them unless it recorded the loop as its own since (a read the index served stale would hide that record), so
  // they are skipped on the safe side, and counted.
  const jumped =
    kept?.loop === undefined && announced && !restarted && resumeFromMs > handedOverAtMs
      ? resumed.nextSeq - resumeAt(previous, handedOverAtMs).nextSeq
      : 0;
  const running = restarted ? anchorOn(resumed, startAtMs) : resumed;
  const loop = followSchedule({ ...running, executionId: inputs.executionId }, config, nowMs, timing.tick);
  return { loop, scheduleChanged: !sameSchedule(config, previous.config), jumped };
}

/** A whole-millisecond offset in [0, spreadMs) fixed by the id (FNV-1a): the same on every shard and round. */
export function joinOffsetMs(pollerId: string, spreadMs: number): number {
  const slots = Math.floor(spreadMs);
  if (slots <= 0) return 0;
  return fnv1a32(pollerId) % slots;
}

function newLoop(
  item: PollerItem,
  config: PollerConfig,
  startAtMs: number,
  inputs: ShardRoundInputs,
): LoopState {
  // Above every seq the item says was fired or claimed, as a single-poller loop starts, so no seq is reused.
  const firstSeq = Math.max(0, item.seq ?? 0, item.claimedSeq ?? 0) + 1;
  return {
    nextSeq: firstSeq,
    anchorAt: startAtMs,
    anchorSeq: firstSeq,
    // The lease replaces claims and generations on a shard: the epoch is the fencing token.
    claimedThroughSeq: firstSeq - 1,
    generation: inputs.lease.epoch,
    config,
    executionId: inputs.executionId,
    historyEvents: 0,
    historyBudget: DEFAULT_HISTORY_BUDGET,
    skippedTicks: 0,
  };
}

/**
 * Stay awake while any poller is due within the break-even interval (a Wait round would cost more than the awake
 * time until then), and the invocation has time left; otherwise hand back until the earliest due tick, checking in
 * at least every `pauseCheckInMs` so a shard with only slow or paused pollers still renews its lease and reads.
 */
function continueShard(state: ShardState, batchEndMs: number, inputs: ShardRoundInputs): ShardContinuation {
  const { nowMs, timing } = inputs;
  const checkInAt = Math.floor((nowMs + timing.tick.pauseCheckInMs) / 1000) * 1000;
  const dues = [...state.values()].flatMap((poller) =>
    poller.stoppedReason === undefined && poller.loop !== undefined ? [nextDueAt(poller.loop)] : [],
  );
  if (dues.length === 0) return { kind: 'hand-back', wakeAt: checkInAt, nextDueAt: undefined };
  const earliest = Math.min(...dues);
  const withinBreakEven = earliest - nowMs < breakEvenIntervalMs(inputs.size ?? DEFAULT_SHARD_SIZE);
  if (withinBreakEven && earliest + timing.tick.handBackMarginMs <= inputs.deadlineMs) {
    // Never before this batch's ticks are all due, so a poller held by the lease cannot spin the loop.
    const readAt = Math.max(nowMs, batchEndMs - timing.tick.readAheadMs, earliest - timing.tick.readAheadMs);
    return { kind: 'next-batch', readAt };
  }
  const wakeAt = Math.min(wakeAtFor(earliest, timing.tick.wakeLeadMs), checkInAt);
  return { kind: 'hand-back', wakeAt, nextDueAt: earliest };
}
