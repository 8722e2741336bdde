import { randomBytes, randomUUID } from 'node:crypto';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { createLambdaClient } from '../../../functions/shared/aws-clients';
import { FIELD, type TriggerState, type WorkerEvent } from '../../../functions/shared/contract';
import { triggerFieldsOf } from '../../../functions/shared/control-item';
import { claimTrigger, settleTrigger } from '../../../functions/shared/control-table';
import { describeCause, InvalidControlItemError } from '../../../functions/shared/errors';
import { ControlItemMissingError, CtlError } from '../errors';
import { awsCall, type CtlSession, readItem } from '../session';

export interface TriggerRequest {
  readonly pollerId: string;
  /** Overrides the item's payload for this fire only (validated as the controller validates the item's). */
  readonly payload?: Readonly<Record<string, unknown>> | undefined;
  /** `--id`: a script repeating a request names it, so it fires once; absent, the CLI makes one. */
  readonly requestId?: string | undefined;
}

export interface TriggerResult {
  readonly command: 'trigger';
  readonly pollerId: string;
  readonly requestId: string;
  /** `fired`: Lambda accepted this run's invoke; `duplicate`: the id was taken before, this run fired nothing. */
  readonly outcome: 'fired' | 'duplicate';
  /** The function fired (the item's `target`, or the stack's worker); for a duplicate, the earlier request's. */
  readonly target: string | null;
  /** The fire's seq (-n for the poller's n-th trigger: never a scheduled tick's), and when it was fired. */
  readonly seq: number | null;
  readonly firedAt: string | null;
  /** Lambda's status code for the async invoke (202). */
  readonly statusCode: number | null;
  /** For a duplicate: how the earlier request with this id stands, when it is still the item's last one. */
  readonly earlierState: TriggerState | null;
  /** The item's `running`: a stopped poller fires once and stays stopped; a running loop carries on unchanged. */
  readonly running: boolean | null;
}

/**
 * `ctl trigger ID`: fires the poller's target once, now, fenced like a tick. The item is read and checked first
 * (missing, an invalid target or payload: refused before any write); the request is then recorded on the item by
 * one conditional write that only one run per request id wins; the winner invokes the target asynchronously and
 * records how that ended (`fired`, or `refused` with the reason in `lastError`). The loop's seq, claim and
 * schedule are never touched: the fire carries `trigger` and seq -n, which no scheduled tick has.
 */
export async function trigger(session: CtlSession, request: TriggerRequest): Promise<TriggerResult> {
  const { pollerId } = request;
  const { tableName } = session.target;
  const item = await readItem(session, pollerId);
  if (item === undefined) throw new ControlItemMissingError(pollerId, tableName);
  const refuse = (problem: InvalidControlItemError) =>
    new CtlError(`poller '${pollerId}' not triggered: ${problem.message}`);
  const target = item.operator.target;
  if (target instanceof InvalidControlItemError) throw refuse(target);
  const payload = request.payload ?? item.operator.payload;
  if (payload instanceof InvalidControlItemError) throw refuse(payload);
  const functionName = target ?? session.target.defaultWorker;
  if (functionName === undefined) {
    throw new CtlError(
      `poller '${pollerId}' names no ${FIELD.target} and --table names no default worker: use --stack NAME (its WorkerFunctionName output) or --local`,
    );
  }
  const running = item.operator.running instanceof InvalidControlItemError ? null : item.operator.running;

  const requestId = request.requestId ?? `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const claim = randomUUID();
  const claimedAt = new Date(session.nowMs()).toISOString();
  const claimed = await awsCall(
    session,
    `recording trigger ${requestId} (poller '${pollerId}', table ${tableName})`,
    () =>
      claimTrigger(
        session.dynamoDb,
        tableName,
        pollerId,
        { id: requestId, claim, at: claimedAt, target: functionName },
        item,
      ),
  );
  if (claimed.kind === 'missing') throw new ControlItemMissingError(pollerId, tableName);
  if (claimed.kind === 'duplicate') {
    const earlier = triggerFieldsOf(claimed.item).lastTrigger;
    const same = earlier?.id === requestId ? earlier : undefined;
    return {
      command: 'trigger',
      pollerId,
      requestId,
      outcome: 'duplicate',
      target: same?.target ?? null,
      seq: same?.seq ?? null,
      firedAt: same?.at ?? null,
      statusCode: same?.status ?? null,
      earlierState: same?.state ?? null,
      running,
    };
  }

  const firedAt = new Date(session.nowMs()).toISOString();
  const event: WorkerEvent = {
    pollerId,
    seq: claimed.seq,
    scheduledAt: firedAt,
    ...(payload === undefined ? {} : { payload }),
    trigger: requestId,
  };
  const statusCode = await invoke(session, functionName, event);
  const settled = { id: requestId, claim, at: new Date(session.nowMs()).toISOString() };
  if (typeof statusCode !== 'number' || statusCode !== 202) {
    const error =
      typeof statusCode === 'number'
        ? `Lambda answered status ${statusCode}, not 202`
        : `invoking ${functionName}: ${statusCode.error}`;
    await awsCall(session, `recording that trigger ${requestId} was refused (poller '${pollerId}')`, () =>
      settleTrigger(session.dynamoDb, tableName, pollerId, {
        ...settled,
        state: 'refused',
        ...(typeof statusCode === 'number' ? { status: statusCode } : {}),
        error,
      }),
    );
    throw new CtlError(
      `poller '${pollerId}': trigger ${requestId} not fired: ${error}; recorded in lastError (repeat with --id ${requestId} to try it again)`,
    );
  }
  await awsCall(session, `recording that trigger ${requestId} fired (poller '${pollerId}')`, () =>
    settleTrigger(session.dynamoDb, tableName, pollerId, { ...settled, state: 'fired', status: statusCode }),
  );
  return {
    command: 'trigger',
    pollerId,
    requestId,
    outcome: 'fired',
    target: functionName,
    seq: claimed.seq,
    firedAt,
    statusCode,
    earlierState: null,
    running,
  };
}

/**
 * One asynchronous invoke, one attempt: a retried async invoke could queue the fire twice, and a refusal is
 * recorded and may be tried again with the same id. The status code, or why the call failed.
 */
async function invoke(
  session: CtlSession,
  functionName: string,
  event: WorkerEvent,
): Promise<number | { readonly error: string }> {
  const lambda = createLambdaClient({ ...session.target.lambda, maxAttempts: 1 });
  try {
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(event)),
      }),
    );
    return answer.StatusCode ?? 0;
  } catch (error) {
    return { error: describeCause(error) };
  } finally {
    lambda.destroy();
  }
}
