import { encodeLoopState, parseControllerInput } from '../../../functions/controller/parse-input';
import {
  closeRound,
  DEFAULT_TIMING,
  planContinuation,
  type Timing,
} from '../../../functions/scheduling/plan-round';
import {
  afterClaim,
  afterOverlapSkip,
  afterTick,
  decideOnItem,
  openRound,
  overlapAllowsFire,
  releaseTick,
  waitForAnswer,
} from '../../../functions/scheduling/round-step';
import { sleepUntil } from '../../../functions/shared/clock';
import { FIELD, type LoopState, type PollerConfig } from '../../../functions/shared/contract';
import { decodePollerItem, type PollerItem, type RawItem } from '../../../functions/shared/control-item';
import { mulberry32 } from '../../../scripts/bench/latency-model';
import { type SimulatedClock, simulatedClock } from '../../support/simulated-clock';

const POLLER_ID = 'orders';

/** Deliberately not on a whole second, so whole-second wake-ups are visible. */
export const T0 = Date.parse('2030-01-01T00:00:00.250Z');

export const config = (intervalMs: number, overrides: Partial<PollerConfig> = {}): PollerConfig => ({
  running: true,
  intervalMs,
  ...overrides,
});

/** Small seeded PRNG (the benchmark's mulberry32) so simulated latencies are random yet reproducible. */
export const seededRandom = mulberry32;

export interface FiredTick {
  readonly seq: number;
  readonly dueAt: number;
  /** When the simulated controller issued the invoke: the clock once its own sleep returned, not the due time. */
  readonly firedAt: number;
  /** Grid slots skipped since the previous fired tick: when this one was planned, or by withholding late ticks. */
  readonly skipped: number;
  readonly executionId: string;
  /** The controller invocation (1, 2, …) that fired it. */
  readonly invocation: number;
  /** The claim on the (simulated) item when the tick was fired. */
  readonly claimedThroughAtFire: number;
}

/** A controller invocation as Step Functions saw it: which execution ran it, and how it ended. */
export interface Round {
  readonly invocation: number;
  readonly executionId: string;
  readonly startedAt: number;
  /** It returned a wakeAt (the Wait state follows), or asked for a hand-over to a fresh execution. */
  readonly outcome: 'hand-back' | 'hand-over';
}

export interface HandBack {
  readonly invocation: number;
  readonly executionId: string;
  readonly atMs: number;
  readonly deadlineMs: number;
  readonly wakeAt: number;
  /** What the controller counted for its execution's history, this round included. */
  readonly historyEvents: number;
}

export interface Claim {
  readonly fromSeq: number;
  readonly throughSeq: number;
  /** What the item said was claimed before this claim. */
  readonly claimedBefore: number;
  readonly invocation: number;
}

export interface SimulationOptions {
  readonly intervalMs: number;
  readonly ticks: number;
  readonly seed: number;
  /** How late Step Functions starts an invocation after `wakeAt` (or after a hand-over): 0 … this. */
  readonly maxWakeLateMs: number;
  /** How long an invocation may run: its deadline is this long after it starts. */
  readonly invocationMs: (random: () => number) => number;
  /** Latency of each control item read, claim write and worker invoke: 0 … this. */
  readonly maxIoMs?: number;
  /** How early a timer may fire (a clock step), at most; never more than the time it was asked for, less 1 ms. */
  readonly maxTimerEarlyMs?: number;
  /** How late a timer may fire (a busy event loop), at most. */
  readonly maxTimerLateMs?: number;
  readonly historyBudget?: number;
  readonly lastSeqOnItem?: number;
  readonly timing?: Timing;
  /** Where time starts (epoch ms); T0 by default. */
  readonly startMs?: number;
  /** More operator fields on the item (`timezone`, `windows`), and edits of them from a given time on. */
  readonly itemFields?: RawItem;
  readonly itemEdits?: readonly { readonly fromMs: number; readonly fields: RawItem }[];
  /**
   * Carry the loop state from round to round as Step Functions does: encoded, through JSON, parsed back (off by
   * default, so the plain simulations may use loop states the parser would refuse).
   */
  readonly throughJson?: boolean;
  /** Stop once the clock reaches this (epoch ms), however many ticks fired: a long pause fires none for hours. */
  readonly untilMs?: number;
  /**
   * How long each fire runs until the worker answers (the synchronous fires of `overlap: skip`); 0 by default.
   * A round knows only of the fires it made itself, as runRound does.
   */
  readonly workerRunMs?: number;
}

export interface SimulationResult {
  readonly fired: FiredTick[];
  readonly handBacks: HandBack[];
  readonly claims: Claim[];
  /** Every controller invocation Step Functions ran, in order. */
  readonly rounds: Round[];
  readonly executions: string[];
  readonly last: LoopState;
  /** Ticks held back because the previous fire was still running (overlap `skip`). */
  readonly overlapSkips: number;
}

interface Simulation {
  readonly options: SimulationOptions;
  readonly clock: SimulatedClock;
  readonly timing: Timing;
  readonly historyBudget: number;
  /** Latency of one control item read or write, or one invoke. */
  readonly io: () => number;
  readonly fired: FiredTick[];
  readonly claims: Claim[];
  /** The claimedSeq on the simulated item. */
  itemClaimedSeq: number;
  /** The execution the simulated item names: the one that wrote it last (the first, before any write). */
  itemExecution: string;
  /** Grid slots skipped since the last fired tick: by late plans, by late ticks withheld, by ticks crowded out by an edge. */
  skippedSinceFired: number;
  overlapSkips: number;
}

type RoundEnd =
  | { readonly kind: 'hand-back'; readonly wakeAt: number; readonly loop: LoopState; readonly atMs: number }
  | { readonly kind: 'hand-over' };

/**
 * Runs the controller loop on a simulated clock (test/support/simulated-clock.ts): Step Functions on the outside
 * (invoke, Wait until `wakeAt`, start late; a hand-over starts a fresh execution at once), and inside each
 * invocation the same pure steps functions/controller/run-round.ts carries out (round-step.ts, then
 * planContinuation and closeRound): ask for a hand-over before anything when the history budget is spent, read
 * the item, decide, claim before firing, sleepUntil the due time (the real one, on timers that may fire early or
 * late), fire or withhold a late tick, then stay awake (sleepUntil `readAt`) or hand back. Fire times are the clock when the invoke was issued, and rounds are what
 * Step Functions ran, so a sleep that returns early or a miscounted history shows in the results.
 */
export async function simulateLoop(options: SimulationOptions): Promise<SimulationResult> {
  const random = seededRandom(options.seed);
  // Timer errors draw from their own sequence, so turning them on leaves the latencies as they were.
  const timerRandom = seededRandom(options.seed ^ 0x5bd1e995);
  const upTo = (maxMs: number) => Math.floor(random() * (maxMs + 1));
  const maxEarlyMs = options.maxTimerEarlyMs ?? 0;
  const maxLateMs = options.maxTimerLateMs ?? 0;
  const clock = simulatedClock({
    startMs: options.startMs ?? T0,
    // Anywhere from `early` too soon to maxLateMs too late; early stops 1 ms short of the time asked for, so every
    // sleep moves time on.
    timerErrorMs: (requestedMs) => {
      const early = Math.max(0, Math.min(maxEarlyMs, requestedMs - 1));
      return Math.floor(timerRandom() * (early + maxLateMs + 1)) - early;
    },
  });
  const simulation: Simulation = {
    options,
    clock,
    timing: options.timing ?? DEFAULT_TIMING,
    historyBudget: options.historyBudget ?? 20_000,
    io: () => upTo(options.maxIoMs ?? 0),
    fired: [],
    claims: [],
    itemClaimedSeq: options.lastSeqOnItem ?? 0,
    itemExecution: 'exec-1',
    skippedSinceFired: 0,
    overlapSkips: 0,
  };
  const handBacks: HandBack[] = [];
  const rounds: Round[] = [];
  const executions = ['exec-1'];
  let loop: LoopState | undefined;

  const untilMs = options.untilMs ?? Number.POSITIVE_INFINITY;
  while (simulation.fired.length < options.ticks && clock.peek() < untilMs) {
    const invocation = rounds.length + 1;
    if (invocation > options.ticks * 4 + 10) throw new Error('simulation is not making progress');
    const executionId = executions.at(-1) as string;
    const startedAt = clock.peek();
    const deadlineMs = startedAt + options.invocationMs(random);
    const end = await controllerInvocation(simulation, { loop, executionId, invocation, deadlineMs });
    rounds.push({ invocation, executionId, startedAt, outcome: end.kind });
    if (end.kind === 'hand-over') {
      // HandOver starts a fresh execution whose first round runs the controller without waiting.
      executions.push(`exec-${executions.length + 1}`);
      clock.advance(upTo(options.maxWakeLateMs));
      continue;
    }
    loop = options.throughJson ? throughStepFunctions(end.loop, executionId) : end.loop;
    handBacks.push({
      invocation,
      executionId,
      atMs: end.atMs,
      deadlineMs,
      wakeAt: end.wakeAt,
      historyEvents: end.loop.historyEvents,
    });
    // WaitForTick until wakeAt, then the next RunController starts a little late.
    clock.advanceTo(end.wakeAt);
    clock.advance(upTo(options.maxWakeLateMs));
  }
  if (loop === undefined) throw new Error('no round ran');
  const { fired, claims } = simulation;
  return { fired, handBacks, claims, rounds, executions, last: loop, overlapSkips: simulation.overlapSkips };
}

/** The loop state as the next round reads it: the controller's output, through JSON, parsed as the input. */
function throughStepFunctions(loop: LoopState, executionId: string): LoopState {
  const state: unknown = JSON.parse(JSON.stringify({ pollerId: POLLER_ID, loop: encodeLoopState(loop) }));
  const parsed = parseControllerInput({ state, executionId }).loop;
  if (parsed === undefined) throw new Error('the loop state did not survive the round trip');
  return parsed;
}

/** The simulated control item as the controller reads it: generation 1, taken for the first execution. */
function simulatedItem(simulation: Simulation, nowMs: number): PollerItem {
  const edits = (simulation.options.itemEdits ?? []).filter((edit) => edit.fromMs <= nowMs);
  return decodePollerItem(POLLER_ID, {
    [FIELD.id]: { S: POLLER_ID },
    [FIELD.running]: { BOOL: true },
    [FIELD.waitSeconds]: { N: String(simulation.options.intervalMs / 1000) },
    [FIELD.generation]: { N: '1' },
    [FIELD.executionArn]: { S: simulation.itemExecution },
    [FIELD.claimedSeq]: { N: String(simulation.itemClaimedSeq) },
    ...simulation.options.itemFields,
    ...Object.assign({}, ...edits.map((edit) => edit.fields)),
  });
}

/**
 * One controller invocation: the decisions of functions/scheduling/round-step.ts (the ones runRound carries
 * out), carried out on the simulated clock and item. Every write succeeds; a decision that could only follow a
 * fault (a stop, a take, a refused write) fails the simulation.
 */
async function controllerInvocation(
  simulation: Simulation,
  round: {
    readonly loop: LoopState | undefined;
    readonly executionId: string;
    readonly invocation: number;
    readonly deadlineMs: number;
  },
): Promise<RoundEnd> {
  const { clock, timing, io, fired, claims } = simulation;
  const { executionId, invocation, deadlineMs } = round;
  const opening = openRound({
    pollerId: POLLER_ID,
    executionId,
    historyBudget: simulation.historyBudget,
    loop: round.loop,
    handOverJustFailed: false,
    eventsBeforeRound: 0,
  });
  if (opening.kind === 'hand-over') return { kind: 'hand-over' };
  let state = opening.state;
  /** When the last fire of this invocation answers; a new invocation knows of none. */
  let answersAt = Number.NEGATIVE_INFINITY;
  for (;;) {
    clock.advance(io()); // the control item read
    const readAt = clock.now();
    const decision = decideOnItem(state, simulatedItem(simulation, readAt), readAt, { timing });
    if (decision.kind === 'stop') throw new Error(`unexpected stop: ${decision.reason}`);
    if (decision.kind === 'take') throw new Error('unexpected console start');
    state = decision.state;
    let loop: LoopState;
    if (decision.kind === 'not-due') {
      loop = decision.loop;
      simulation.skippedSinceFired += decision.skipped;
    } else {
      const { plan } = decision;
      if (decision.kind === 'claim') {
        claims.push({
          fromSeq: plan.seq,
          throughSeq: decision.plan.claimThrough,
          claimedBefore: simulation.itemClaimedSeq,
          invocation,
        });
        simulation.itemClaimedSeq = decision.plan.claimThrough;
        simulation.itemExecution = executionId;
        clock.advance(io()); // the claim write
        const followUp = afterClaim(state, 'written');
        if (followUp.kind !== 'fire') throw new Error(`unexpected ${followUp.kind} after a written claim`);
        state = followUp.state;
      }
      await sleepUntil(clock, plan.dueAt);
      const firedAt = clock.now();
      const overlapping = !overlapAllowsFire(plan.config, answersAt > firedAt);
      if (overlapping) simulation.overlapSkips += 1;
      const settled = overlapping
        ? afterOverlapSkip(state, plan)
        : afterTick(state, plan, releaseTick(plan, firedAt, timing));
      state = settled.state;
      loop = settled.loop;
      simulation.skippedSinceFired += plan.skipped + settled.withheldSkips;
      if (settled.fired) {
        fired.push({
          seq: plan.seq,
          dueAt: plan.dueAt,
          firedAt,
          skipped: simulation.skippedSinceFired,
          executionId,
          invocation,
          claimedThroughAtFire: simulation.itemClaimedSeq,
        });
        simulation.skippedSinceFired = settled.skippedAfterFire;
        answersAt = firedAt + (simulation.options.workerRunMs ?? 0);
        clock.advance(io()); // the async invoke
      }
      // the write that records skipped ticks
      if (plan.skipped > 0 || settled.withheldSkips > 0 || settled.skippedAfterFire > 0) clock.advance(io());
    }
    let continuation = planContinuation(loop, clock.now(), deadlineMs, timing);
    const wait =
      continuation.kind === 'hand-back'
        ? waitForAnswer(answersAt > clock.now(), continuation.nextDueAt, clock.now(), deadlineMs, timing)
        : undefined;
    if (wait?.kind === 'wait') {
      await sleepUntil(clock, Math.min(answersAt, wait.untilMs));
      if (answersAt > clock.now() && wait.unanswered === 'read-again') continue;
      continuation = planContinuation(loop, clock.now(), deadlineMs, timing);
    }
    if (continuation.kind === 'hand-back') {
      clock.advance(io()); // the write at hand-back
      simulation.itemExecution = executionId;
      return {
        kind: 'hand-back',
        wakeAt: continuation.wakeAt,
        loop: closeRound(loop, executionId, 0),
        atMs: clock.now(),
      };
    }
    await sleepUntil(clock, continuation.readAt);
  }
}
