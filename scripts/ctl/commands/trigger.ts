import { randomBytes, randomUUID } from 'node:crypto';
import { InvokeCommand, LambdaServiceException } from '@aws-sdk/client-lambda';
import { createLambdaClient } from '../../../functions/shared/aws-clients';
import { FIELD, type TriggerState, type WorkerEvent } from '../../../functions/shared/contract';
import { triggerFieldsOf } from '../../../functions/shared/control-item';
import { claimTrigger, settleTrigger } from '../../../functions/shared/control-table';
import { describeCause, InvalidControlItemError } from '../../../functions/shared/errors';
import { CLAIM_ATTEMPTS } from '../../../functions/shared/trigger-write';
import { ControlItemMissingError, CtlError, TriggerNotFiredError } from '../errors';
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
  /**
   * `fired`: Lambda accepted this run's invoke; `duplicate`: the id was taken before, this run fired nothing.
   * (Refused, unknown and gave-up end in a TriggerNotFiredError, exit 1.)
   */
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
  /**
   * The poller's `overlap` is `skip`: a trigger does not apply it (its fire is asynchronous and may run alongside a
   * tick still running, and a tick may start while it runs).
   */
  readonly overlapSkipIgnored: boolean;
  /** For `fired`: what did not go as planned after Lambda accepted the fire (the record left `claimed`), or null. */
  readonly warning: string | null;
}

/**
 * `ctl trigger ID`: fires the poller's target once, now, fenced like a tick. The item is read and checked first
 * (missing, an invalid target or payload: refused before any write); the request is then recorded on the item by
 * one conditional write that only one run per request id wins; the winner invokes the target asynchronously and
 * records how that ended (`fired`; `refused` when Lambda answered with an error status; `unknown` when no answer
 * came, so it may have fired; the reason in `lastError`). The loop's seq, claim and
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
  const overlapSkipIgnored = item.operator.overlap === 'skip';

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
  if (claimed.kind === 'gave-up') {
    throw new TriggerNotFiredError(
      pollerId,
      requestId,
      'gave-up',
      `not recorded, gave up: the item kept changing (other triggers recorded first ${CLAIM_ATTEMPTS} times); nothing fired, repeat with --id ${requestId}`,
    );
  }
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
      overlapSkipIgnored,
      warning: null,
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
  const invoked = await invoke(session, functionName, event);
  const settled = { id: requestId, claim, at: new Date(session.nowMs()).toISOString() };
  if (invoked.kind !== 'accepted') {
    // Lambda answered with an error status (or a status other than 202): nothing was queued, the same id may be
    // tried again. No answer at all (a dropped connection, a timeout): the event may have been queued.
    const state = invoked.kind === 'refused' ? 'refused' : 'unknown';
    await awsCall(session, `recording that trigger ${requestId} was ${state} (poller '${pollerId}')`, () =>
      settleTrigger(session.dynamoDb, tableName, pollerId, {
        ...settled,
        state,
        ...(invoked.status === undefined ? {} : { status: invoked.status }),
        error: invoked.error,
      }),
    );
    throw state === 'refused'
      ? new TriggerNotFiredError(
          pollerId,
          requestId,
          'refused',
          `not fired: ${invoked.error}; recorded in lastError (repeat with --id ${requestId} to try it again, as seq ${claimed.seq})`,
          invoked.cause,
        )
      : new TriggerNotFiredError(
          pollerId,
          requestId,
          'unknown',
          `may have fired (seq ${claimed.seq}): ${invoked.error}, Lambda's answer never came; recorded as unknown in lastError. Check \`ctl history\` (trigger ${requestId}) or the worker's logs before firing again with a new id`,
          invoked.cause,
        );
  }
  let warning: string | null = null;
  try {
    await awsCall(session, `recording that trigger ${requestId} fired (poller '${pollerId}')`, () =>
      settleTrigger(session.dynamoDb, tableName, pollerId, {
        ...settled,
        state: 'fired',
        status: invoked.status,
      }),
    );
  } catch (error) {
    // Lambda has the event: the fire happened whatever the record says, so this run reports it (exit 0).
    warning = `the record stays 'claimed' (${describeCause(error)}): a repeat of --id ${requestId} fires nothing and says its fire was not confirmed`;
  }
  return {
    command: 'trigger',
    pollerId,
    requestId,
    outcome: 'fired',
    target: functionName,
    seq: claimed.seq,
    firedAt,
    statusCode: invoked.status,
    earlierState: null,
    running,
    overlapSkipIgnored,
    warning,
  };
}

type Invoked =
  | { readonly kind: 'accepted'; readonly status: number }
  /** Lambda answered: an error status (its service error), or a success other than 202. */
  | {
      readonly kind: 'refused';
      readonly status: number | undefined;
      readonly error: string;
      readonly cause?: unknown;
    }
  /** No answer from Lambda (network, timeout): the event may be queued. */
  | { readonly kind: 'unknown'; readonly status: undefined; readonly error: string; readonly cause: unknown };

/**
 * One asynchronous invoke, one attempt: a retried async invoke could queue the fire twice, and a refusal is
 * recorded and may be tried again with the same id. The status code, or why the call failed.
 */
async function invoke(session: CtlSession, functionName: string, event: WorkerEvent): Promise<Invoked> {
  const lambda = createLambdaClient({ ...session.target.lambda, maxAttempts: 1 });
  try {
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(event)),
      }),
    );
    const status = answer.StatusCode ?? 0;
    return status === 202
      ? { kind: 'accepted', status }
      : { kind: 'refused', status, error: `Lambda answered status ${status}, not 202` };
  } catch (error) {
    const status = answeredStatus(error);
    const why = `invoking ${functionName}: ${describeCause(error)}`;
    return status === undefined
      ? { kind: 'unknown', status: undefined, error: why, cause: error }
      : { kind: 'refused', status, error: why, cause: error };
  } finally {
    lambda.destroy();
  }
}

/** The error status Lambda answered with (a service error: 4xx/5xx), or undefined when no answer came. */
function answeredStatus(error: unknown): number | undefined {
  if (!(error instanceof LambdaServiceException)) return undefined;
  const status = error.$metadata.httpStatusCode;
  return status !== undefined && status >= 400 ? status : undefined;
}
