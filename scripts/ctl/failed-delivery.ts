import type { WorkerEvent } from '../../functions/shared/contract';
import { isRecord } from '../../functions/shared/decode';
import { describeCause } from '../../functions/shared/errors';
import { parseWorkerEvent } from '../../functions/worker-kit/tick-event';

/**
 * One message of the failed-ticks queue, decoded. Two senders write there (infra/constructs/failed-ticks-queue.ts):
 * - the worker's on-failure destination: Lambda's invocation record, whose `requestPayload` is the tick;
 * - the stream mapping's on-failure destination: where a batch of control-table changes was in the stream
 *   (`DDBStreamBatchInfo`), for loop starts the control plane kept failing on; the records themselves are not in
 *   the message.
 * Anything else (a message sent by hand, a record of a target whose event is not a tick) is `unreadable`, with why.
 */
export type FailedDelivery = FailedTick | FailedStreamBatch | UnreadableMessage;

export interface FailedTick {
  readonly kind: 'tick';
  readonly tick: WorkerEvent;
  /** The event as it was invoked, every field kept: what a replay sends again. */
  readonly requestPayload: Readonly<Record<string, unknown>>;
  /** The function that failed it, as the record names it (`…:function:NAME:$LATEST`). */
  readonly functionArn: string;
  /** The invocation Lambda gave up (`requestContext.requestId`): a replay names it in `replayOf`. */
  readonly requestId: string | null;
  /** `RetriesExhausted`, `EventAgeExceeded`, … as Lambda wrote it. */
  readonly condition: string;
  readonly attempts: number | null;
  readonly failedAt: string | null;
  /** `errorType: errorMessage` from the function's last answer, when there was one. */
  readonly error: string | null;
}

export interface FailedStreamBatch {
  readonly kind: 'stream-batch';
  readonly condition: string;
  readonly failedAt: string | null;
  readonly streamArn: string;
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly batchSize: number | null;
}

export interface UnreadableMessage {
  readonly kind: 'unreadable';
  readonly reason: string;
}

export function decodeFailedDelivery(body: string): FailedDelivery {
  let record: unknown;
  try {
    record = JSON.parse(body);
  } catch (error) {
    return unreadable(`not JSON (${describeCause(error)}): ${preview(body)}`);
  }
  if (!isRecord(record)) return unreadable(`not a JSON object: ${preview(body)}`);
  const context = isRecord(record.requestContext) ? record.requestContext : {};
  const condition = text(context.condition) ?? 'unknown condition';
  const failedAt = text(record.timestamp);
  if (isRecord(record.DDBStreamBatchInfo)) {
    const batch = record.DDBStreamBatchInfo;
    return {
      kind: 'stream-batch',
      condition,
      failedAt,
      streamArn: text(batch.streamArn) ?? '-',
      shardId: text(batch.shardId) ?? '-',
      startSequenceNumber: text(batch.startSequenceNumber) ?? '-',
      endSequenceNumber: text(batch.endSequenceNumber) ?? '-',
      batchSize: wholeNumber(batch.batchSize),
    };
  }
  if (!('requestPayload' in record)) {
    return unreadable(`neither a Lambda invocation record nor a stream batch record: ${preview(body)}`);
  }
  const functionArn = text(context.functionArn);
  if (functionArn === null) return unreadable('an invocation record without requestContext.functionArn');
  const { requestPayload } = record;
  let tick: WorkerEvent;
  try {
    tick = parseWorkerEvent(requestPayload);
  } catch (error) {
    return unreadable(
      `an invocation record of ${functionArn} whose event is not a tick: ${describeCause(error)}`,
    );
  }
  return {
    kind: 'tick',
    tick,
    // parseWorkerEvent accepted it, so it is an object.
    requestPayload: isRecord(requestPayload) ? requestPayload : {},
    functionArn,
    requestId: text(context.requestId),
    condition,
    attempts: wholeNumber(context.approximateInvokeCount),
    failedAt,
    error: errorOf(record.responsePayload),
  };
}

/** `FeedDownError: feed answered 503` from the function's error answer (an object, or text it returned). */
function errorOf(responsePayload: unknown): string | null {
  if (typeof responsePayload === 'string') return responsePayload;
  if (!isRecord(responsePayload)) return null;
  const type = text(responsePayload.errorType);
  const message = text(responsePayload.errorMessage);
  if (type === null && message === null) return preview(JSON.stringify(responsePayload));
  return [type, message].filter((part) => part !== null).join(': ');
}

const unreadable = (reason: string): UnreadableMessage => ({ kind: 'unreadable', reason });
const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const wholeNumber = (value: unknown): number | null =>
  typeof value === 'number' && Number.isInteger(value) ? value : null;

const PREVIEW_LENGTH = 120;
const preview = (body: string) =>
  body.length > PREVIEW_LENGTH ? `${body.slice(0, PREVIEW_LENGTH - 1)}…` : body;

/** `arn:…:function:NAME:$LATEST` → `arn:…:function:NAME`: a replay fires the function as the controller does. */
export function unqualifiedFunction(functionArn: string): string {
  return functionArn.replace(/:\$LATEST$/, '');
}

/** `NAME` from a function ARN (qualified or not), for one-line output. */
export function functionNameOfArn(functionArn: string): string {
  const parts = functionArn.split(':');
  return parts[0] === 'arn' ? (parts[6] ?? functionArn) : functionArn;
}
