import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { StartInput } from '../shared/contract';
import type { PollerItem } from '../shared/control-item';
import { LoopStartError } from '../shared/errors';
import {
  decideStart,
  executionArnFor,
  executionNameOf,
  isStartExecutionName,
  startExecutionName,
} from '../shared/loop-ownership';
import type { LoopTable } from '../shared/loop-table';

export interface LoopStarterDeps {
  readonly table: LoopTable;
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  /** Passed in every start input; the local stack's tests use it to force early self-restarts. */
  readonly historyBudget?: number;
  /** The time a start writes as the loop's first heartbeat (epoch ms); the system clock by default. */
  readonly now?: () => number;
}

export type StartOutcome =
  | { readonly kind: 'started'; readonly executionArn: string; readonly generation: number }
  /** A loop is alive (or being started by a racing start): this start left it alone. */
  | {
      readonly kind: 'already-running';
      readonly executionArn: string | undefined;
      readonly generation: number;
    }
  | { readonly kind: 'skipped'; readonly reason: string };

export interface StartOptions {
  /** The item as just read (the watchdog's scan); read again when the first take finds it changed. */
  readonly item?: PollerItem | undefined;
  /** Set by the watchdog: the start is a restart, counted and recorded on the item with this reason. */
  readonly restartReason?: string | undefined;
  /** An execution Step Functions says has ended without handing over (`ctl start` asks): its loop is dead. */
  readonly deadExecutionArn?: string | undefined;
}

/** A racing start can win between our read and our take; decide again from what it wrote, this often. */
const MAX_TAKE_ATTEMPTS = 3;

/**
 * Starts the loop of a poller whose item says running=true, unless a loop is alive (loop-ownership.ts): the one
 * start rule of the stream starter, the watchdog, `ctl start` and the local stack.
 *
 * The start first takes a new generation on the item (a conditional write naming the execution it is about to
 * start), then starts that execution. A racing start that loses the take finds the winner alive and asks Step
 * Functions for the winner's execution under its recorded name, which Step Functions keeps to one execution; so
 * does a retry after a crash between the take and the start. A poller without a valid configuration is not
 * started: the problem is recorded on the item instead (a start would only stop again).
 */
export async function startLoop(
  pollerId: string,
  deps: LoopStarterDeps,
  options: StartOptions = {},
): Promise<StartOutcome> {
  const now = deps.now ?? Date.now;
  let item = options.item ?? (await deps.table.read(pollerId));
  for (let attempt = 1; ; attempt += 1) {
    const decision = decideStart(item, now(), options.deadExecutionArn);
    if (decision.kind === 'skip') {
      if (item !== undefined && decision.problems.length > 0) {
        await deps.table.recordError(pollerId, decision.problems.join('; '), new Date(now()).toISOString());
      }
      return { kind: 'skipped', reason: decision.reason };
    }
    if (decision.kind === 'alive') {
      await ensurePendingStart(pollerId, deps, decision.generation, decision.executionArn);
      return {
        kind: 'already-running',
        executionArn: decision.executionArn,
        generation: decision.generation,
      };
    }
    const takenAt = now();
    const name = startExecutionName(pollerId, decision.generation, takenAt);
    const executionArn = executionArnFor(deps.stateMachineArn, name);
    const outcome = await deps.table.takeGeneration(pollerId, {
      generation: decision.generation,
      expected: decision.expected,
      executionArn,
      at: new Date(takenAt).toISOString(),
      restartReason: options.restartReason,
    });
    if (outcome.kind === 'missing') return { kind: 'skipped', reason: 'no control item' };
    if (outcome.kind === 'changed') {
      if (attempt >= MAX_TAKE_ATTEMPTS) {
        return { kind: 'skipped', reason: 'the control item kept changing while the start was deciding' };
      }
      item = outcome.item;
      continue;
    }
    await startExecution(pollerId, deps, name, decision.generation);
    return { kind: 'started', executionArn, generation: decision.generation };
  }
}

/**
 * A live loop whose execution a start (this one's racing twin, or an earlier attempt that crashed) named but may
 * not have started yet: ask for it under that name. Step Functions answers with the running execution, or
 * refuses an existing name; it never makes a second loop. Executions not named by a start (hand-overs, console
 * starts) exist before the item names them, so there is nothing to ask for.
 */
async function ensurePendingStart(
  pollerId: string,
  deps: LoopStarterDeps,
  generation: number,
  executionArn: string | undefined,
): Promise<void> {
  if (executionArn === undefined) return;
  const name = executionNameOf(executionArn);
  if (executionArnFor(deps.stateMachineArn, name) !== executionArn) return;
  if (!isStartExecutionName(name, pollerId, generation)) return;
  await startExecution(pollerId, deps, name, generation);
}

async function startExecution(
  pollerId: string,
  deps: LoopStarterDeps,
  name: string,
  generation: number,
): Promise<void> {
  // The input depends only on the poller and the generation, so a repeated request for the same name is the same
  // request, and Step Functions answers it with the execution already running.
  const input: StartInput = {
    pollerId,
    generation,
    ...(deps.historyBudget !== undefined ? { historyBudget: deps.historyBudget } : {}),
  };
  try {
    await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name,
        input: JSON.stringify(input),
      }),
    );
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) return;
    throw new LoopStartError(pollerId, error);
  }
}
