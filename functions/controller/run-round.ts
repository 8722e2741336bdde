import type { LambdaClient } from '@aws-sdk/client-lambda';
import { CONTROLLER_SIZE, type LambdaSize, sustainedIntervalMs } from '../scheduling/cost-model';
import { historyEventsBeforeRound } from '../scheduling/history-budget';
import {
  closeRound,
  DEFAULT_TIMING,
  handOverDue,
  planContinuation,
  planTick,
  skipPastClaim,
  type Timing,
  withholdLateTick,
} from '../scheduling/plan-round';
import { tickDueAt } from '../scheduling/tick-schedule';
import { type Clock, sleepUntil } from '../shared/clock';
import {
  type ControllerOutput,
  FIELD,
  type LoopState,
  type PollerConfig,
  STOP_REASON,
} from '../shared/contract';
import { configOf, type PollerItem } from '../shared/control-item';
import type { ControlTable, RoundRecord, WriteGuard, WriteOutcome } from '../shared/control-table';
import {
  ControlTableUnavailableError,
  describeCause,
  HandOverRequestedSignal,
  InvalidControllerInputError,
  PollerStoppedSignal,
  WorkerInvokeError,
} from '../shared/errors';
import type { Logger } from '../shared/logger';
import { decideStart } from '../shared/loop-ownership';
import { fireWorker, warmConnection } from '../shared/worker-invoker';
import { parseControllerInput } from './parse-input';

export interface ControllerDeps {
  readonly table: ControlTable;
  readonly lambda: LambdaClient;
  /** The stack's worker, fired when the item names no `target`. */
  readonly defaultTarget: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly timing?: Timing;
  /** Memory and architecture of this controller, for the stay-awake/Wait-state break-even. */
  readonly size?: LambdaSize;
}

/** When the invocation must have handed back by (epoch ms); asked again before every tick. */
export type Deadline = () => number;

/**
 * A connection to Lambda idle longer than this may have been closed (by the service, or while the sandbox was
 * frozen): warm it before the next tick instead of paying a new TLS handshake on the tick.
 */
const IDLE_CONNECTION_MS = 15_000;

/** A write refused because the item changed is followed by a fresh read and a new decision, this often at most. */
const MAX_REFUSED_WRITES = 3;

/**
 * One controller invocation (one Step Functions round). It reads the control item before every tick, sleeps to
 * the exact millisecond, fires the worker, and either stays awake for the next tick (below the break-even
 * interval) or hands back to a Wait state.
 *
 * Never twice: a new loop takes a new generation on the item, and every tick is fired only under a claim that a
 * conditional write made for this generation; a loop that sees a newer generation, or loses a claim, ends as
 * superseded without firing. Only a read before the first fire may throw (Step Functions then retries the round
 * with nothing fired); after a fire, failures are recorded and the round hands back instead.
 */
export async function runRound(
  event: unknown,
  deps: ControllerDeps,
  deadline: Deadline,
): Promise<ControllerOutput> {
  const { table, clock } = deps;
  const timing = deps.timing ?? DEFAULT_TIMING;
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
  const progress = new ProgressRecorder(deps, log, pollerId, executionId);
  if (input.previousFailure) progress.noteError(input.previousFailure);

  // Taken once, at the start: later, a long stay-awake round would look like many failed rounds.
  const eventsBeforeRound = historyEventsBeforeRound(input, clock.now());
  if (
    input.loop !== undefined &&
    !input.handOverJustFailed &&
    handOverDue(input.loop, executionId, eventsBeforeRound)
  ) {
    // Before anything is fired, so the next execution continues from exactly this loop state.
    await progress.flushErrors();
    const historyEvents = input.loop.historyEvents + eventsBeforeRound;
    log
      .child({ executionId, generation: input.loop.generation })
      .info('handing over to a fresh execution', { historyEvents, eventsBeforeRound });
    throw new HandOverRequestedSignal(pollerId, historyEvents, input.loop.historyBudget);
  }

  let loop: LoopState | undefined = input.loop;
  /** The generation this invocation owns: the loop's, or the one its start took (undefined until then). */
  let owned: number | undefined = loop?.generation;
  progress.own(owned);
  let firedThisRound = 0;
  let claimedThisRound = false;
  /** When this invocation last talked to Lambda; a new invocation may come out of a frozen sandbox. */
  let lambdaUsedAt = Number.NEGATIVE_INFINITY;
  /** Writes refused because the item changed under us; each is followed by a fresh read, this many at most. */
  let refusedWrites = 0;
  /**
   * Ends the loop by throwing its signal. Only the owner of the poller's generation records why; anyone else
   * leaves the item alone. Returns instead when the record was refused because the item changed (running turned
   * true again, or another loop took over): the caller reads the item again and decides from what it says.
   */
  const stop = async (reason: string): Promise<void> => {
    if (owned !== undefined && reason !== STOP_REASON.superseded) {
      // A stop for running=false is recorded only while it holds, so a start racing it finds a live loop.
      const outcome = await progress.write(
        { stoppedReason: reason },
        { whileNotRunning: reason === STOP_REASON.runningFalse },
      );
      if (outcome === 'superseded' && ++refusedWrites < MAX_REFUSED_WRITES) return;
      if (outcome === 'failed') {
        // The item would still show a live loop: let Step Functions retry the round, which reads the item again
        // and claims past whatever this invocation fired.
        throw new ControlTableUnavailableError(pollerId, table.tableName, 'recording the stop failed');
      }
    }
    progress.logSummary('stopping');
    log.child({ executionId, generation: owned }).info('loop stopped', { reason });
    throw new PollerStoppedSignal(pollerId, reason);
  };

  for (;;) {
    let item: PollerItem | undefined;
    try {
      item = await table.read(pollerId);
    } catch (error) {
      if (firedThisRound === 0 || loop === undefined) throw error;
      // Ticks were fired in this invocation: a retry would fire them again. Hand back; the next round retries the read.
      progress.noteError(describeCause(error));
      return handBack(loop, clock.now(), eventsBeforeRound, progress, clock);
    }
    if (item === undefined) {
      await stop(STOP_REASON.itemMissing);
      continue;
    }

    if (owned === undefined) {
      // The first round of an execution: it owns the poller when its start took the generation for it (the item
      // names this execution); otherwise it is a console start and follows the start rule itself.
      const itemGeneration = item.generation;
      if (itemGeneration === undefined || item.executionArn !== executionId) {
        const taken = await takeForConsoleStart(pollerId, executionId, item, deps, log);
        if (taken.kind === 'taken') {
          owned = taken.generation;
          progress.own(owned);
        } else if (taken.kind === 'stop') {
          await stop(taken.reason);
        } else if (++refusedWrites >= MAX_REFUSED_WRITES) {
          await stop(STOP_REASON.superseded);
        }
        continue;
      }
      owned = itemGeneration;
      progress.own(owned);
    }
    const ownership = checkOwnership(item, owned, executionId, loop, claimedThisRound);
    if (ownership.kind === 'superseded') await stop(STOP_REASON.superseded);
    if (ownership.kind === 'skip-past-claim' && loop !== undefined)
      loop = skipPastClaim(loop, ownership.claimedOnItem);

    const reading = configOf(item.operator, loop?.config);
    for (const problem of reading.problems) progress.noteError(problem.message);
    const tooFast = cadenceWarning(pollerId, reading.config, deps.size ?? CONTROLLER_SIZE);
    if (tooFast !== undefined) progress.noteError(tooFast);
    progress.observeItem(item);

    const plan = planTick({
      pollerId,
      loop,
      reading,
      lastSeqOnItem: highestSeqOn(item),
      generation: owned,
      executionId,
      historyBudget: input.historyBudget,
      claimRequired: !claimedThisRound,
      nowMs: clock.now(),
      timing,
    });

    if (plan.kind === 'stop') {
      await stop(plan.reason);
      continue;
    }

    if (plan.kind === 'fire') {
      if (plan.claimThrough !== undefined) {
        const outcome = await progress.claim(
          plan.claimThrough,
          plan.dueAt,
          loop?.claimedThroughSeq ?? item.claimedSeq,
        );
        if (outcome === 'missing') {
          await stop(STOP_REASON.itemMissing);
          continue;
        }
        // The item changed between our read and our write: read again (at the top) and decide from what it says.
        if (outcome === 'superseded') {
          if (++refusedWrites >= MAX_REFUSED_WRITES) await stop(STOP_REASON.superseded);
          continue;
        }
        if (outcome === 'failed') {
          // Unclaimed ticks are never fired: hand back and claim again next round.
          if (loop !== undefined) return handBack(loop, clock.now(), eventsBeforeRound, progress, clock);
          throw new ControlTableUnavailableError(
            pollerId,
            table.tableName,
            'the first claim could not be written',
          );
        }
        claimedThisRound = true;
      }
      if (plan.skipped > 0) progress.noteSkipped(plan.skipped);
      const target = plan.config.target ?? deps.defaultTarget;
      // Not awaited before the tick: a slow warm-up must never delay it (the fire opens its own connection then).
      const warming =
        clock.now() - lambdaUsedAt > IDLE_CONNECTION_MS ? warmConnection(deps.lambda, target) : undefined;
      const scheduledAt = iso(plan.dueAt);
      let releasedAt = Number.NaN;
      let withheld: LoopState | undefined;
      const hold = {
        openAt: () => sleepUntil(clock, plan.dueAt - timing.sendOpenLeadMs),
        releaseAt: async () => {
          await sleepUntil(clock, plan.dueAt);
          releasedAt = clock.now();
          withheld = withholdLateTick(plan.next, plan.seq, releasedAt, timing.sendAllowanceMs);
          return withheld === undefined;
        },
      };
      let delivery: 'sent' | 'withheld' | 'failed';
      try {
        // Prepared and signed now, sent at the tick (or withheld if it can no longer go out on time).
        delivery = await fireWorker(
          deps.lambda,
          target,
          {
            pollerId,
            seq: plan.seq,
            scheduledAt,
            ...(plan.config.payload ? { payload: plan.config.payload } : {}),
          },
          hold,
        );
        if (delivery === 'sent') progress.noteDelivered(releasedAt - plan.dueAt);
      } catch (error) {
        if (!(error instanceof WorkerInvokeError)) throw error;
        log.error('tick not delivered', { seq: plan.seq, target, error: error.message });
        progress.noteError(error.message);
        progress.noteFailedFire();
        delivery = 'failed';
      }
      await warming;
      lambdaUsedAt = clock.now();
      if (delivery === 'withheld' && withheld !== undefined) {
        progress.noteSkipped(withheld.skippedTicks - plan.next.skippedTicks);
        loop = withheld;
      } else {
        progress.noteFired(plan.seq, scheduledAt);
        firedThisRound += 1;
        loop = plan.next;
      }
    } else {
      loop = plan.next;
    }
    await progress.flushErrors();

    const continuation = planContinuation(loop, clock.now(), deadline(), timing, deps.size);
    if (continuation.kind === 'hand-back') {
      return handBack(loop, continuation.wakeAt, eventsBeforeRound, progress, clock);
    }
    await sleepUntil(clock, continuation.readAt);
  }
}

async function handBack(
  loop: LoopState,
  wakeAtMs: number,
  eventsBeforeRound: number,
  progress: ProgressRecorder,
  clock: Clock,
): Promise<ControllerOutput> {
  const next = closeRound(loop, progress.executionId, eventsBeforeRound);
  await progress.write({ nextTickAt: iso(tickDueAt(next, next.nextSeq)) }, { onlyIfFired: true });
  progress.logSummary('handing back');
  return {
    pollerId: progress.pollerId,
    wakeAt: isoSecond(wakeAtMs),
    waitSeconds: Math.max(0, Math.ceil((wakeAtMs - clock.now()) / 1000)),
    loop: next,
    ...(progress.unrecordedErrors().length > 0 ? { pendingErrors: progress.unrecordedErrors() } : {}),
  };
}

/**
 * A cadence the controller's size cannot keep (its CPU share is too small to read, plan and fire that often) is
 * run all the same, but the operator is told why ticks come late or are skipped, and what to change.
 */
function cadenceWarning(
  pollerId: string,
  config: PollerConfig | undefined,
  size: LambdaSize,
): string | undefined {
  const sustainedMs = sustainedIntervalMs(size.memoryMb);
  if (config === undefined || !config.running || config.intervalMs >= sustainedMs) return undefined;
  return `poller '${pollerId}': ${FIELD.waitSeconds} ${config.intervalMs / 1000} is below the ${sustainedMs / 1000} s a ${size.memoryMb} MB controller sustains; ticks may come late or be skipped (raise the stack's ControllerMemory parameter)`;
}

type ConsoleStart =
  | { readonly kind: 'taken'; readonly generation: number }
  | { readonly kind: 'stop'; readonly reason: string }
  /** The take was refused: the item changed since it was read. */
  | { readonly kind: 'retry' };

/**
 * A first round the item does not name (a console StartExecution, with any input) starts the loop by the same
 * rule as every other start (loop-ownership.ts): it takes a new generation only when no loop is alive, and
 * otherwise ends at once, leaving the poller to the live loop. Nothing is fired or recorded before the take.
 */
async function takeForConsoleStart(
  pollerId: string,
  executionId: string,
  item: PollerItem,
  deps: ControllerDeps,
  log: Logger,
): Promise<ConsoleStart> {
  const nowMs = deps.clock.now();
  const decision = decideStart(item, nowMs);
  if (decision.kind === 'skip') return { kind: 'stop', reason: decision.reason };
  if (decision.kind === 'alive') {
    const by = decision.executionArn ? `execution ${decision.executionArn}` : 'an earlier start';
    return {
      kind: 'stop',
      reason: `${STOP_REASON.alreadyRunning}: ${by} (generation ${decision.generation}) owns poller '${pollerId}'`,
    };
  }
  // A failed write throws: Step Functions retries the round, and nothing was fired.
  const outcome = await deps.table.takeGeneration(pollerId, {
    generation: decision.generation,
    expected: decision.expected,
    executionArn: executionId,
    at: iso(nowMs),
  });
  if (outcome.kind === 'taken') {
    log.info('console start took the poller', { generation: decision.generation, why: decision.why });
    return { kind: 'taken', generation: decision.generation };
  }
  return outcome.kind === 'missing' ? { kind: 'stop', reason: STOP_REASON.itemMissing } : { kind: 'retry' };
}

type Ownership =
  | { readonly kind: 'owner' }
  | { readonly kind: 'superseded' }
  /** An earlier attempt of this round claimed further than the loop state knows (and may have fired those ticks). */
  | { readonly kind: 'skip-past-claim'; readonly claimedOnItem: number };

/**
 * Whether the item still says this invocation owns the poller. The generation is the fencing token. The item
 * also names the loop's execution (every write of a loop names its own); a hand-over changes it from the loop's
 * previous execution to the next, nothing else does. That tells this loop from a newer one whose generation has
 * the same number, as when an item is deleted and created again and the generations start anew.
 */
function checkOwnership(
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
  }

  noteFailedFire(): void {
    this.failedFiresSinceWrite += 1;
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
    if (this.pendingErrors.join('; ') === this.recordedError) this.pendingErrors = [];
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
    return this.pendingErrors.length > 0 || this.skippedSinceWrite > 0 || this.failedFiresSinceWrite > 0;
  }

  private async send(
    record: RoundRecord,
    conditions: Omit<WriteGuard, 'generation'>,
  ): Promise<WriteOutcome | 'failed'> {
    // Only the owner of the poller's generation writes on its item.
    if (this.generation === undefined) return 'superseded';
    const guard: WriteGuard = { ...conditions, generation: this.generation };
    const message = this.pendingErrors.join('; ');
    const newError = message !== '' && message !== this.recordedError;
    const now = this.deps.clock.now();
    const full: RoundRecord = {
      ...record,
      executionArn: this.executionId,
      heartbeatAt: iso(now),
      ...(this.lastFired ? { seq: this.lastFired.seq, lastTickAt: this.lastFired.scheduledAt } : {}),
      ...(this.skippedSinceWrite > 0 ? { skippedTicksAdded: this.skippedSinceWrite } : {}),
      ...(this.failedFiresSinceWrite > 0 ? { failedFiresAdded: this.failedFiresSinceWrite } : {}),
      ...(newError ? { lastError: { message, at: iso(now) } } : {}),
    };
    try {
      const outcome = await this.deps.table.recordRound(this.pollerId, full, guard);
      if (outcome === 'written') {
        this.pendingErrors = [];
        this.firedSinceWrite = false;
        this.skippedSinceWrite = 0;
        this.failedFiresSinceWrite = 0;
        if (newError) this.recordedError = message;
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

/** A new loop starts above every seq the item says was fired or claimed, so no seq is ever reused. */
function highestSeqOn(item: PollerItem): number {
  return Math.max(0, item.seq ?? 0, item.claimedSeq ?? 0);
}

const iso = (epochMs: number) => new Date(epochMs).toISOString();

/** Whole-second ISO timestamp: a Wait state drops milliseconds anyway, and this keeps the intent visible. */
function isoSecond(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
