import { type LoopState, type PollerConfig, STOP_REASON } from '../shared/contract';
import type { InvalidControlItemError } from '../shared/errors';
import { HISTORY_EVENTS_PER_FAILED_ROUND, HISTORY_EVENTS_PER_ROUND } from './history-budget';
import { tickDueAt, ticksToSkip, wakeAtFor } from './tick-schedule';

/** Timing knobs of the controller; see DEFAULT_TIMING for why each has its value. */
export interface Timing {
  /** Wake this long (at least) before a tick, so Step Functions and Lambda start-up latency is absorbed early. */
  readonly wakeLeadMs: number;
  /** Sleep in-process at most this long before a tick; woken earlier (e.g. right after a hand-over), wait again. */
  readonly maxInProcessSleepMs: number;
}

export const DEFAULT_TIMING: Timing = {
  // A warm Wait → Task → Lambda start takes tens of ms; a Node.js cold start a few hundred. 500 ms covers both.
  wakeLeadMs: 500,
  // The Wait state wakes us up to lead + 999 ms early; anything beyond that means we were started early.
  maxInProcessSleepMs: 2_000,
};

export interface RoundInputs {
  readonly pollerId: string;
  /** The loop carried by Step Functions; undefined when this execution starts a loop. */
  readonly loop: LoopState | undefined;
  /** The control item, validated against the loop's last valid configuration; 'missing' if there is none. */
  readonly reading:
    | { readonly config: PollerConfig | undefined; readonly problems: readonly InvalidControlItemError[] }
    | 'missing';
  /** `seq` on the item, so a new loop continues the numbering of the one before it. */
  readonly lastSeqOnItem: number;
  readonly executionId: string;
  readonly historyBudget: number;
  /** The previous attempt of this round failed and was caught by the state machine. */
  readonly previousRoundFailed: boolean;
  readonly nowMs: number;
  readonly timing: Timing;
}

export type RoundPlan =
  | { readonly kind: 'stop'; readonly reason: string }
  | {
      readonly kind: 'fire';
      readonly seq: number;
      readonly dueAt: number;
      readonly skipped: number;
      readonly config: PollerConfig;
      readonly next: LoopState;
      readonly wakeAt: number;
      readonly restart: boolean;
    }
  | { readonly kind: 'wait'; readonly next: LoopState; readonly wakeAt: number; readonly restart: boolean };

/**
 * Decides one controller round from the loop state, the control item and the clock. Pure: no I/O, no clock reads.
 */
export function planRound(inputs: RoundInputs): RoundPlan {
  const { reading, nowMs, timing } = inputs;
  if (reading === 'missing') return { kind: 'stop', reason: STOP_REASON.itemMissing };
  const config = reading.config;
  if (config === undefined) {
    const detail = reading.problems.map((problem) => problem.message).join('; ');
    return { kind: 'stop', reason: `${STOP_REASON.invalidConfig}: ${detail}` };
  }
  if (!config.running) return { kind: 'stop', reason: STOP_REASON.runningFalse };

  let loop = inputs.loop === undefined ? startLoop(inputs, config) : continueLoop(inputs.loop, inputs, config);

  let dueAt = tickDueAt(loop, loop.nextSeq);
  if (dueAt - nowMs > timing.maxInProcessSleepMs) {
    return withHistory({ kind: 'wait', next: loop, wakeAt: wakeAtFor(dueAt, timing.wakeLeadMs), restart: false }, inputs);
  }

  const skipped = ticksToSkip(nowMs - dueAt, config.intervalMs);
  if (skipped > 0) {
    // Keep the grid's phase: shift the anchor by whole intervals instead of re-anchoring on `now`.
    loop = { ...loop, anchorAt: loop.anchorAt + skipped * config.intervalMs, skippedTicks: loop.skippedTicks + skipped };
    dueAt = tickDueAt(loop, loop.nextSeq);
  }

  const seq = loop.nextSeq;
  const next: LoopState = { ...loop, nextSeq: seq + 1 };
  const wakeAt = wakeAtFor(tickDueAt(next, next.nextSeq), timing.wakeLeadMs);
  return withHistory({ kind: 'fire', seq, dueAt, skipped, config, next, wakeAt, restart: false }, inputs);
}

function startLoop(inputs: RoundInputs, config: PollerConfig): LoopState {
  const firstSeq = inputs.lastSeqOnItem + 1;
  return {
    nextSeq: firstSeq,
    anchorAt: inputs.nowMs,
    anchorSeq: firstSeq,
    config,
    executionId: inputs.executionId,
    historyEvents: 0,
    historyBudget: inputs.historyBudget,
    skippedTicks: 0,
  };
}

function continueLoop(loop: LoopState, inputs: RoundInputs, config: PollerConfig): LoopState {
  // A fresh execution (after a self-restart) starts with an empty history.
  const historyEvents = loop.executionId === inputs.executionId ? loop.historyEvents : 0;
  let continued: LoopState = { ...loop, config, executionId: inputs.executionId, historyEvents };
  if (config.intervalMs !== loop.config.intervalMs) {
    // Re-anchor on the tick about to fire: it keeps the time it was announced for, later ticks follow the new cadence.
    continued = { ...continued, anchorAt: tickDueAt(loop, loop.nextSeq), anchorSeq: loop.nextSeq };
  }
  return continued;
}

function withHistory<P extends Extract<RoundPlan, { next: LoopState }>>(plan: P, inputs: RoundInputs): P {
  const added = HISTORY_EVENTS_PER_ROUND + (inputs.previousRoundFailed ? HISTORY_EVENTS_PER_FAILED_ROUND : 0);
  const historyEvents = plan.next.historyEvents + added;
  // Hand over when one more round would cross the budget.
  const restart = historyEvents + HISTORY_EVENTS_PER_ROUND > plan.next.historyBudget;
  return { ...plan, next: { ...plan.next, historyEvents }, restart };
}
