import { type LoopState, type PollerConfig, STOP_REASON } from '../shared/contract';
import type { InvalidControlItemError } from '../shared/errors';
import { CONTROLLER_SIZE, chooseStrategy, type LambdaSize } from './cost-model';
import { HISTORY_EVENTS_PER_ROUND } from './history-budget';
import { gridIntervalMs, tickDueAt, wakeAtFor } from './tick-schedule';
import { anchorOn, sameSchedule, settleOnWindows } from './window-grid';

/** Timing knobs of the controller; see DEFAULT_TIMING for why each has its value. */
export interface Timing {
  /** Wake this long (at least) before a tick, so Step Functions and Lambda start-up latency is absorbed early. */
  readonly wakeLeadMs: number;
  /** Sleep in-process at most this long before a tick in Wait-state mode; woken earlier, wait again. */
  readonly maxInProcessSleepMs: number;
  /** Staying awake, read the control item this long before a tick, so the read's latency is not the tick's. */
  readonly readAheadMs: number;
  /** Staying awake, hand back to Step Functions once the next tick would come closer than this to the deadline. */
  readonly handBackMarginMs: number;
  /** Open the tick's invoke (all but its body) this long before the tick, so the tick itself only sends bytes. */
  readonly sendOpenLeadMs: number;
  /** What sending the held body may still take; a tick that would arrive half an interval late is withheld. */
  readonly sendAllowanceMs: number;
  /** A new loop's first tick is due this long after the start, so its claim is written before it. */
  readonly firstTickDelayMs: number;
  /** One claim covers the ticks due within this window: a few writes a minute, not one per tick. */
  readonly claimWindowMs: number;
  /** In a pause window the loop checks in (reads the item, writes its heartbeat) at least this often. */
  readonly pauseCheckInMs: number;
}

export const DEFAULT_TIMING: Timing = {
  // A warm Wait → Task → Lambda start takes tens of ms; a Node.js cold start a few hundred. 500 ms covers both.
  wakeLeadMs: 500,
  // The Wait state wakes us up to lead + 999 ms early; anything beyond that means we were started early.
  maxInProcessSleepMs: 2_000,
  // DynamoDB answers a GetItem in single-digit to tens of ms; 100 ms leaves room for a slow one.
  readAheadMs: 300,
  // Opening a request costs ~1 ms of CPU: at 7% of a core, a few 20 ms throttling periods. Within the request timeout.
  sendOpenLeadMs: 100,
  // One 20 ms throttling period: the CPU share may run out just as the body is written.
  sendAllowanceMs: 20,
  // The hand-back round (return, Choice, Wait, Task start, maybe a cold start) takes well under a second.
  handBackMarginMs: 5_000,
  // A start's first round reads, takes or claims, and warms its connection before the first tick: at 7% of a core
  // (128 MB) and after a cold start that is a few hundred ms, and the first tick should not be the late one.
  firstTickDelayMs: 1_000,
  claimWindowMs: 30_000,
  // Under the watchdog's 90 s floor (STALE_FLOOR_MS), so a paused loop is never taken for dead; and an edit of the
  // rules (a pause lifted early) applies within a minute. A check-in is one Wait-state round: about what a 60 s
  // cadence costs, with nothing fired.
  pauseCheckInMs: 60_000,
};

export interface TickInputs {
  readonly pollerId: string;
  /** The loop carried by Step Functions; undefined when this execution starts a loop. */
  readonly loop: LoopState | undefined;
  /** The control item, validated against the loop's last valid configuration; 'missing' if there is none. */
  readonly reading:
    | { readonly config: PollerConfig | undefined; readonly problems: readonly InvalidControlItemError[] }
    | 'missing';
  /** The highest seq the item says was fired or claimed, so a new loop never reuses one. */
  readonly lastSeqOnItem: number;
  /** The generation a new loop takes (ignored when continuing one). */
  readonly generation: number;
  readonly executionId: string;
  readonly historyBudget: number;
  /** No claim was written in this invocation yet: the first tick must claim, moving the claim forward. */
  readonly claimRequired: boolean;
  readonly nowMs: number;
  readonly timing: Timing;
}

export type TickPlan =
  | { readonly kind: 'stop'; readonly reason: string }
  | {
      readonly kind: 'fire';
      readonly seq: number;
      readonly dueAt: number;
      readonly skipped: number;
      readonly config: PollerConfig;
      /** The loop with this tick next (its claim included): what a withheld tick carries on from. */
      readonly at: LoopState;
      /** The loop after this tick: nextSeq advanced, the next tick laid on the window rules. */
      readonly next: LoopState;
      /** Write a claim covering seq … claimThrough before firing (the current claim does not cover seq). */
      readonly claimThrough: number | undefined;
    }
  | {
      readonly kind: 'early';
      readonly dueAt: number;
      readonly next: LoopState;
      /** Late ticks skipped on the way (before a pause, say), already counted in `next.skippedTicks`. */
      readonly skipped: number;
    };

/**
 * Decides the next tick from the loop state, the control item and the clock. Pure: no I/O, no clock reads.
 */
export function planTick(inputs: TickInputs): TickPlan {
  const { reading, nowMs, timing } = inputs;
  if (reading === 'missing') return { kind: 'stop', reason: STOP_REASON.itemMissing };
  const config = reading.config;
  if (config === undefined) {
    const detail = reading.problems.map((problem) => problem.message).join('; ');
    return { kind: 'stop', reason: `${STOP_REASON.invalidConfig}: ${detail}` };
  }
  if (!config.running) return { kind: 'stop', reason: STOP_REASON.runningFalse };

  const begun =
    inputs.loop === undefined ? startLoop(inputs, config) : continueLoop(inputs.loop, inputs, config);
  // Lay the next tick on the window rules; a late one is skipped with the ones before it, keeping the grid's phase
  // (the anchor moves by whole intervals instead of onto `now`).
  const { loop, skipped } = settleOnWindows(begun, nowMs);

  const dueAt = nextDueAt(loop);
  if (dueAt - nowMs > timing.maxInProcessSleepMs) return { kind: 'early', dueAt, next: loop, skipped };

  const seq = loop.nextSeq;
  // Every invocation claims before its first tick and moves the claim forward, so a replay of the same input
  // (a Step Functions retry after a crash) sees a claim it did not make and never reuses those ticks.
  const window = claimWindowTicks(gridIntervalMs(loop), timing);
  const claimThrough =
    seq > loop.claimedThroughSeq || inputs.claimRequired
      ? Math.max(seq + window - 1, loop.claimedThroughSeq + 1)
      : undefined;
  const at: LoopState = {
    ...loop,
    ...(claimThrough !== undefined ? { claimedThroughSeq: claimThrough } : {}),
  };
  // The tick after this one, laid on the rules now: the continuation sleeps towards it (an edge or a pause's end).
  const next = loopAfterTick(at, dueAt);
  return { kind: 'fire', seq, dueAt, skipped, config, at, next, claimThrough };
}

/** How many ticks one claim covers at `intervalMs`: those due within the claim window, at least one. */
export function claimWindowTicks(intervalMs: number, timing: Timing = DEFAULT_TIMING): number {
  return Math.max(1, Math.ceil(timing.claimWindowMs / intervalMs));
}

/**
 * Decides, at the moment a planned tick is to be sent, whether it is still on time. A tick planned on time can
 * still be sent late: the claim write, a cold connection or a starved CPU share (a 128 MB Lambda gets 7% of a
 * core) may take the time the read-ahead was meant to leave. Such a tick is skipped by the same rule as a late
 * plan (ticksToSkip) instead of being sent within half an interval of the next one. Returns undefined when the
 * tick goes out; otherwise the loop to continue with: the seq is kept for the next tick on the grid (it is
 * claimed and was never sent), the anchor moves by whole intervals.
 *
 * `atTick` is the loop with the tick next (the plan's `at`). Skipping never crosses a window edge: the run
 * ends there (settleOnWindows). `sendAllowanceMs` is how long the send itself may still take, so that the invoke
 * that arrives is the one judged.
 */
export function withholdLateTick(
  atTick: LoopState,
  nowMs: number,
  sendAllowanceMs = 0,
): LoopState | undefined {
  const settled = settleOnWindows(atTick, nowMs + sendAllowanceMs);
  return settled.skipped === 0 ? undefined : settled.loop;
}

export type Continuation =
  /** Stay in this invocation: sleep until `readAt`, then plan the next tick. */
  | { readonly kind: 'next-tick'; readonly readAt: number }
  /**
   * Return to Step Functions, which waits until `wakeAt` (a whole second) and invokes the controller again;
   * `nextDueAt` is recorded on the item as the next tick's time.
   */
  | { readonly kind: 'hand-back'; readonly wakeAt: number; readonly nextDueAt: number };

export type HandBack = Extract<Continuation, { kind: 'hand-back' }>;

/**
 * The loop after its next tick (due at `dueAt`) is fired: nextSeq advanced, the tick after it laid on the window
 * rules. A shard lays a batch of ticks by it, and a new owner replays ticks by it (functions/fleet/).
 */
export function loopAfterTick(loop: LoopState, dueAt: number): LoopState {
  return settleOnWindows({ ...loop, nextSeq: loop.nextSeq + 1, paused: undefined }, dueAt).loop;
}

/** When the loop's next tick is due: the one place that works it out. */
export function nextDueAt(loop: LoopState): number {
  return tickDueAt(loop, loop.nextSeq);
}

/** Hand back at once (after a failure once ticks were fired): the Wait state is already over. */
export function handBackNow(loop: LoopState, nowMs: number): HandBack {
  return { kind: 'hand-back', wakeAt: nowMs, nextDueAt: nextDueAt(loop) };
}

/**
 * After a tick: stay awake for the next one (cheaper below the break-even interval, and required below one
 * second) or hand back to a Wait state. Staying awake always hands back well before the invocation's deadline.
 */
export function planContinuation(
  loop: LoopState,
  nowMs: number,
  deadlineMs: number,
  timing: Timing,
  size: LambdaSize = CONTROLLER_SIZE,
): Continuation {
  const dueAt = nextDueAt(loop);
  const handBack: Continuation = {
    kind: 'hand-back',
    wakeAt: wakeAtFor(dueAt, timing.wakeLeadMs),
    nextDueAt: dueAt,
  };
  if (loop.paused && dueAt - nowMs > timing.maxInProcessSleepMs) {
    // Nothing fires before the pause ends; a Wait state covers it, checking in so the heartbeat stays fresh.
    const checkInAt = Math.floor((nowMs + timing.pauseCheckInMs) / 1000) * 1000;
    return { ...handBack, wakeAt: Math.min(handBack.wakeAt, checkInAt) };
  }
  if (chooseStrategy(gridIntervalMs(loop), size) === 'wait-state') {
    // A due tick close enough to sleep for costs less than a round; otherwise let the Wait state cover the gap.
    if (dueAt - nowMs <= timing.maxInProcessSleepMs && dueAt + timing.handBackMarginMs <= deadlineMs) {
      return { kind: 'next-tick', readAt: Math.max(nowMs, dueAt - timing.readAheadMs) };
    }
    return handBack;
  }
  if (dueAt + timing.handBackMarginMs > deadlineMs) return handBack;
  return { kind: 'next-tick', readAt: Math.max(nowMs, dueAt - timing.readAheadMs) };
}

/**
 * Closes a Step Functions round of execution `executionId`: counts the history events it adds, plus
 * `eventsBeforeRound`, those the path to it spent that no round counted yet (retried attempts, failed rounds;
 * see historyEventsBeforeRound). A loop carried over from another execution starts counting from zero.
 */
export function closeRound(loop: LoopState, executionId: string, eventsBeforeRound: number): LoopState {
  const counted = loop.executionId === executionId ? loop.historyEvents : 0;
  return { ...loop, executionId, historyEvents: counted + eventsBeforeRound + HISTORY_EVENTS_PER_ROUND };
}

/**
 * Whether this round must hand over to a fresh execution before doing anything: the events spent on the way to
 * it and one more round would cross the history budget. A fresh execution (another executionId) starts with an
 * empty history. Checked before the control item is read, so a loop whose rounds keep failing after the
 * controller started (the table unreachable or refusing access) still hands over in time.
 */
export function handOverDue(loop: LoopState, executionId: string, eventsBeforeRound = 0): boolean {
  const historyEvents = loop.executionId === executionId ? loop.historyEvents : 0;
  return historyEvents + eventsBeforeRound + HISTORY_EVENTS_PER_ROUND > loop.historyBudget;
}

/**
 * Moves a loop past ticks claimed by an earlier attempt of the same round (which may have fired them before it
 * crashed): the seq numbers jump, the times do not — the next tick keeps its due time.
 */
export function skipPastClaim(loop: LoopState, claimedOnItem: number): LoopState {
  if (claimedOnItem < loop.nextSeq) return { ...loop, claimedThroughSeq: claimedOnItem };
  const jump = claimedOnItem + 1 - loop.nextSeq;
  return {
    ...loop,
    nextSeq: loop.nextSeq + jump,
    anchorSeq: loop.anchorSeq + jump,
    claimedThroughSeq: claimedOnItem,
  };
}

function startLoop(inputs: TickInputs, config: PollerConfig): LoopState {
  const firstSeq = inputs.lastSeqOnItem + 1;
  return {
    nextSeq: firstSeq,
    anchorAt: inputs.nowMs + inputs.timing.firstTickDelayMs,
    anchorSeq: firstSeq,
    claimedThroughSeq: inputs.lastSeqOnItem,
    generation: inputs.generation,
    config,
    executionId: inputs.executionId,
    historyEvents: 0,
    historyBudget: inputs.historyBudget,
    skippedTicks: 0,
  };
}

function continueLoop(loop: LoopState, inputs: TickInputs, config: PollerConfig): LoopState {
  // A fresh execution (after a self-restart) starts with an empty history.
  const historyEvents = loop.executionId === inputs.executionId ? loop.historyEvents : 0;
  return followSchedule(
    { ...loop, executionId: inputs.executionId, historyEvents },
    config,
    inputs.nowMs,
    inputs.timing,
  );
}

/**
 * The loop under the configuration just read: the same grid while the schedule (interval, zone, rules) is the
 * same, otherwise a new run anchored on the tick about to fire.
 */
export function followSchedule(
  loop: LoopState,
  config: PollerConfig,
  nowMs: number,
  timing: Timing,
): LoopState {
  const continued: LoopState = { ...loop, config };
  if (sameSchedule(config, loop.config)) return continued;
  // A new interval, zone or rules: re-anchor on the tick about to fire. It keeps the time it was announced for,
  // later ticks follow the new schedule. A paused loop announced only the pause's end: the new rules may lift the
  // pause, so it re-anchors at the start's first-tick delay if that is sooner (and settles into a pause again if
  // the new rules still pause it).
  const aboutToFire = loop.paused
    ? Math.min(loop.anchorAt, nowMs + timing.firstTickDelayMs)
    : nextDueAt(loop);
  return anchorOn(continued, aboutToFire);
}
