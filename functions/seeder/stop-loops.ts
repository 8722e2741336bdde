import { ListExecutionsCommand, type SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { describeCause } from '../shared/errors';
import type { PollerTable } from '../shared/poller-table';

export interface LoopStopperDeps {
  /** The control table; undefined: no poller is turned off, executions are still stopped. */
  readonly table: PollerTable | undefined;
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
}

export interface LoopsStopped {
  /** RUNNING executions of the loop state machine that were stopped. */
  readonly executionsStopped: number;
  /** Pollers whose `running` was turned from true to false. */
  readonly pollersTurnedOff: number;
  /** What could not be done, each naming the execution, poller or table and the cause (the first few). */
  readonly problems: readonly string[];
}

/** The error and cause a stopped execution shows in its history. */
export const STOP_ERROR = 'StackDeleted';
export const STOP_CAUSE = 'the stack is being deleted';

/** Problems kept for the answer: CloudFormation shows a Reason of a few hundred characters anyway. */
const MAX_PROBLEMS = 5;

/**
 * Stops every loop before the stack deletes the state machine and the functions, within `budgetMs`:
 *
 * 1. stops every RUNNING execution of the loop state machine: one waiting in its Wait state (up to an hour) would
 *    otherwise hold the state machine in DELETING. First, because the deletion depends on it. Stopping ends the
 *    execution at Step Functions' side only: a controller invocation already under way carries on;
 * 2. turns `running` off on every running poller, so that controller (staying awake, it may have up to 15 minutes
 *    left) ends at its next tick instead of firing at a worker being deleted, and the watchdog restarts nothing.
 *
 * Never throws: what failed or ran out of time is listed in `problems`, for the custom resource's answer.
 */
export async function stopAllLoops(deps: LoopStopperDeps, budgetMs: number): Promise<LoopsStopped> {
  const options = { abortSignal: AbortSignal.timeout(budgetMs) };
  const problems: string[] = [];
  /** Runs one call; a failure is noted and does not stop the rest. */
  const attempt = async (what: string, call: () => Promise<unknown>): Promise<boolean> => {
    try {
      await call();
      return true;
    } catch (error) {
      if (problems.length < MAX_PROBLEMS) problems.push(`${what} failed: ${describeCause(error)}`);
      return false;
    }
  };

  let executionsStopped = 0;
  await attempt(`listing the running executions of '${deps.stateMachineArn}'`, async () => {
    let nextToken: string | undefined;
    do {
      const page = await deps.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: deps.stateMachineArn,
          statusFilter: 'RUNNING',
          nextToken,
        }),
        options,
      );
      for (const { executionArn } of page.executions ?? []) {
        const stop = new StopExecutionCommand({ executionArn, error: STOP_ERROR, cause: STOP_CAUSE });
        if (await attempt(`stopping '${executionArn}'`, () => deps.sfn.send(stop, options)))
          executionsStopped++;
      }
      nextToken = page.nextToken;
    } while (nextToken);
  });

  let pollersTurnedOff = 0;
  const { table } = deps;
  if (table) {
    await attempt(`listing the running pollers of '${table.tableName}'`, async () => {
      const running = (await table.listAll(options)).filter((item) => item.operator.running === true);
      for (const { pollerId } of running) {
        let turnedOff = false;
        // Only while it still runs (a poller switched off or deleted meanwhile is left as it is).
        await attempt(`poller '${pollerId}'`, async () => {
          turnedOff = await table.switchOffIfRunning(pollerId, options);
        });
        if (turnedOff) pollersTurnedOff++;
      }
    });
  }

  if (options.abortSignal.aborted) problems.push(`gave up after ${budgetMs} ms`);
  return { executionsStopped, pollersTurnedOff, problems };
}
