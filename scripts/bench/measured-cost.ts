import {
  CONTROLLER_SIZE,
  chooseStrategy,
  ROUND_AWAKE_MS,
  type TickStrategy,
} from '../../functions/scheduling/cost-model';
import { DEFAULT_TIMING } from '../../functions/scheduling/plan-round';
import { CONTROLLER_TIMEOUT_SECONDS } from '../../functions/shared/contract';
import { type PerTickCounts, ZERO_COUNTS } from './anchors-cost';
import type { DesignCounts } from './meter';

/**
 * Per-tick scheduler counts of a design at a cadence, from the runs' meter readings. Figures counted at that very
 * cadence are used as they are; the others are derived from counted figures and say how in `source`.
 */
export interface MeasuredCost {
  readonly counts: PerTickCounts;
  /** 'counted' when every figure comes from a run at this cadence; 'derived' otherwise. */
  readonly basis: 'counted' | 'derived';
  readonly source: string;
  readonly strategy: TickStrategy | 'relative wait';
}

/** A design's counts over one run and the ticks it fired there. */
export interface CountedRun {
  readonly everySeconds: number;
  readonly ticks: number;
  readonly counts: DesignCounts;
}

/** Counts of the hand-back rounds run: a short controller timeout makes every few ticks a Step Functions round. */
export interface RoundsRun {
  readonly rounds: number;
  readonly ticks: number;
  readonly counts: DesignCounts;
}

export interface PerRound {
  readonly transitions: number;
  readonly historyEvents: number;
  readonly writeUnits: number;
  readonly readUnitsPerTick: number;
}

/**
 * Per completed round: the stack's stop cuts the last round short, so a round is counted once every state of the
 * loop has been entered that many times (the least-entered state's count).
 */
export function perRound(run: RoundsRun): PerRound {
  const rounds = Math.max(1, run.rounds);
  const entered = Object.values(run.counts.transitionsByState);
  const completed = Math.max(1, Math.min(...entered, rounds));
  const transitions = entered.reduce((sum, count) => sum + Math.min(count, completed), 0) / completed;
  return {
    transitions,
    historyEvents: run.counts.historyEvents / rounds,
    writeUnits: run.counts.writeUnits / rounds,
    readUnitsPerTick: run.counts.readUnits / Math.max(1, run.ticks),
  };
}

/** Staying awake, one invocation lasts the Lambda timeout less the hand-back margin: one round per this long. */
export const STAY_AWAKE_ROUND_MS = CONTROLLER_TIMEOUT_SECONDS * 1000 - DEFAULT_TIMING.handBackMarginMs;

const claimWindowTicks = (everySeconds: number) =>
  Math.max(1, Math.ceil(DEFAULT_TIMING.claimWindowMs / (everySeconds * 1000)));
const gbPerMs = CONTROLLER_SIZE.memoryMb / 1024 / 1000;
const fmt = (value: number) => (Math.round(value * 1000) / 1000).toString();

/**
 * Our loop at `everySeconds`: per-tick reads, writes and GB-seconds from the run at that cadence if there is one
 * (else scaled from the `reference` run), plus the hand-back rounds at the rate the deployed timeout gives them.
 * Above the break-even every tick is a round: counted as it is when a run at that cadence exists.
 */
export function oursPerTick(
  everySeconds: number,
  runs: readonly CountedRun[],
  reference: CountedRun,
  roundsRun: RoundsRun,
): MeasuredCost {
  const strategy = chooseStrategy(everySeconds * 1000);
  const round = perRound(roundsRun);
  const atCadence = runs.find((run) => run.everySeconds === everySeconds && run.ticks > 0);
  const base = atCadence ?? reference;
  const ticks = Math.max(1, base.ticks);
  const roundsNote = `${fmt(round.transitions)} transitions and ${fmt(round.writeUnits)} WCU per round counted in the rounds run (${roundsRun.rounds} rounds)`;

  if (strategy === 'wait-state') {
    if (atCadence) {
      const c = atCadence.counts;
      return {
        strategy,
        basis: 'counted',
        source: `counted at ${everySeconds} s: ${atCadence.ticks} ticks, every tick a round`,
        counts: perTick(c, ticks),
      };
    }
    return {
      strategy,
      basis: 'derived',
      source: `derived: one round per tick (${roundsNote}), ${base.counts.readUnits / ticks} RCU per tick counted at ${base.everySeconds} s, awake ${ROUND_AWAKE_MS} ms per round (cost-model ROUND_AWAKE_MS)`,
      counts: {
        ...ZERO_COUNTS,
        stateTransitions: round.transitions,
        lambdaRequests: 1,
        lambdaGbSeconds: ROUND_AWAKE_MS * gbPerMs,
        readUnits: base.counts.readUnits / ticks,
        writeUnits: round.writeUnits,
      },
    };
  }

  const roundsPerTick = (everySeconds * 1000) / STAY_AWAKE_ROUND_MS;
  const c = base.counts;
  const scale = everySeconds / base.everySeconds;
  // A short run's writes are mostly its start claim and its stop: derive the steady claim rate from the window.
  const writesPerTick = atCadence ? c.writeUnits / ticks : 1 / claimWindowTicks(everySeconds);
  const perTickNote = atCadence
    ? `reads, writes, GB-s counted at ${everySeconds} s (${atCadence.ticks} ticks, start and stop included)`
    : `reads counted at ${base.everySeconds} s (${base.ticks} ticks); GB-s scaled ×${fmt(scale)} from it; a claim write every ${claimWindowTicks(everySeconds)} ticks (the 30 s claim window; the ${base.everySeconds} s run counted ${c.writeUnits} writes, start and stop included)`;
  return {
    strategy,
    basis: atCadence ? 'counted' : 'derived',
    source: `${perTickNote}; + one hand-back round per ${STAY_AWAKE_ROUND_MS / 1000} s (derived from the timeout): ${roundsNote}`,
    counts: {
      ...ZERO_COUNTS,
      stateTransitions: round.transitions * roundsPerTick,
      lambdaRequests: roundsPerTick,
      lambdaGbSeconds: (c.controllerGbSeconds / ticks) * scale,
      readUnits: c.readUnits / ticks,
      writeUnits: writesPerTick + round.writeUnits * roundsPerTick,
    },
  };
}

/** The recipe: every tick is a round, so its per-tick counts do not depend on the cadence. */
export function recipePerTick(everySeconds: number, runs: readonly CountedRun[]): MeasuredCost | undefined {
  const atCadence = runs.find((run) => run.everySeconds === everySeconds && run.ticks > 0);
  const base = atCadence ?? runs.find((run) => run.ticks > 0);
  if (base === undefined || !Number.isInteger(everySeconds)) return undefined;
  const ticks = base.ticks;
  const c = base.counts;
  return {
    strategy: 'relative wait',
    basis: atCadence ? 'counted' : 'derived',
    source: atCadence
      ? `counted at ${everySeconds} s (${ticks} ticks)`
      : `per-tick counts of the ${base.everySeconds} s run (${ticks} ticks): a round per tick at any cadence`,
    counts: perTick(c, ticks),
  };
}

/** A run's counts spread over its ticks: each tick's share of rounds, requests, compute, reads and writes. */
function perTick(counts: DesignCounts, ticks: number): PerTickCounts {
  return {
    ...ZERO_COUNTS,
    stateTransitions: counts.stateTransitions / ticks,
    lambdaRequests: counts.controllerInvocations / ticks,
    lambdaGbSeconds: counts.controllerGbSeconds / ticks,
    readUnits: counts.readUnits / ticks,
    writeUnits: counts.writeUnits / ticks,
  };
}
