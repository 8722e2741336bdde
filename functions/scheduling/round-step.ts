import { FIELD, type LoopState, type PollerConfig, STOP_REASON } from '../shared/contract';
import { configOf, type PollerItem } from '../shared/control-item';
import { renderJson } from '../shared/errors';
import { decideStart, type TakeExpectation } from '../shared/loop-ownership';
import type { TakeOutcome } from '../shared/loop-table';
import { CONTROLLER_SIZE, type LambdaSize, sustainedIntervalMs } from './cost-model';
import {
  handOverDue,
  planTick,
  skipPastClaim,
  type TickPlan,
  type Timing,
  withholdLateTick,
} from './plan-round';
import { gridIntervalMs } from './tick-schedule';
import { windowRulesOf } from './window-grid';

/**
 * The fencing rules of one controller round, as pure steps: each takes one poller's round state (and what the
 * last read or write returned) and says what to do next. The controller (functions/controller/run-round.ts) and
 * the loop simulator carry out these decisions; neither decides anything itself. Nothing here holds state
 * between calls, so one invocation could run the rounds of many pollers side by side.
 */

/** A write refused because the item changed is followed by a fresh read and a new decision, this often at most. */
export const MAX_REFUSED_WRITES = 3;

/** One poller's round as far as the decisions need it; every step returns the state to carry into the next. */
export interface RoundState {
  readonly pollerId: string;
  readonly executionId: string;
  readonly historyBudget: number;
  /** The loop carried by Step Functions, as this round moved it; undefined until a start plans its first tick. */
  readonly loop: LoopState | undefined;
  /** The generation this round owns: the loop's, or the one its start took (undefined until then). */
  readonly owned: number | undefined;
  /** A claim was written in this round: the next tick needs none until the claim runs out. */
  readonly claimedThisRound: boolean;
  /** Ticks fired in this round: a retry of the round would fire them again. */
  readonly firedThisRound: number;
  /** Writes refused because the item changed under us; each is followed by a fresh read, this many at most. */
  readonly refusedWrites: number;
}

/** What stays the same for the whole round. */
export interface RoundSettings {
  readonly timing: Timing;
  /** Memory and architecture of this controller, for the cadence it can sustain. */
  readonly size?: LambdaSize;
}

export interface RoundStart {
  readonly pollerId: string;
  readonly executionId: string;
  readonly historyBudget: number;
  readonly loop: LoopState | undefined;
  readonly handOverJustFailed: boolean;
  /** History events the path to this round spent that no round counted yet (historyEventsBeforeRound). */
  readonly eventsBeforeRound: number;
}

export type RoundOpening =
  /** Hand over to a fresh execution before anything is read or fired: one more round would cross the budget. */
  | { readonly kind: 'hand-over'; readonly loop: LoopState; readonly historyEvents: number }
  | { readonly kind: 'run'; readonly state: RoundState };

/** Opens a round: hands over first when the history budget says so (unless a hand-over just failed), else runs. */
export function openRound(start: RoundStart): RoundOpening {
  const { loop } = start;
  if (
    loop !== undefined &&
    !start.handOverJustFailed &&
    handOverDue(loop, start.executionId, start.eventsBeforeRound)
  ) {
    return { kind: 'hand-over', loop, historyEvents: loop.historyEvents + start.eventsBeforeRound };
  }
  return {
    kind: 'run',
    state: {
      pollerId: start.pollerId,
      executionId: start.executionId,
      historyBudget: start.historyBudget,
      loop,
      owned: loop?.generation,
      claimedThisRound: false,
      firedThisRound: 0,
      refusedWrites: 0,
    },
  };
}

/** What the item's configuration told the round, for the operator: problems (and warnings) to record. */
export interface ConfigNotes {
  readonly notes: readonly string[];
}

/** A tick planned to fire (planTick's 'fire' plan). */
export type FirePlan = Extract<TickPlan, { kind: 'fire' }>;

/** What to do after reading the item. */
export type ItemDecision =
  /** End the loop for `reason` (see decideStop); `observed` when the item's configuration was read first. */
  | {
      readonly kind: 'stop';
      readonly state: RoundState;
      readonly reason: string;
      readonly observed?: ConfigNotes;
    }
  /** A console start: take `generation` with a write that holds only while the item is as read (then read again). */
  | {
      readonly kind: 'take';
      readonly state: RoundState;
      readonly generation: number;
      readonly expected: TakeExpectation;
      readonly why: string;
      /** The clock reading the take was decided on, written as its heartbeat. */
      readonly atMs: number;
    }
  /** Write a claim through `plan.claimThrough` (expecting the claim `expectedClaim`), then fire. */
  | {
      readonly kind: 'claim';
      readonly state: RoundState;
      readonly observed: ConfigNotes;
      readonly plan: FirePlan & { readonly claimThrough: number };
      readonly expectedClaim: number | undefined;
    }
  /** Fire under the claim this round already holds. */
  | {
      readonly kind: 'fire';
      readonly state: RoundState;
      readonly observed: ConfigNotes;
      readonly plan: FirePlan;
    }
  /** The next tick is not due soon enough to sleep for: carry the loop on to the continuation. */
  | {
      readonly kind: 'not-due';
      readonly state: RoundState;
      readonly observed: ConfigNotes;
      readonly loop: LoopState;
      /** Late ticks skipped on the way (counted in `loop.skippedTicks`; record them on the item). */
      readonly skipped: number;
    };

/** Decides from the item as just read (undefined when there is none) and the clock. */
export function decideOnItem(
  state: RoundState,
  item: PollerItem | undefined,
  nowMs: number,
  settings: RoundSettings,
): ItemDecision {
  if (item === undefined) return { kind: 'stop', state, reason: STOP_REASON.itemMissing };
  let owned = state.owned;
  if (owned === undefined) {
    // The first round of an execution: it owns the poller when its start took the generation for it (the item
    // names this execution); otherwise it is a console start and follows the start rule itself.
    if (item.generation === undefined || item.executionArn !== state.executionId) {
      return decideConsoleStart(state, item, nowMs);
    }
    owned = item.generation;
  }
  const ownership = checkOwnership(item, owned, state.executionId, state.loop, state.claimedThisRound);
  if (ownership.kind === 'superseded')
    return { kind: 'stop', state: { ...state, owned }, reason: STOP_REASON.superseded };
  const loop =
    ownership.kind === 'skip-past-claim' && state.loop !== undefined
      ? skipPastClaim(state.loop, ownership.claimedOnItem)
      : state.loop;
  const next: RoundState = { ...state, owned, loop };

  const reading = configOf(item.operator, loop?.config);
  const notes = reading.problems.map((problem) => problem.message);
  const tooFast = cadenceWarning(state.pollerId, reading.config, settings.size ?? CONTROLLER_SIZE);
  if (tooFast !== undefined) notes.push(tooFast);
  const observed: ConfigNotes = { notes };

  const plan = planTick({
    pollerId: state.pollerId,
    loop,
    reading,
    lastSeqOnItem: highestSeqOn(item),
    generation: owned,
    executionId: state.executionId,
    historyBudget: state.historyBudget,
    claimRequired: !state.claimedThisRound,
    nowMs,
    timing: settings.timing,
  });
  if (plan.kind === 'stop') return { kind: 'stop', state: next, reason: plan.reason, observed };
  if (plan.kind === 'early') {
    return {
      kind: 'not-due',
      state: { ...next, loop: plan.next },
      observed,
      loop: plan.next,
      skipped: plan.skipped,
    };
  }
  if (plan.claimThrough === undefined) return { kind: 'fire', state: next, observed, plan };
  return {
    kind: 'claim',
    state: next,
    observed,
    plan: { ...plan, claimThrough: plan.claimThrough },
    expectedClaim: loop?.claimedThroughSeq ?? item.claimedSeq,
  };
}

/**
 * A first round the item does not name (a console StartExecution, with any input) starts the loop by the same
 * rule as every other start (loop-ownership.ts): it takes a new generation only when no loop is alive, and
 * otherwise ends at once, leaving the poller to the live loop. Nothing is fired or recorded before the take.
 */
function decideConsoleStart(state: RoundState, item: PollerItem, nowMs: number): ItemDecision {
  const decision = decideStart(item, nowMs);
  if (decision.kind === 'skip') return { kind: 'stop', state, reason: decision.reason };
  if (decision.kind === 'alive') {
    const by = decision.executionArn ? `execution ${decision.executionArn}` : 'an earlier start';
    return {
      kind: 'stop',
      state,
      reason: `${STOP_REASON.alreadyRunning}: ${by} (generation ${decision.generation}) owns poller '${state.pollerId}'`,
    };
  }
  return {
    kind: 'take',
    state,
    generation: decision.generation,
    expected: decision.expected,
    why: decision.why,
    atMs: nowMs,
  };
}

export type Ownership =
  | { readonly kind: 'owner' }
  | { readonly kind: 'superseded' }
  /** An earlier attempt of this round claimed further than the loop state knows (and may have fired those ticks). */
  | { readonly kind: 'skip-past-claim'; readonly claimedOnItem: number };

/**
 * Whether the item still says this round owns the poller. The generation is the fencing token. The item also
 * names the loop's execution (every write of a loop names its own); a hand-over changes it from the loop's
 * previous execution to the next, nothing else does. That tells this loop from a newer one whose generation has
 * the same number, as when an item is deleted and created again and the generations start anew.
 */
export function checkOwnership(
  item: PollerItem,
  owned: number,
  executionId: string,
  loop: LoopState | undefined,
  claimedThisRound: boolean,
): Ownership {
  if (item.generation !== owned) return { kind: 'superseded' };
  const namedExecution = item.executionArn;
  if (namedExecution !== executionId && namedExecution !== loop?.executionId) return { kind: 'superseded' };
  if (loop === undefined) return { kind: 'owner' };
  const claimedOnItem = item.claimedSeq ?? 0;
  if (claimedOnItem < loop.claimedThroughSeq) return { kind: 'superseded' };
  if (claimedOnItem > loop.claimedThroughSeq) {
    // Another invocation of this loop claimed past ours: if we claimed already we are the stale one;
    // if not, an earlier attempt of this round did and may have fired those ticks before it failed.
    return claimedThisRound ? { kind: 'superseded' } : { kind: 'skip-past-claim', claimedOnItem };
  }
  return { kind: 'owner' };
}

/** What a conditional write on the item returned ('failed': it could not be written at all). */
export type WriteResult = 'written' | 'superseded' | 'missing' | 'failed';

/** The next step after a write or a read that did not lead straight on. */
export type FollowUp =
  /** Read the item again and decide from what it says. */
  | { readonly kind: 'read-again'; readonly state: RoundState }
  | { readonly kind: 'stop'; readonly state: RoundState; readonly reason: string }
  /** Return to Step Functions now; the next round reads again (and claims past whatever this one fired). */
  | { readonly kind: 'hand-back-now'; readonly loop: LoopState }
  /** Fail the round (Step Functions retries it); nothing was fired that a retry could fire twice. */
  | { readonly kind: 'table-unavailable'; readonly what: string }
  /** The claim holds: fire the tick. */
  | { readonly kind: 'fire'; readonly state: RoundState };

/** A write was refused because the item changed: read again, unless that happened too often already. */
function refused(state: RoundState): Extract<FollowUp, { kind: 'read-again' | 'stop' }> {
  const next = { ...state, refusedWrites: state.refusedWrites + 1 };
  return next.refusedWrites >= MAX_REFUSED_WRITES
    ? { kind: 'stop', state: next, reason: STOP_REASON.superseded }
    : { kind: 'read-again', state: next };
}

/** After a console start's take ('changed': the item changed since it was read, so the take was refused). */
export function afterTake(
  state: RoundState,
  generation: number,
  outcome: TakeOutcome['kind'],
): Extract<FollowUp, { kind: 'read-again' | 'stop' }> {
  if (outcome === 'taken') return { kind: 'read-again', state: { ...state, owned: generation } };
  if (outcome === 'missing') return { kind: 'stop', state, reason: STOP_REASON.itemMissing };
  return refused(state);
}

/** After the claim a tick needs. */
export function afterClaim(state: RoundState, outcome: WriteResult): FollowUp {
  if (outcome === 'written') return { kind: 'fire', state: { ...state, claimedThisRound: true } };
  if (outcome === 'missing') return { kind: 'stop', state, reason: STOP_REASON.itemMissing };
  // The item changed between our read and our write: read again and decide from what it says.
  if (outcome === 'superseded') return refused(state);
  // Unclaimed ticks are never fired: hand back and claim again next round.
  if (state.loop !== undefined) return { kind: 'hand-back-now', loop: state.loop };
  return { kind: 'table-unavailable', what: 'the first claim could not be written' };
}

/** After a failed read: before any fire the round may fail (and be retried); after one it hands back instead. */
export function afterFailedRead(state: RoundState): Extract<FollowUp, { kind: 'hand-back-now' }> | undefined {
  if (state.firedThisRound === 0 || state.loop === undefined) return undefined;
  return { kind: 'hand-back-now', loop: state.loop };
}

export type StopDecision =
  /** Record why on the item (only while running is false, for that reason), then see afterStopRecord. */
  | { readonly kind: 'record'; readonly whileNotRunning: boolean }
  /** End now without a write: this round owns no generation, or it was superseded and the item is not ours. */
  | { readonly kind: 'end' };

/** Only the owner of the poller's generation records why its loop stopped; anyone else leaves the item alone. */
export function decideStop(state: RoundState, reason: string): StopDecision {
  if (state.owned === undefined || reason === STOP_REASON.superseded) return { kind: 'end' };
  // A stop for running=false is recorded only while it holds, so a start racing it finds a live loop.
  return { kind: 'record', whileNotRunning: reason === STOP_REASON.runningFalse };
}

export type StopFollowUp =
  | { readonly kind: 'end' }
  /** The record was refused because the item changed (running turned true again, or another loop took over). */
  | { readonly kind: 'read-again'; readonly state: RoundState }
  /** The item would still show a live loop: fail the round, whose retry reads the item again. */
  | { readonly kind: 'table-unavailable'; readonly what: string };

export function afterStopRecord(state: RoundState, outcome: WriteResult): StopFollowUp {
  if (outcome === 'superseded') {
    const next = { ...state, refusedWrites: state.refusedWrites + 1 };
    if (next.refusedWrites < MAX_REFUSED_WRITES) return { kind: 'read-again', state: next };
  }
  if (outcome === 'failed') return { kind: 'table-unavailable', what: 'recording the stop failed' };
  return { kind: 'end' };
}

/**
 * Whether a tick planned for `plan.dueAt` still goes out when it is released at `releasedAtMs` (see
 * withholdLateTick): undefined when it does, otherwise the loop to carry on with.
 */
export function releaseTick(plan: FirePlan, releasedAtMs: number, timing: Timing): LoopState | undefined {
  return withholdLateTick(plan.at, releasedAtMs, timing.sendAllowanceMs);
}

export interface TickSettled {
  readonly state: RoundState;
  /** The loop to carry on with (also `state.loop`). */
  readonly loop: LoopState;
  /** Ticks skipped by withholding this one (0 when it was fired). */
  readonly withheldSkips: number;
  /**
   * Once this tick was fired: ticks after it skipped because an edge's tick would follow them within half an
   * interval (settleOnWindows, when the next tick was laid); 0 when it was withheld (the withheld loop counts them).
   */
  readonly skippedAfterFire: number;
  /** The tick was (or may have been) sent: record it as fired. */
  readonly fired: boolean;
}

/** After the send: a withheld tick keeps its seq for the next one; a sent one (or a failed send) counts as fired. */
export function afterTick(state: RoundState, plan: FirePlan, withheld: LoopState | undefined): TickSettled {
  if (withheld !== undefined) {
    return {
      state: { ...state, loop: withheld },
      loop: withheld,
      withheldSkips: withheld.skippedTicks - plan.at.skippedTicks,
      skippedAfterFire: 0,
      fired: false,
    };
  }
  return {
    state: { ...state, loop: plan.next, firedThisRound: state.firedThisRound + 1 },
    loop: plan.next,
    withheldSkips: 0,
    skippedAfterFire: plan.next.skippedTicks - plan.at.skippedTicks,
    fired: true,
  };
}

/**
 * The overlap policy at a tick's release: whether it goes out. `skip` holds a tick back while the previous fire of
 * the poller has not answered; `allow` (the default, `overlap` absent) always sends. `previousFireRunning` is what
 * the controller knows: only fires of this invocation (a new invocation knows of none in flight).
 */
export function overlapAllowsFire(config: PollerConfig, previousFireRunning: boolean): boolean {
  return config.overlap !== 'skip' || !previousFireRunning;
}

/**
 * After a tick held back by the overlap policy: as a withheld tick, its seq is kept for the next tick on the grid
 * (it was claimed and never sent; the worker sees no gap in seqs) and the anchor moves by one interval. It is
 * counted in `overlapSkips`, not in `skippedTicks` (which counts late ticks); `withheldSkips` are the ticks an edge
 * skipped right after it, to record as skipped.
 */
export function afterOverlapSkip(state: RoundState, plan: FirePlan): TickSettled {
  const withheld = withholdLateTick(plan.at, plan.dueAt + gridIntervalMs(plan.at) / 2);
  // Withholding counts the held-back tick as late: take it off (it counts in overlapSkips), but keep the ticks an
  // edge skipped right after it (settleOnWindows), as a fired tick's skippedAfterFire keeps them.
  const loop: LoopState =
    withheld === undefined ? plan.next : { ...withheld, skippedTicks: withheld.skippedTicks - 1 };
  const withheldSkips = loop.skippedTicks - plan.at.skippedTicks;
  return { state: { ...state, loop }, loop, withheldSkips, skippedAfterFire: 0, fired: false };
}

/**
 * A cadence the controller's size cannot keep (its CPU share is too small to read, plan and fire that often) is
 * run all the same, but the operator is told why ticks come late or are skipped, and what to change.
 */
export function cadenceWarning(
  pollerId: string,
  config: PollerConfig | undefined,
  size: LambdaSize,
): string | undefined {
  const sustainedMs = sustainedIntervalMs(size.memoryMb);
  if (config === undefined || !config.running) return undefined;
  const fastest = [
    { what: FIELD.waitSeconds, intervalMs: config.intervalMs },
    ...windowRulesOf(config).flatMap((rule) =>
      rule.cadence.kind === 'every'
        ? [{ what: `${FIELD.windows} rule ${renderJson(rule.text)}`, intervalMs: rule.cadence.intervalMs }]
        : [],
    ),
  ].reduce((a, b) => (b.intervalMs < a.intervalMs ? b : a));
  if (fastest.intervalMs >= sustainedMs) return undefined;
  return `poller '${pollerId}': ${fastest.what} ${fastest.intervalMs / 1000} is below the ${sustainedMs / 1000} s a ${size.memoryMb} MB controller sustains; ticks may come late or be skipped (raise the stack's ControllerMemory parameter)`;
}

/** A new loop starts above every seq the item says was fired or claimed, so no seq is ever reused. */
export function highestSeqOn(item: PollerItem): number {
  return Math.max(0, item.seq ?? 0, item.claimedSeq ?? 0);
}

/** Whether to wait for a synchronous fire's answer (overlap `skip`) before leaving the invocation, and how long. */
export type AnswerWait =
  /** Leave now: no fire of this invocation is running, or the hand-back point has come. */
  | { readonly kind: 'leave' }
  /**
   * Wait (on timers) for the answer until `untilMs`. If it came, plan anew; if not, `unanswered` says what next:
   * read again for the next tick (decided as usual, the fire still running), or leave it running.
   */
  | { readonly kind: 'wait'; readonly untilMs: number; readonly unanswered: 'read-again' | 'leave' };

/**
 * Before every exit of an invocation (a hand-back, a stop, a failed read or claim): a fire still running would be
 * forgotten by the next invocation (its answer lost, and its run unknown to the overlap policy), so wait for it,
 * never past the hand-back point (`deadlineMs - handBackMarginMs`). `nextDueAt` is the next tick's, when the exit is
 * a hand-back for want of time to stay awake for it: the wait then ends at that tick's read when the tick is still
 * due by the hand-back point (a tick after it is never read for, so never fired late in the invocation).
 */
export function waitForAnswer(
  fireRunning: boolean,
  nextDueAt: number | undefined,
  nowMs: number,
  deadlineMs: number,
  timing: Timing,
): AnswerWait {
  if (!fireRunning) return { kind: 'leave' };
  if (nextDueAt !== undefined && nextDueAt + timing.handBackMarginMs <= deadlineMs) {
    return {
      kind: 'wait',
      untilMs: Math.max(nowMs, nextDueAt - timing.readAheadMs),
      unanswered: 'read-again',
    };
  }
  const handBackBy = deadlineMs - timing.handBackMarginMs;
  if (nowMs >= handBackBy) return { kind: 'leave' };
  return { kind: 'wait', untilMs: handBackBy, unanswered: 'leave' };
}
