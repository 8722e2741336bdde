import type { LambdaSize } from '../scheduling/cost-model';
import { historyEventsBeforeRound } from '../scheduling/history-budget';
import {
  closeRound,
  DEFAULT_TIMING,
  type HandBack,
  handBackNow,
  planContinuation,
  type Timing,
} from '../scheduling/plan-round';
import {
  afterClaim,
  afterFailedRead,
  afterOverlapSkip,
  afterStopRecord,
  afterTake,
  afterTick,
  type ConfigNotes,
  decideOnItem,
  decideStop,
  type FirePlan,
  type ItemDecision,
  openRound,
  overlapAllowsFire,
  type RoundSettings,
  type RoundState,
  releaseTick,
  type WriteResult,
  waitForAnswer,
} from '../scheduling/round-step';
import { type Clock, sleepUntil } from '../shared/clock';
import type { ControllerOutput, LoopState } from '../shared/contract';
import type { PollerItem } from '../shared/control-item';
import type { ControlItemStore } from '../shared/control-item-store';
import {
  ControlTableUnavailableError,
  describeCause,
  HandOverRequestedSignal,
  InvalidControllerInputError,
  joinProblems,
  PollerStoppedSignal,
  WorkerInvokeError,
} from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { RoundRecord, WriteGuard, WriteOutcome } from '../shared/loop-table';
import type { MetricsSetup } from '../shared/metrics';
import type { FireAnswer, FireInFlight, WorkerInvoker } from '../shared/worker-invoker';
import { encodeLoopState, parseControllerInput, startsOtherPollers } from './parse-input';
import { RoundMetrics } from './round-metrics';

export interface ControllerDeps {
  readonly table: ControlItemStore;
  /** Fires the worker (and warms the connection to it). */
  readonly invoker: WorkerInvoker;
  /** The stack's worker, fired when the item names no `target`. */
  readonly defaultTarget: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly timing?: Timing;
  /** Memory and architecture of this controller, for the stay-awake/Wait-state break-even. */
  readonly size?: LambdaSize;
  /**
   * Starts every other running poller without a live loop (the watchdog's sweep, by the one start rule), except
   * the one named; never throws. Called when startsOtherPollers says so; without it a round starts none.
   */
  readonly startOtherPollers?: (exceptPollerId: string) => Promise<void>;
  /** Where the round's EMF metric lines go (stdout on Lambda); without it the round writes none. */
  readonly metrics?: MetricsSetup;
}

/** When the invocation must have handed back by (epoch ms); asked again before every tick. */
export type Deadline = () => number;

/**
 * A connection to Lambda idle longer than this may have been closed (by the service, or while the sandbox was
 * frozen): warm it before the next tick instead of paying a new TLS handshake on the tick.
 */
const IDLE_CONNECTION_MS = 15_000;

/**
 * One controller invocation (one Step Functions round). It reads the control item before every tick, sleeps to
 * the exact millisecond, fires the worker, and either stays awake for the next tick (below the break-even
 * interval) or hands back to a Wait state.
 *
 * Never twice: a new loop takes a new generation on the item, and every tick is fired only under a claim that a
 * conditional write made for this generation; a loop that sees a newer generation, or loses a claim, ends as
 * superseded without firing. Only a read before the first fire may throw (Step Functions then retries the round
 * with nothing fired); after a fire, failures are recorded and the round hands back instead.
 *
 * Every decision is taken by the pure steps of functions/scheduling/round-step.ts; this function carries them
 * out: it reads, writes, sleeps, fires and logs.
 */
export async function runRound(
  event: unknown,
  deps: ControllerDeps,
  deadline: Deadline,
): Promise<ControllerOutput> {
  const metrics = deps.metrics === undefined ? undefined : new RoundMetrics(deps.metrics);
  try {
    return await runMeteredRound(event, deps, deadline, metrics);
  } finally {
    // Every exit: a hand-back, a stop or hand-over signal, a failure Step Functions retries.
    metrics?.flush();
  }
}

async function runMeteredRound(
  event: unknown,
  deps: ControllerDeps,
  deadline: Deadline,
  metrics: RoundMetrics | undefined,
): Promise<ControllerOutput> {
  const { table, clock } = deps;
  const timing = deps.timing ?? DEFAULT_TIMING;
  const settings: RoundSettings = { timing, ...(deps.size ? { size: deps.size } : {}) };
  let input: ReturnType<typeof parseControllerInput>;
  try {
    input = parseControllerInput(event);
  } catch (error) {
    if (!(error instanceof InvalidControllerInputError)) throw error;
    deps.log.error('invalid controller input, stopping', { pollerId: error.pollerId, error: error.message });
    throw new PollerStoppedSignal(error.pollerId, error.message);
  }
  const { pollerId, executionId } = input;
  // Every line of the round names its poller; lines about the loop's life name its execution and generation too.
  const log = deps.log.child({ pollerId });
  const progress = new ProgressRecorder(deps, log, pollerId, executionId, metrics?.forPoller(pollerId));
  // Before this loop's own first tick, which it takes as it always did: a console start ({}) brings up the fleet.
  if (deps.startOtherPollers !== undefined && startsOtherPollers(input))
    await deps.startOtherPollers(pollerId);
  if (input.previousFailure) progress.noteError(input.previousFailure);

  // Taken once, at the start: later, a long stay-awake round would look like many failed rounds.
  const eventsBeforeRound = historyEventsBeforeRound(input, clock.now());
  const opening = openRound({
    pollerId,
    executionId,
    historyBudget: input.historyBudget,
    loop: input.loop,
    handOverJustFailed: input.handOverJustFailed,
    eventsBeforeRound,
  });
  if (opening.kind === 'hand-over') {
    // Before anything is fired, so the next execution continues from exactly this loop state.
    await progress.flushErrors();
    log
      .child({ executionId, generation: opening.loop.generation })
      .info('handing over to a fresh execution', { historyEvents: opening.historyEvents, eventsBeforeRound });
    throw new HandOverRequestedSignal(pollerId, opening.historyEvents, opening.loop.historyBudget);
  }

  let state = opening.state;
  progress.own(state.owned);
  /** When this invocation last talked to Lambda; a new invocation may come out of a frozen sandbox. */
  let lambdaUsedAt = Number.NEGATIVE_INFINITY;
  /** The last synchronous fire (overlap `skip`) of this invocation; a new invocation knows of none. */
  let previousFire: TrackedFire | undefined;
  /** Records the previous fire's answer once it came (off the tick path: after a tick, never before one). */
  const noteAnswer = () => {
    if (previousFire?.answer === undefined || previousFire.noted) return;
    previousFire.noted = true;
    progress.noteAnswer(previousFire.answer, previousFire.sentAt);
    if (previousFire.answer.kind === 'failed')
      log.error('fire failed', { seq: previousFire.seq, error: previousFire.answer.message });
  };
  const fireRunning = () => previousFire !== undefined && previousFire.answer === undefined;
  /**
   * Before an exit with no next tick to read for (a stop, a failed read or claim): the next invocation would know
   * nothing of a fire still running, so wait for its answer up to the hand-back point (waitForAnswer) and record it.
   */
  const answerBeforeLeaving = async () => {
    const wait = waitForAnswer(fireRunning(), undefined, clock.now(), deadline(), timing);
    if (wait.kind === 'wait' && previousFire !== undefined)
      await answerOrTime(previousFire, clock, wait.untilMs);
    noteAnswer();
  };
  const handBack = (loop: LoopState, plan: HandBack) =>
    handBackToStepFunctions(loop, plan, eventsBeforeRound, progress);
  const tableUnavailable = (what: string) =>
    new ControlTableUnavailableError(pollerId, table.tableName, what);
  /**
   * Ends the loop by throwing its signal, after recording why when decideStop says so. Returns the state to
   * read again with instead when the record was refused because the item changed.
   */
  const stop = async (from: RoundState, reason: string): Promise<RoundState> => {
    await answerBeforeLeaving();
    const stopping = decideStop(from, reason);
    if (stopping.kind === 'record') {
      const outcome = await progress.write(
        { stoppedReason: reason },
        { whileNotRunning: stopping.whileNotRunning },
      );
      const followUp = afterStopRecord(from, writeResult(outcome));
      if (followUp.kind === 'read-again') return followUp.state;
      if (followUp.kind === 'table-unavailable') throw tableUnavailable(followUp.what);
    }
    progress.logSummary('stopping');
    log.child({ executionId, generation: from.owned }).info('loop stopped', { reason });
    throw new PollerStoppedSignal(pollerId, reason);
  };

  let loopStartNoted = false;
  for (;;) {
    // An answer that came while the round slept rides on the next write, whichever it is (a claim, a stop record).
    noteAnswer();
    let item: PollerItem | undefined;
    try {
      item = await table.read(pollerId);
    } catch (error) {
      const followUp = afterFailedRead(state);
      if (followUp === undefined) throw error;
      // Ticks were fired in this invocation: a retry would fire them again. Hand back; the next round retries the read.
      progress.noteError(describeCause(error));
      await answerBeforeLeaving();
      return handBack(followUp.loop, handBackNow(followUp.loop, clock.now()));
    }

    const decision = decideOnItem(state, item, clock.now(), settings);
    state = decision.state;
    progress.own(state.owned);
    // A fresh loop's first round (any start path) counts once it owns the poller and goes on to its ticks, when
    // its first write as owner holds (a start that loses the claim race is not a loop).
    if (input.loop === undefined && !loopStartNoted && isOwnerGoingOn(decision.kind)) {
      loopStartNoted = true;
      progress.noteLoopStart();
    }
    if (decision.kind !== 'take' && decision.observed !== undefined)
      observe(progress, decision.observed, item);

    if (decision.kind === 'stop') {
      state = await stop(state, decision.reason);
      continue;
    }

    if (decision.kind === 'take') {
      // A failed write throws: Step Functions retries the round, and nothing was fired.
      const outcome = await table.takeGeneration(pollerId, {
        generation: decision.generation,
        expected: decision.expected,
        executionArn: executionId,
        at: iso(decision.atMs),
      });
      if (outcome.kind === 'taken') {
        log.info('console start took the poller', { generation: decision.generation, why: decision.why });
      }
      const followUp = afterTake(state, decision.generation, outcome.kind);
      state = followUp.kind === 'stop' ? await stop(followUp.state, followUp.reason) : followUp.state;
      progress.own(state.owned);
      continue;
    }

    let loop: LoopState;
    if (decision.kind === 'not-due') {
      loop = decision.loop;
      if (decision.skipped > 0) progress.noteSkipped(decision.skipped);
    } else {
      const plan = decision.plan;
      if (decision.kind === 'claim') {
        const outcome = await progress.claim(decision.plan.claimThrough, plan.dueAt, decision.expectedClaim);
        const followUp = afterClaim(state, writeResult(outcome));
        if (followUp.kind === 'stop') {
          state = await stop(followUp.state, followUp.reason);
          continue;
        }
        if (followUp.kind === 'read-again') {
          state = followUp.state;
          continue;
        }
        if (followUp.kind === 'hand-back-now') {
          await answerBeforeLeaving();
          return handBack(followUp.loop, handBackNow(followUp.loop, clock.now()));
        }
        if (followUp.kind === 'table-unavailable') throw tableUnavailable(followUp.what);
        state = followUp.state;
      }
      if (plan.skipped > 0) progress.noteSkipped(plan.skipped);
      const target = plan.config.target ?? deps.defaultTarget;
      // Not awaited before the tick: a slow warm-up must never delay it (the fire opens its own connection then).
      const warming = clock.now() - lambdaUsedAt > IDLE_CONNECTION_MS ? deps.invoker.warm(target) : undefined;
      const running = previousFire;
      const delivery = await deliverTick(plan, target, deps, timing, progress, log, () =>
        running === undefined ? false : running.answer === undefined,
      );
      await warming;
      lambdaUsedAt = clock.now();
      if (delivery.kind === 'overlap-skip') {
        const settled = afterOverlapSkip(state, plan);
        state = settled.state;
        loop = settled.loop;
        progress.noteOverlapSkip();
        if (settled.withheldSkips > 0) progress.noteSkipped(settled.withheldSkips);
      } else {
        if (delivery.kind === 'in-flight') {
          noteAnswer(); // the fire before it answered just before this tick: record it before it is replaced
          previousFire = track(delivery.fire, delivery.sentAt);
        }
        const settled = afterTick(state, plan, delivery.kind === 'withheld' ? delivery.loop : undefined);
        state = settled.state;
        loop = settled.loop;
        if (settled.fired) progress.noteFired(plan.seq, iso(plan.dueAt));
        else progress.noteSkipped(settled.withheldSkips);
        if (settled.skippedAfterFire > 0) progress.noteSkipped(settled.skippedAfterFire);
      }
    }
    noteAnswer();
    await progress.flushErrors();
    progress.flushMetricsIfDue();

    let continuation = planContinuation(loop, clock.now(), deadline(), timing, deps.size);
    const wait =
      continuation.kind === 'hand-back'
        ? waitForAnswer(fireRunning(), continuation.nextDueAt, clock.now(), deadline(), timing)
        : undefined;
    if (wait?.kind === 'wait' && previousFire !== undefined) {
      await answerOrTime(previousFire, clock, wait.untilMs);
      noteAnswer();
      await progress.flushErrors();
      if (previousFire.answer === undefined && wait.unanswered === 'read-again') continue;
      continuation = planContinuation(loop, clock.now(), deadline(), timing, deps.size);
    }
    if (continuation.kind === 'hand-back') {
      noteAnswer();
      return handBack(loop, continuation);
    }
    await sleepUntil(clock, continuation.readAt);
  }
}

/** A synchronous fire of this invocation and, once it came, its answer (set by the call, off the tick path). */
interface TrackedFire {
  readonly seq: number;
  /** When its body went out (the tick's release). */
  readonly sentAt: number;
  answer: FireAnswer | undefined;
  /** The answer was recorded (once). */
  noted: boolean;
}

function track(fire: FireInFlight, sentAt: number): TrackedFire {
  const tracked: TrackedFire = { seq: fire.seq, sentAt, answer: undefined, noted: false };
  void fire.answer.then((answer) => {
    tracked.answer = answer;
  });
  return tracked;
}

/**
 * Waits for the fire's answer until `untilMs`, on timers only (no spinning); the answer sets `fire.answer` from its
 * own callback. Looking every ANSWER_LOOK_MS (rather than racing the answer against one long timer) leaves no timer
 * behind when the answer wins, and runs the same on a simulated clock.
 */
async function answerOrTime(fire: TrackedFire, clock: Clock, untilMs: number): Promise<void> {
  while (fire.answer === undefined && clock.now() < untilMs) {
    await clock.sleep(Math.min(untilMs - clock.now(), ANSWER_LOOK_MS));
  }
}

/**
 * How often a controller waiting for a fire's answer looks whether it came: each look costs microseconds of CPU,
 * and the wait outlasts the answer by at most this long (of billed GB-s).
 */
const ANSWER_LOOK_MS = 100;

/** How a tick's delivery ended. */
type Delivery =
  /** Sent asynchronously, or its send failed (recorded; it counts as fired, as it may have arrived). */
  | { readonly kind: 'sent' }
  /** Sent synchronously (overlap `skip`): the call runs on, its answer comes later. */
  | { readonly kind: 'in-flight'; readonly fire: FireInFlight; readonly sentAt: number }
  /** Withheld as too late (releaseTick): the loop to carry on with. */
  | { readonly kind: 'withheld'; readonly loop: LoopState }
  /** Held back by the overlap policy: the previous fire was still running at the release. */
  | { readonly kind: 'overlap-skip' };

/**
 * Sends the tick at its due time: prepared and signed ahead, released at the tick, withheld when it can no longer
 * go out on time (releaseTick). Returns the loop to carry on with when it was withheld, undefined when it was
 * sent, or when its send failed (recorded; the tick counts as fired, as it may have arrived).
 */
async function deliverTick(
  plan: FirePlan,
  target: string,
  deps: ControllerDeps,
  timing: Timing,
  progress: ProgressRecorder,
  log: Logger,
  previousFireRunning: () => boolean,
): Promise<Delivery> {
  const { clock } = deps;
  let releasedAt = Number.NaN;
  let withheld: LoopState | undefined;
  const hold = {
    openAt: () => sleepUntil(clock, plan.dueAt - timing.sendOpenLeadMs),
    releaseAt: async () => {
      await sleepUntil(clock, plan.dueAt);
      releasedAt = clock.now();
      withheld = releaseTick(plan, releasedAt, timing);
      return withheld === undefined;
    },
  };
  const event = {
    pollerId: progress.pollerId,
    seq: plan.seq,
    scheduledAt: iso(plan.dueAt),
    ...(plan.config.payload ? { payload: plan.config.payload } : {}),
  };
  try {
    if (plan.config.overlap === 'skip') {
      // The one overlap decision. Only a fire of this invocation can be running, and none starts before this tick,
      // so one not running now is not running at the release either.
      if (previousFireRunning()) {
        // Nothing is prepared for a tick that will likely be skipped (opening it would take a connection, the
        // previous call holds the warm one). Decided at the tick itself, not at the plan: an answer that comes in
        // between lets the tick go out.
        await sleepUntil(clock, plan.dueAt);
        if (!overlapAllowsFire(plan.config, previousFireRunning())) return { kind: 'overlap-skip' };
      }
      const fire = await deps.invoker.fireAwaitingAnswer(target, event, hold);
      if (fire === 'withheld') return withheldAs(withheld);
      progress.noteDelivered(releasedAt - plan.dueAt);
      return { kind: 'in-flight', fire, sentAt: releasedAt };
    }
    const delivery = await deps.invoker.fire(target, event, hold);
    if (delivery === 'withheld') return withheldAs(withheld);
    progress.noteDelivered(releasedAt - plan.dueAt);
    return { kind: 'sent' };
  } catch (error) {
    if (!(error instanceof WorkerInvokeError)) throw error;
    log.error('tick not delivered', { seq: plan.seq, target, error: error.message });
    progress.noteError(error.message);
    progress.noteFailedFire();
    return { kind: 'sent' };
  }
}

/** Decisions of a round that owns its poller and carries on to a tick (not a stop, not a console start's take). */
function isOwnerGoingOn(kind: ItemDecision['kind']): boolean {
  return kind === 'claim' || kind === 'fire' || kind === 'not-due';
}

function withheldAs(withheld: LoopState | undefined): Delivery {
  return withheld === undefined ? { kind: 'sent' } : { kind: 'withheld', loop: withheld };
}

/** What the item's configuration told the round goes on the item; the error it already records is not news. */
function observe(progress: ProgressRecorder, observed: ConfigNotes, item: PollerItem | undefined): void {
  for (const note of observed.notes) progress.noteError(note);
  if (item !== undefined) progress.observeItem(item);
}

/** A write's outcome as the decisions see it ('nothing-to-write' never comes from a claim or a stop record). */
function writeResult(outcome: WriteOutcome | 'failed' | 'nothing-to-write'): WriteResult {
  return outcome === 'nothing-to-write' ? 'written' : outcome;
}

async function handBackToStepFunctions(
  loop: LoopState,
  plan: HandBack,
  eventsBeforeRound: number,
  progress: ProgressRecorder,
): Promise<ControllerOutput> {
  const next = closeRound(loop, progress.executionId, eventsBeforeRound);
  // A paused loop fires nothing, so its check-ins write the heartbeat that tells the watchdog it is alive.
  await progress.write({ nextTickAt: iso(plan.nextDueAt) }, { onlyIfFired: loop.paused !== true });
  progress.logSummary('handing back');
  return {
    pollerId: progress.pollerId,
    wakeAt: isoSecond(plan.wakeAt),
    loop: encodeLoopState(next),
    ...(progress.unrecordedErrors().length > 0 ? { pendingErrors: progress.unrecordedErrors() } : {}),
  };
}

interface InvocationTally {
  fired: number;
  firstSeq: number | undefined;
  worstPrecisionMs: number;
  skipped: number;
}

/**
 * What the controller writes on the item, and when: a claim before the ticks it covers (with the progress so
 * far, which doubles as the heartbeat), progress at hand-back, a new error as soon as it appears (not again
 * each tick while it persists). Every write holds only for this loop's generation. Writes never throw.
 */
class ProgressRecorder {
  private lastFired: { seq: number; scheduledAt: string } | undefined;
  private firedSinceWrite = false;
  private skippedSinceWrite = 0;
  private failedFiresSinceWrite = 0;
  /** Overlap skips are not written on their own: they ride on the next write the loop makes anyway. */
  private overlapSkipsSinceWrite = 0;
  private lastFinished: { seq: number; durationMs: number } | undefined;
  private loopStartPending = false;
  private pendingErrors: string[] = [];
  private recordedError: string | undefined;
  /** The generation this invocation owns; nothing is written without one. */
  private generation: number | undefined;
  /** What this invocation fired, for its one summary line. */
  private readonly tally: InvocationTally = {
    fired: 0,
    firstSeq: undefined,
    worstPrecisionMs: 0,
    skipped: 0,
  };

  constructor(
    private readonly deps: ControllerDeps,
    /** Bound to the poller. */
    private readonly log: Logger,
    readonly pollerId: string,
    readonly executionId: string,
    /** The round's EMF metrics (functions/shared/metrics.ts); none without a MetricsSetup. */
    private readonly metrics: RoundMetrics | undefined,
  ) {}

  own(generation: number | undefined): void {
    this.generation = generation;
  }

  observeItem(item: PollerItem): void {
    this.recordedError = item.lastError?.message;
  }

  noteError(message: string): void {
    if (!this.pendingErrors.includes(message)) this.pendingErrors.push(message);
  }

  noteSkipped(count: number): void {
    this.skippedSinceWrite += count;
    this.tally.skipped += count;
    this.metrics?.noteSkipped(count, this.deps.clock.now());
  }

  noteFailedFire(): void {
    this.failedFiresSinceWrite += 1;
    this.metrics?.noteFailedFire(this.deps.clock.now());
  }

  noteOverlapSkip(): void {
    this.overlapSkipsSinceWrite += 1;
    this.metrics?.noteOverlapSkip(this.deps.clock.now());
  }

  /** Counted in LoopStarts when the next write holds (a first round with nothing to fire writes one for it). */
  noteLoopStart(): void {
    this.loopStartPending = true;
  }

  /** After a tick's work, never before a tick: a line goes out when its values have waited long enough. */
  flushMetricsIfDue(): void {
    this.metrics?.flushIfDue(this.deps.clock.now());
  }

  /** A synchronous fire answered: a failure is news (written at once); a success rides on the next write. */
  noteAnswer(answer: FireAnswer, sentAt: number): void {
    if (answer.kind === 'failed') {
      this.noteError(answer.message);
      this.noteFailedFire();
      return;
    }
    this.lastFinished = {
      seq: answer.seq,
      durationMs: Math.max(0, Math.round(answer.answeredAtMs - sentAt)),
    };
  }

  noteFired(seq: number, scheduledAt: string): void {
    this.lastFired = { seq, scheduledAt };
    this.firedSinceWrite = true;
    this.tally.fired += 1;
    this.tally.firstSeq ??= seq;
  }

  /** A tick's invoke was accepted `precisionMs` after it was due. */
  noteDelivered(precisionMs: number): void {
    this.tally.worstPrecisionMs = Math.max(this.tally.worstPrecisionMs, precisionMs);
    this.metrics?.noteFire(precisionMs, this.deps.clock.now());
  }

  /**
   * One line per invocation, not one per tick: CloudWatch Logs bills every byte ingested, and at 0.1 s a line per
   * tick would cost as much as the controller itself. Problems are logged as they happen.
   */
  logSummary(ending: string): void {
    if (this.tally.fired === 0) return;
    this.log.info('round summary', {
      ending,
      fired: this.tally.fired,
      seqs: `${this.tally.firstSeq}-${this.lastFired?.seq}`,
      worstPrecisionMs: this.tally.worstPrecisionMs,
      skipped: this.tally.skipped,
    });
  }

  /** Errors and skips are news for the operator: write them now rather than with the next claim. */
  async flushErrors(): Promise<void> {
    // A problem that persists (a bad field stays bad) is already on the item: no write per tick for it.
    if (joinProblems(this.pendingErrors) === this.recordedError) this.pendingErrors = [];
    if (this.pendingErrors.length > 0 || this.skippedSinceWrite > 0) await this.write({});
  }

  unrecordedErrors(): readonly string[] {
    return this.pendingErrors;
  }

  /** Claims ticks up to `claimThrough`, only while the item holds our generation and the claim we last saw. */
  claim(
    claimThrough: number,
    firstDueAt: number,
    expectedClaim: number | undefined,
  ): Promise<WriteOutcome | 'failed'> {
    return this.send(
      { claimedSeq: claimThrough, nextTickAt: iso(firstDueAt) },
      { claimedSeq: expectedClaim },
    );
  }

  async write(
    record: RoundRecord,
    options: { onlyIfFired?: boolean; whileNotRunning?: boolean } = {},
  ): Promise<WriteOutcome | 'failed' | 'nothing-to-write'> {
    if (options.onlyIfFired && !this.firedSinceWrite && !this.hasNews()) return 'nothing-to-write';
    return this.send(record, { whileNotRunning: options.whileNotRunning });
  }

  private hasNews(): boolean {
    return (
      this.pendingErrors.length > 0 ||
      this.skippedSinceWrite > 0 ||
      this.failedFiresSinceWrite > 0 ||
      this.overlapSkipsSinceWrite > 0 ||
      this.lastFinished !== undefined ||
      this.loopStartPending
    );
  }

  private async send(
    record: RoundRecord,
    conditions: Omit<WriteGuard, 'generation'>,
  ): Promise<WriteOutcome | 'failed'> {
    // Only the owner of the poller's generation writes on its item.
    if (this.generation === undefined) return 'superseded';
    const guard: WriteGuard = { ...conditions, generation: this.generation };
    const message = joinProblems(this.pendingErrors);
    const newError = message !== '' && message !== this.recordedError;
    const now = this.deps.clock.now();
    const full: RoundRecord = {
      ...record,
      executionArn: this.executionId,
      heartbeatAt: iso(now),
      ...(this.lastFired ? { seq: this.lastFired.seq, lastTickAt: this.lastFired.scheduledAt } : {}),
      ...(this.skippedSinceWrite > 0 ? { skippedTicksAdded: this.skippedSinceWrite } : {}),
      ...(this.failedFiresSinceWrite > 0 ? { failedFiresAdded: this.failedFiresSinceWrite } : {}),
      ...(this.overlapSkipsSinceWrite > 0 ? { overlapSkipsAdded: this.overlapSkipsSinceWrite } : {}),
      ...(this.lastFinished
        ? { lastFinishedSeq: this.lastFinished.seq, lastFireMs: this.lastFinished.durationMs }
        : {}),
      ...(newError ? { lastError: { message, at: iso(now) } } : {}),
    };
    try {
      const outcome = await this.deps.table.recordRound(this.pollerId, full, guard);
      const loopStarted = this.loopStartPending;
      this.loopStartPending = false;
      if (outcome === 'written') {
        this.pendingErrors = [];
        this.firedSinceWrite = false;
        this.skippedSinceWrite = 0;
        this.failedFiresSinceWrite = 0;
        this.overlapSkipsSinceWrite = 0;
        this.lastFinished = undefined;
        if (newError) this.recordedError = message;
        if (loopStarted) this.metrics?.noteLoopStart(now);
      } else {
        this.log.warn('write refused by the fencing condition', {
          outcome,
          generation: guard.generation,
        });
      }
      return outcome;
    } catch (error) {
      this.log.error('could not record on the control item', {
        error: describeCause(error),
      });
      return 'failed';
    }
  }
}

const iso = (epochMs: number) => new Date(epochMs).toISOString();

/** Whole-second ISO timestamp: a Wait state drops milliseconds anyway, and this keeps the intent visible. */
export function isoSecond(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
