import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { EXECUTION_ENDED_FOR_GOOD } from '../../../functions/shared/loop-ownership';
import { startLoop } from '../../../functions/starter/start-loop';
import { AwsCallError, ControlItemMissingError, CtlError } from '../errors';
import { isFleetTable } from '../fleet-view';
import { awsCall, type CtlSession, readExecutionStatus, writeItem } from '../session';

export type StartResult = LoopStartResult | FleetStartResult;

/**
 * `start` in a fleet's table (the fleet variant, README "Fleet"): running=true is set, and the fleet places the
 * poller on a shard by itself. On the local stack the fleet is started too (an execution with the input `{}`);
 * on AWS the result says how, since a fleet start is the operator's call.
 */
export interface FleetStartResult {
  readonly command: 'start';
  readonly outcome: 'fleet';
  readonly pollerId: string;
  readonly table: string;
  readonly created: boolean;
  readonly stateMachineArn: string;
  /** The fleet start's execution (`--local` only). */
  readonly fleetExecutionArn: string | undefined;
}

export interface LoopStartResult {
  readonly command: 'start';
  readonly pollerId: string;
  readonly table: string;
  readonly outcome: 'started' | 'already-running';
  /** The loop's execution (undefined only for an old item that never named one). */
  readonly executionArn: string | undefined;
  readonly generation: number;
  /** The item did not exist and was created from --every. */
  readonly created: boolean;
}

/**
 * Sets running=true (creating the item when `waitSeconds` is given), then starts the loop by the one start rule
 * (functions/starter/start-loop.ts): a live loop is left alone (it follows running=true at its next tick), and
 * otherwise a new generation is taken and its execution started. The stream starter reacts to the same change;
 * whichever comes second finds the first one's loop alive, so the poller gets one loop.
 *
 * A loop whose execution Step Functions says has ended (stopped by hand, failed) is dead at once, whatever its
 * last heartbeat says: `ctl start` starts a new one rather than waiting for the watchdog.
 */
export async function start(
  session: CtlSession,
  pollerId: string,
  waitSeconds?: number,
): Promise<StartResult> {
  const { tableName, stateMachineArn } = session.target;
  if (stateMachineArn === undefined)
    throw new CtlError('start needs the state machine ARN (--stack, or --state-machine-arn)');

  const updated = await writeItem(session, pollerId, 'setting running=true', (table) =>
    table.switchOn(pollerId, waitSeconds),
  );
  if (updated === 'missing') {
    throw new ControlItemMissingError(
      pollerId,
      tableName,
      `create it with \`ctl create ${pollerId} --every S\` (or \`ctl start ${pollerId} --every S\`)`,
    );
  }
  const base = {
    command: 'start',
    pollerId,
    table: tableName,
    created: updated.before === undefined,
  } as const;

  if (await isFleetTable(session)) {
    const fleetExecutionArn =
      session.target.local === true
        ? await awsCall(session, `starting the fleet on ${stateMachineArn}`, async () => {
            const started = await session.sfn.send(
              new StartExecutionCommand({ stateMachineArn, input: '{}' }),
            );
            return started.executionArn;
          })
        : undefined;
    return { ...base, outcome: 'fleet', stateMachineArn, fleetExecutionArn };
  }

  const recorded = updated.before?.executionArn;
  const deadExecutionArn =
    recorded !== undefined &&
    EXECUTION_ENDED_FOR_GOOD.has((await readExecutionStatus(session, recorded)).status)
      ? recorded
      : undefined;

  const deps = { table: session.table, sfn: session.sfn, stateMachineArn };
  let outcome: Awaited<ReturnType<typeof startLoop>>;
  try {
    outcome = await startLoop(pollerId, deps, { deadExecutionArn });
  } catch (error) {
    const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
    throw new AwsCallError(
      `starting the loop of poller '${pollerId}' on ${stateMachineArn}`,
      cause,
      session.target.connectionHint,
    );
  }
  if (outcome.kind === 'skipped') {
    throw new CtlError(`poller '${pollerId}': not started: ${outcome.reason}`);
  }
  return {
    ...base,
    outcome: outcome.kind,
    executionArn: outcome.executionArn,
    generation: outcome.generation,
  };
}
