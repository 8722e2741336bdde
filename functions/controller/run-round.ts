import type { LambdaClient } from '@aws-sdk/client-lambda';
import { DEFAULT_TIMING, planRound, type Timing } from '../scheduling/plan-round';
import { type Clock, sleepUntil } from '../shared/clock';
import type { ControllerOutput, LoopState } from '../shared/contract';
import { FIELD } from '../shared/contract';
import { readConfig } from '../shared/control-item';
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
}

/**
 * One controller round: read the control item, decide, sleep to the exact millisecond, fire the worker, record.
 * Only the table read may throw (nothing has been fired yet, so Step Functions can retry safely); after a fire,
 * failures are recorded and logged but never thrown, so a retry can never fire the same tick twice.
 */
export async function runRound(event: unknown, deps: ControllerDeps): Promise<ControllerOutput> {
  const { table, clock, log } = deps;
  let input: ReturnType<typeof parseControllerInput>;
  try {
    input = parseControllerInput(event);
  } catch (error) {
    if (!(error instanceof InvalidControllerInputError)) throw error;
    log.error('invalid controller input, stopping', { pollerId: error.pollerId, error: error.message });
    return { pollerId: error.pollerId, action: 'stop', reason: error.message, wakeAt: isoSecond(clock.now()), waitSeconds: 0 };
  }
  const { pollerId, executionId } = input;

  const item = await table.read(pollerId);
  const reading = item === undefined ? 'missing' : readConfig(pollerId, item, input.loop?.config);
  const errors = reading === 'missing' ? [] : reading.problems.map((problem) => problem.message);
  if (input.previousFailure) errors.push(input.previousFailure);
  const lastSeqOnItem = Number(item?.[FIELD.seq]?.N ?? 0);

  const plan = planRound({
    pollerId,
    loop: input.loop,
    reading,
    lastSeqOnItem: Number.isSafeInteger(lastSeqOnItem) && lastSeqOnItem > 0 ? lastSeqOnItem : 0,
    executionId,
    historyBudget: input.historyBudget,
    previousRoundFailed: input.previousRoundFailed,
    nowMs: clock.now(),
    timing: deps.timing ?? DEFAULT_TIMING,
  });

  if (plan.kind === 'stop') {
    log.info('loop stopped', { pollerId, reason: plan.reason, executionId });
    if (item !== undefined) {
      await recordSafely(deps, pollerId, { stoppedReason: plan.reason, ...errorRecord(errors, clock) });
    }
    return { pollerId, action: 'stop', reason: plan.reason, wakeAt: isoSecond(clock.now()), waitSeconds: 0 };
  }

  if (plan.kind === 'fire') {
    await sleepUntil(clock, plan.dueAt);
    const target = plan.config.target ?? deps.defaultTarget;
    const scheduledAt = new Date(plan.dueAt).toISOString();
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
      errors.push(error.message);
    }
    await recordSafely(deps, pollerId, {
      seq: plan.seq,
      lastTickAt: scheduledAt,
      nextTickAt: nextTickIso(plan.next),
      skippedTicksAdded: plan.skipped,
      executionArn: executionId,
      stoppedReason: null,
      ...errorRecord(errors, clock),
    });
  } else {
    await recordSafely(deps, pollerId, { executionArn: executionId, stoppedReason: null, ...errorRecord(errors, clock) });
  }

  const now = clock.now();
  return {
    pollerId,
    action: plan.restart ? 'restart' : 'wait',
    wakeAt: isoSecond(plan.wakeAt),
    waitSeconds: Math.max(0, Math.ceil((plan.wakeAt - now) / 1000)),
    loop: plan.next,
  };
}

function nextTickIso(loop: LoopState): string {
  return new Date(loop.anchorAt + (loop.nextSeq - loop.anchorSeq) * loop.config.intervalMs).toISOString();
}

function errorRecord(errors: readonly string[], clock: Clock): Pick<RoundRecord, 'lastError'> {
  if (errors.length === 0) return {};
  return { lastError: { message: errors.join('; '), at: new Date(clock.now()).toISOString() } };
}

/** After a fire, a failed write must not fail the round (a retry would fire again): log it and carry on. */
async function recordSafely(deps: ControllerDeps, pollerId: string, record: RoundRecord): Promise<void> {
  try {
    const itemExists = await deps.table.recordRound(pollerId, record);
    if (!itemExists) deps.log.warn('control item deleted during the round; nothing recorded', { pollerId });
  } catch (error) {
    deps.log.error('could not record the round on the control item', { pollerId, error: describeCause(error) });
  }
}

/** Whole-second ISO timestamp: a Wait state drops milliseconds anyway, and this keeps the intent visible. */
function isoSecond(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
