import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { LambdaSize } from '../scheduling/cost-model';
import { closeRound, DEFAULT_TIMING, planContinuation, planTick, type Timing } from '../scheduling/plan-round';
import { tickDueAt } from '../scheduling/tick-schedule';
import { type Clock, sleepUntil } from '../shared/clock';
import { type ControllerOutput, FIELD, type LoopState } from '../shared/contract';
import { type RawItem, readConfig } from '../shared/control-item';
import type { ControlTable, RoundRecord } from '../shared/control-table';
import { describeCause, InvalidControllerInputError, WorkerInvokeError } from '../shared/errors';
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

/**
 * One controller invocation (one Step Functions round). It reads the control item before every tick, sleeps to
 * the exact millisecond, fires the worker, and either stays awake for the next tick (below the break-even
 * interval) or hands back to a Wait state. Only a read before the first fire may throw (Step Functions then
 * retries the round with nothing fired); after a fire, failures are recorded and the round hands back instead,
 * so a retry can never fire the same tick twice.
 */
/** When the invocation must have handed back by (epoch ms); asked again before every tick. */
export type Deadline = () => number;

export async function runRound(event: unknown, deps: ControllerDeps, deadline: Deadline): Promise<ControllerOutput> {
  const { table, clock, log } = deps;
  const timing = deps.timing ?? DEFAULT_TIMING;
  let input: ReturnType<typeof parseControllerInput>;
  try {
    input = parseControllerInput(event);
  } catch (error) {
    if (!(error instanceof InvalidControllerInputError)) throw error;
    log.error('invalid controller input, stopping', { pollerId: error.pollerId, error: error.message });
    return stopOutput(error.pollerId, error.message, clock);
  }
  const { pollerId, executionId } = input;
  const progress = new ProgressRecorder(deps, pollerId, executionId);
  if (input.previousFailure) progress.noteError(input.previousFailure);

  let loop: LoopState | undefined = input.loop;
  let firedThisRound = 0;
  for (;;) {
    let item: RawItem | undefined;
    try {
      item = await table.read(pollerId);
    } catch (error) {
      if (firedThisRound === 0 || loop === undefined) throw error;
      // Ticks were fired in this invocation: a retry would fire them again. Hand back; the next round retries the read.
      progress.noteError(describeCause(error));
      return handBack(loop, clock.now(), input.previousRoundFailed, progress, clock);
    }
    const reading = item === undefined ? 'missing' : readConfig(pollerId, item, loop?.config);
    if (reading !== 'missing') for (const problem of reading.problems) progress.noteError(problem.message);
    progress.observeItem(item);

    const plan = planTick({
      pollerId,
      loop,
      reading,
      lastSeqOnItem: highestSeqOn(item),
      executionId,
      historyBudget: input.historyBudget,
      nowMs: clock.now(),
      timing,
    });

    if (plan.kind === 'stop') {
      log.info('loop stopped', { pollerId, reason: plan.reason, executionId });
      if (item !== undefined) await progress.write({ stoppedReason: plan.reason });
      return stopOutput(pollerId, plan.reason, clock);
    }

    if (plan.kind === 'fire') {
      if (plan.claimThrough !== undefined) {
        await progress.write({ claimedSeq: plan.claimThrough, nextTickAt: iso(plan.dueAt), stoppedReason: null });
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
        log.info('tick fired', { pollerId, seq: plan.seq, scheduledAt, precisionMs: invokedAt - plan.dueAt, skipped: plan.skipped });
      } catch (error) {
        if (!(error instanceof WorkerInvokeError)) throw error;
        log.error('tick not delivered', { pollerId, seq: plan.seq, target, error: error.message });
        progress.noteError(error.message);
      }
      progress.noteFired(plan.seq, scheduledAt);
      firedThisRound += 1;
    }
    loop = plan.next;
    await progress.flushErrors();

    const continuation = planContinuation(loop, clock.now(), deadline(), timing, deps.size);
    if (continuation.kind === 'hand-back') {
      return handBack(loop, continuation.wakeAt, input.previousRoundFailed, progress, clock);
    }
    await sleepUntil(clock, continuation.readAt);
  }
}

async function handBack(
  loop: LoopState,
  wakeAtMs: number,
  previousRoundFailed: boolean,
  progress: ProgressRecorder,
  clock: Clock,
): Promise<ControllerOutput> {
  const { next, restart } = closeRound(loop, previousRoundFailed);
  await progress.write({ nextTickAt: iso(tickDueAt(next, next.nextSeq)) }, { onlyIfFired: true });
  return {
    pollerId: progress.pollerId,
    action: restart ? 'restart' : 'wait',
    wakeAt: isoSecond(wakeAtMs),
    waitSeconds: Math.max(0, Math.ceil((wakeAtMs - clock.now()) / 1000)),
    loop: next,
  };
}

/**
 * What the controller writes on the item, and when: a claim before the ticks it covers, progress at hand-back,
 * a new error as soon as it appears (not again each tick while it persists). Writes after a fire never throw.
 */
class ProgressRecorder {
  private lastFired: { seq: number; scheduledAt: string } | undefined;
  private firedSinceWrite = false;
  private skippedSinceWrite = 0;
  private pendingErrors: string[] = [];
  private recordedError: string | undefined;

  constructor(
    private readonly deps: ControllerDeps,
    readonly pollerId: string,
    private readonly executionId: string,
  ) {}

  observeItem(item: RawItem | undefined): void {
    this.recordedError = item?.[FIELD.lastError]?.M?.message?.S;
  }

  noteError(message: string): void {
    if (!this.pendingErrors.includes(message)) this.pendingErrors.push(message);
  }

  noteSkipped(count: number): void {
    this.skippedSinceWrite += count;
  }

  noteFired(seq: number, scheduledAt: string): void {
    this.lastFired = { seq, scheduledAt };
    this.firedSinceWrite = true;
  }

  async flushErrors(): Promise<void> {
    if (this.pendingErrors.length === 0) return;
    await this.write({});
  }

  async write(record: RoundRecord, options: { onlyIfFired?: boolean } = {}): Promise<void> {
    const message = this.pendingErrors.join('; ');
    this.pendingErrors = [];
    const newError = message !== '' && message !== this.recordedError;
    if (options.onlyIfFired && !this.firedSinceWrite && !newError && this.skippedSinceWrite === 0) return;
    const now = this.deps.clock.now();
    const full: RoundRecord = {
      ...record,
      executionArn: this.executionId,
      heartbeatAt: iso(now),
      ...(this.lastFired ? { seq: this.lastFired.seq, lastTickAt: this.lastFired.scheduledAt } : {}),
      ...(this.skippedSinceWrite > 0 ? { skippedTicksAdded: this.skippedSinceWrite } : {}),
      ...(newError ? { lastError: { message, at: iso(now) } } : {}),
    };
    try {
      const itemExists = await this.deps.table.recordRound(this.pollerId, full);
      if (!itemExists) this.deps.log.warn('control item deleted during the round; nothing recorded', { pollerId: this.pollerId });
      this.firedSinceWrite = false;
      this.skippedSinceWrite = 0;
      if (newError) this.recordedError = message;
    } catch (error) {
      this.deps.log.error('could not record on the control item', { pollerId: this.pollerId, error: describeCause(error) });
    }
  }
}

/** A new loop starts above every seq the item says was fired or claimed, so no seq is ever reused. */
function highestSeqOn(item: RawItem | undefined): number {
  const values = [item?.[FIELD.seq]?.N, item?.[FIELD.claimedSeq]?.N].map(Number).filter((n) => Number.isSafeInteger(n) && n > 0);
  return Math.max(0, ...values);
}

function stopOutput(pollerId: string, reason: string, clock: Clock): ControllerOutput {
  return { pollerId, action: 'stop', reason, wakeAt: isoSecond(clock.now()), waitSeconds: 0 };
}

const iso = (epochMs: number) => new Date(epochMs).toISOString();

/** Whole-second ISO timestamp: a Wait state drops milliseconds anyway, and this keeps the intent visible. */
function isoSecond(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
