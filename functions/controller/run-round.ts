import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { LambdaSize } from '../scheduling/cost-model';
import { historyEventsBeforeRound } from '../scheduling/history-budget';
import {
  closeRound,
  DEFAULT_TIMING,
  handOverDue,
  planContinuation,
  planTick,
  skipPastClaim,
  type Timing,
} from '../scheduling/plan-round';
import { tickDueAt } from '../scheduling/tick-schedule';
import { type Clock, sleepUntil } from '../shared/clock';
import { type ControllerOutput, FIELD, type LoopState, STOP_REASON } from '../shared/contract';
import { type RawItem, readConfig } from '../shared/control-item';
import type { ControlTable, RoundRecord, WriteGuard, WriteOutcome } from '../shared/control-table';
import {
  describeCause,
  HandOverRequestedSignal,
  InvalidControllerInputError,
  PollerStoppedSignal,
  WorkerInvokeError,
} from '../shared/errors';
import type { Logger } from '../shared/logger';
import { fireWorker } from '../shared/worker-invoker';
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

/** A concurrent start may win the race between our read and our claim; read again and retry this often. */
const MAX_CLAIM_ATTEMPTS = 3;

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
  const { table, clock, log } = deps;
  const timing = deps.timing ?? DEFAULT_TIMING;
  let input: ReturnType<typeof parseControllerInput>;
  try {
    input = parseControllerInput(event);
  } catch (error) {
    if (!(error instanceof InvalidControllerInputError)) throw error;
    log.error('invalid controller input, stopping', { pollerId: error.pollerId, error: error.message });
    throw new PollerStoppedSignal(error.pollerId, error.message);
  }
  const { pollerId, executionId } = input;
  const progress = new ProgressRecorder(deps, pollerId, executionId, input.loop?.generation);
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
    log.info('handing over to a fresh execution', {
      pollerId,
      executionId,
      historyEvents,
      eventsBeforeRound,
    });
    throw new HandOverRequestedSignal(pollerId, historyEvents, input.loop.historyBudget);
  }

  let loop: LoopState | undefined = input.loop;
  let firedThisRound = 0;
  let claimedThisRound = false;
  let claimAttempts = 0;
  /** The item's generation when a fresh take failed; undefined while no take failed. */
  let failedTake: { readonly itemGeneration: number | undefined } | undefined;
  const stop = async (reason: string, item: RawItem | undefined) => {
    log.info('loop stopped', { pollerId, reason, executionId, generation: loop?.generation });
    // A superseded loop leaves the item to the loop that superseded it.
    if (item !== undefined && reason !== STOP_REASON.superseded)
      await progress.write({ stoppedReason: reason });
    return new PollerStoppedSignal(pollerId, reason);
  };

  for (;;) {
    let item: RawItem | undefined;
    try {
      item = await table.read(pollerId);
    } catch (error) {
      if (firedThisRound === 0 || loop === undefined) throw error;
      // Ticks were fired in this invocation: a retry would fire them again. Hand back; the next round retries the read.
      progress.noteError(describeCause(error));
      return handBack(loop, clock.now(), eventsBeforeRound, progress, clock);
    }
    const itemGeneration = numberField(item, FIELD.generation);
    if (loop !== undefined && item !== undefined) {
      if (itemGeneration !== loop.generation) throw await stop(STOP_REASON.superseded, item);
      const claimedOnItem = numberField(item, FIELD.claimedSeq) ?? 0;
      if (claimedOnItem > loop.claimedThroughSeq) {
        // Another invocation of this loop claimed past ours: if we claimed already we are the stale one;
        // if not, an earlier attempt of this round did and may have fired those ticks before it failed.
        if (claimedThisRound) throw await stop(STOP_REASON.superseded, item);
        loop = skipPastClaim(loop, claimedOnItem);
      }
    }
    const reading = item === undefined ? 'missing' : readConfig(pollerId, item, loop?.config);
    if (reading !== 'missing') for (const problem of reading.problems) progress.noteError(problem.message);
    progress.observeItem(item, loop === undefined ? itemGeneration : loop.generation);

    // A retry of this very execution's first round, after it took its generation and died: carry on as it.
    const resumingOwnStart =
      loop === undefined &&
      input.generation !== undefined &&
      itemGeneration === input.generation &&
      item?.[FIELD.executionArn]?.S === executionId;
    const generation = loop?.generation ?? input.generation ?? (itemGeneration ?? 0) + 1;
    if (loop === undefined && !resumingOwnStart) {
      if (itemGeneration !== undefined && itemGeneration >= generation)
        throw await stop(STOP_REASON.superseded, item);
      // A concurrent start took a generation between our read and our take: it wins; chasing it with the next
      // generation would only make the racing starts supersede each other in turn.
      if (failedTake !== undefined && itemGeneration !== failedTake.itemGeneration) {
        throw await stop(STOP_REASON.superseded, item);
      }
    }
    const plan = planTick({
      pollerId,
      loop,
      reading,
      lastSeqOnItem: highestSeqOn(item),
      generation,
      executionId,
      historyBudget: input.historyBudget,
      claimRequired: !claimedThisRound,
      nowMs: clock.now(),
      timing,
    });

    if (plan.kind === 'stop') throw await stop(plan.reason, item);

    if (plan.kind === 'fire') {
      if (plan.claimThrough !== undefined) {
        const outcome = await progress.claim(
          plan.claimThrough,
          plan.dueAt,
          loop,
          numberField(item, FIELD.claimedSeq),
          generation,
          resumingOwnStart,
        );
        if (outcome === 'superseded' && loop === undefined) failedTake = { itemGeneration };
        if (outcome === 'missing') throw await stop(STOP_REASON.itemMissing, undefined);
        // The item changed between our read and our write: read again (at the top) and decide from what it says.
        if (outcome === 'superseded' && ++claimAttempts < MAX_CLAIM_ATTEMPTS) continue;
        if (outcome === 'superseded') throw await stop(STOP_REASON.superseded, undefined);
        if (outcome === 'failed') {
          // Unclaimed ticks are never fired: hand back and claim again next round.
          if (loop !== undefined) return handBack(loop, clock.now(), eventsBeforeRound, progress, clock);
          throw new Error(
            `poller '${pollerId}': could not take generation ${generation}: the claim write failed`,
          );
        }
        claimedThisRound = true;
      }
      if (plan.skipped > 0) progress.noteSkipped(plan.skipped);
      await sleepUntil(clock, plan.dueAt);
      const target = plan.config.target ?? deps.defaultTarget;
      const scheduledAt = iso(plan.dueAt);
      const invokedAt = clock.now();
      try {
        await fireWorker(deps.lambda, target, {
          pollerId,
          seq: plan.seq,
          scheduledAt,
          ...(plan.config.payload ? { payload: plan.config.payload } : {}),
        });
        log.info('tick fired', {
          pollerId,
          seq: plan.seq,
          scheduledAt,
          precisionMs: invokedAt - plan.dueAt,
          skipped: plan.skipped,
        });
      } catch (error) {
        if (!(error instanceof WorkerInvokeError)) throw error;
        log.error('tick not delivered', { pollerId, seq: plan.seq, target, error: error.message });
        progress.noteError(error.message);
        progress.noteFailedFire();
      }
      progress.noteFired(plan.seq, scheduledAt);
      firedThisRound += 1;
    }
    loop = plan.next;
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
  return {
    pollerId: progress.pollerId,
    wakeAt: isoSecond(wakeAtMs),
    waitSeconds: Math.max(0, Math.ceil((wakeAtMs - clock.now()) / 1000)),
    loop: next,
    ...(progress.unrecordedErrors().length > 0 ? { pendingErrors: progress.unrecordedErrors() } : {}),
  };
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

  constructor(
    private readonly deps: ControllerDeps,
    readonly pollerId: string,
    readonly executionId: string,
    private generation: number | undefined,
  ) {}

  observeItem(item: RawItem | undefined, generation: number | undefined): void {
    this.recordedError = item?.[FIELD.lastError]?.M?.message?.S;
    this.generation = generation;
  }

  noteError(message: string): void {
    if (!this.pendingErrors.includes(message)) this.pendingErrors.push(message);
  }

  noteSkipped(count: number): void {
    this.skippedSinceWrite += count;
  }

  noteFailedFire(): void {
    this.failedFiresSinceWrite += 1;
  }

  noteFired(seq: number, scheduledAt: string): void {
    this.lastFired = { seq, scheduledAt };
    this.firedSinceWrite = true;
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

  /**
   * Claims ticks up to `claimThrough`: a new loop takes `generation` (only if nobody took it or a higher one and
   * nobody claimed since `claimedOnItem` was read); a running loop extends its own claim.
   */
  async claim(
    claimThrough: number,
    firstDueAt: number,
    loop: LoopState | undefined,
    claimedOnItem: number | undefined,
    generation: number,
    resumingOwnStart = false,
  ): Promise<WriteOutcome | 'failed'> {
    const guard: WriteGuard =
      loop !== undefined
        ? { kind: 'hold', generation: loop.generation, claimedSeq: loop.claimedThroughSeq }
        : resumingOwnStart
          ? { kind: 'hold', generation, claimedSeq: claimedOnItem }
          : { kind: 'take', generation, claimedSeq: claimedOnItem };
    const outcome = await this.send(
      { claimedSeq: claimThrough, nextTickAt: iso(firstDueAt), stoppedReason: null },
      guard,
    );
    if (outcome === 'written') this.generation = generation;
    return outcome;
  }

  async write(record: RoundRecord, options: { onlyIfFired?: boolean } = {}): Promise<void> {
    if (options.onlyIfFired && !this.firedSinceWrite && !this.hasNews()) return;
    await this.send(record, { kind: 'hold', generation: this.generation });
  }

  private hasNews(): boolean {
    return this.pendingErrors.length > 0 || this.skippedSinceWrite > 0 || this.failedFiresSinceWrite > 0;
  }

  private async send(record: RoundRecord, guard: WriteGuard): Promise<WriteOutcome | 'failed'> {
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
        this.deps.log.warn('write refused by the fencing condition', {
          pollerId: this.pollerId,
          outcome,
          guard: guard.kind,
        });
      }
      return outcome;
    } catch (error) {
      this.deps.log.error('could not record on the control item', {
        pollerId: this.pollerId,
        error: describeCause(error),
      });
      return 'failed';
    }
  }
}

function numberField(item: RawItem | undefined, field: string): number | undefined {
  const value = Number(item?.[field]?.N);
  return item?.[field]?.N !== undefined && Number.isSafeInteger(value) ? value : undefined;
}

/** A new loop starts above every seq the item says was fired or claimed, so no seq is ever reused. */
function highestSeqOn(item: RawItem | undefined): number {
  return Math.max(0, numberField(item, FIELD.seq) ?? 0, numberField(item, FIELD.claimedSeq) ?? 0);
}

const iso = (epochMs: number) => new Date(epochMs).toISOString();

/** Whole-second ISO timestamp: a Wait state drops milliseconds anyway, and this keeps the intent visible. */
function isoSecond(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
