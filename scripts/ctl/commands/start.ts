import { executionNameFor, FIELD } from '../../../functions/shared/contract';
import { ControlTable } from '../../../functions/shared/control-table';
import { startLoop } from '../../../functions/starter/start-loop';
import { AwsCallError, ControlItemMissingError, CtlError } from '../errors';
import { type CtlSession, readExecutionStatus, updateItem } from '../session';

export interface StartResult {
  readonly command: 'start';
  readonly pollerId: string;
  readonly table: string;
  readonly outcome: 'started' | 'already-running';
  readonly executionArn: string;
  /** The item did not exist and was created from --every. */
  readonly created: boolean;
}

/**
 * Sets running=true (creating the item when `waitSeconds` is given), then starts the loop unless the execution
 * the item names is still RUNNING (a stopped loop that has not reached its next tick simply carries on).
 *
 * The start goes through the starter's startLoop: the execution is named after the next generation, so this
 * and the stream starter (which also reacts to running=true) racing each other start one loop, not two.
 */
export async function start(
  session: CtlSession,
  pollerId: string,
  waitSeconds?: number,
): Promise<StartResult> {
  const { tableName, stateMachineArn } = session.target;
  if (stateMachineArn === undefined)
    throw new CtlError('start needs the state machine ARN (--stack, or --state-machine-arn)');

  const updated = await updateItem(session, pollerId, 'setting running=true', {
    UpdateExpression:
      waitSeconds === undefined ? 'SET #running = :true' : 'SET #running = :true, #wait = :wait',
    ...(waitSeconds === undefined ? { ConditionExpression: 'attribute_exists(#id)' } : {}),
    ExpressionAttributeNames: {
      '#running': FIELD.running,
      ...(waitSeconds === undefined ? { '#id': FIELD.id } : { '#wait': FIELD.waitSeconds }),
    },
    ExpressionAttributeValues: {
      ':true': { BOOL: true },
      ...(waitSeconds === undefined ? {} : { ':wait': { N: String(waitSeconds) } }),
    },
    ReturnValues: 'ALL_OLD',
  });
  if (!updated) {
    throw new ControlItemMissingError(
      pollerId,
      tableName,
      'create it with `ctl start --every S` (or `ctl set --every S`)',
    );
  }
  const base = {
    command: 'start',
    pollerId,
    table: tableName,
    created: updated.attributes === undefined,
  } as const;

  const current = updated.attributes?.[FIELD.executionArn]?.S;
  if (current !== undefined && (await readExecutionStatus(session, current)).status === 'RUNNING') {
    return { ...base, outcome: 'already-running', executionArn: current };
  }

  const deps = { table: new ControlTable(session.dynamoDb, tableName), sfn: session.sfn, stateMachineArn };
  let outcome: Awaited<ReturnType<typeof startLoop>>;
  try {
    outcome = await startLoop(pollerId, deps, 'ctl start');
  } catch (error) {
    const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
    throw new AwsCallError(
      `starting the loop of poller '${pollerId}' on ${stateMachineArn}`,
      cause,
      session.target.connectionHint,
    );
  }
  switch (outcome.kind) {
    case 'started':
      return { ...base, outcome: 'started', executionArn: outcome.executionArn };
    case 'skipped':
      throw new CtlError(
        `poller '${pollerId}': not started: ${outcome.reason} (did someone stop it meanwhile?)`,
      );
    case 'already-started': {
      // The stream starter (or another ctl) started this generation first.
      const executionArn = executionArnFor(stateMachineArn, executionNameFor(pollerId, outcome.generation));
      const { status, error } = await readExecutionStatus(session, executionArn);
      if (status === 'RUNNING') return { ...base, outcome: 'already-running', executionArn };
      throw new CtlError(
        `poller '${pollerId}': execution ${executionArn} of generation ${outcome.generation} already exists and is ${status}${error ? ` (${error})` : ''}; no loop was started`,
      );
    }
  }
}

/** arn:…:stateMachine:NAME → arn:…:execution:NAME:EXECUTION (the ARN Step Functions gives a named execution). */
export function executionArnFor(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}
