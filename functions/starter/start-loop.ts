import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { executionNameFor, FIELD, type StartInput } from '../shared/contract';
import type { RawItem } from '../shared/control-item';
import type { ControlTable } from '../shared/control-table';
import { describeCause } from '../shared/errors';

export interface LoopStarterDeps {
  readonly table: ControlTable;
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  /** Passed in every start input; the local stack's tests use it to force early self-restarts. */
  readonly historyBudget?: number;
}

export type StartOutcome =
  | { readonly kind: 'started'; readonly executionArn: string; readonly generation: number }
  | { readonly kind: 'already-started'; readonly generation: number }
  | { readonly kind: 'skipped'; readonly reason: string };

/** Thrown when Step Functions refused the start for a reason a retry may fix (throttling, service errors). */
export class LoopStartError extends Error {
  override readonly name = 'LoopStartError';
  constructor(
    readonly pollerId: string,
    cause: unknown,
  ) {
    super(`poller '${pollerId}': starting its loop failed: ${describeCause(cause)}`, { cause });
  }
}

/**
 * Starts the loop of a poller whose item says running=true, as generation (item's + 1). The execution is named
 * after that generation, so the stream starter, the watchdog and the CLI racing to start the same poller start
 * it once; the controller's conditional take of the generation settles any start that is still concurrent.
 */
export async function startLoop(
  pollerId: string,
  deps: LoopStarterDeps,
  reason: string,
  item?: RawItem,
): Promise<StartOutcome> {
  const current = item ?? (await deps.table.read(pollerId));
  if (current === undefined) return { kind: 'skipped', reason: 'no control item' };
  if (current[FIELD.running]?.BOOL !== true) return { kind: 'skipped', reason: 'running is not true' };
  const generation = Number(current[FIELD.generation]?.N ?? 0) + 1;
  const input: StartInput = {
    pollerId,
    generation,
    reason,
    ...(deps.historyBudget !== undefined ? { historyBudget: deps.historyBudget } : {}),
  };
  try {
    const result = await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: executionNameFor(pollerId, generation),
        input: JSON.stringify(input),
      }),
    );
    return { kind: 'started', executionArn: result.executionArn ?? '', generation };
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) return { kind: 'already-started', generation };
    throw new LoopStartError(pollerId, error);
  }
}
