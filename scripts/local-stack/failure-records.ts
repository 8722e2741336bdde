import { randomUUID } from 'node:crypto';
import type { FunctionErrorResult } from './function-runtime';

/**
 * What Lambda sends an on-failure destination for an asynchronous invocation that failed for good: the
 * invocation record (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
 * `condition` is `RetriesExhausted` (every attempt failed) or `EventAgeExceeded` (too old to try again).
 */
export interface AsyncFailureRecord {
  readonly version: '1.0';
  readonly timestamp: string;
  readonly requestContext: {
    readonly requestId: string;
    /** Qualified with the version that ran (`…:function:NAME:$LATEST`). */
    readonly functionArn: string;
    readonly condition: 'RetriesExhausted' | 'EventAgeExceeded';
    readonly approximateInvokeCount: number;
  };
  /** The event as it was invoked: for a tick, `{pollerId, seq, scheduledAt, payload}`. */
  readonly requestPayload: unknown;
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: string;
    readonly functionError: 'Unhandled';
  };
  readonly responsePayload: FunctionErrorResult;
}

/**
 * What a stream event source mapping sends its on-failure destination for a batch it gave up on: where the
 * batch was in the stream, never the records themselves (they stay in the stream for its 24 h).
 */
export interface StreamBatchFailureRecord {
  readonly version: '1.0';
  readonly timestamp: string;
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: 'RetryAttemptsExhausted';
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: string;
    readonly functionError: 'Unhandled';
  };
  readonly DDBStreamBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
}

export function asyncFailureRecord(failure: {
  /** The asynchronous invocation's request id: the same across its attempts (the worker's `awsRequestId`). */
  readonly requestId: string;
  readonly functionArn: string;
  readonly event: unknown;
  readonly error: FunctionErrorResult;
  readonly attempts: number;
  readonly condition: AsyncFailureRecord['requestContext']['condition'];
  readonly atMs: number;
}): AsyncFailureRecord {
  return {
    version: '1.0',
    timestamp: new Date(failure.atMs).toISOString(),
    requestContext: {
      requestId: failure.requestId,
      functionArn: `${failure.functionArn}:$LATEST`,
      condition: failure.condition,
      approximateInvokeCount: failure.attempts,
    },
    requestPayload: failure.event,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: failure.error,
  };
}

export function streamBatchFailureRecord(failure: {
  readonly functionArn: string;
  readonly streamArn: string;
  readonly shardId: string;
  readonly sequenceNumbers: readonly string[];
  readonly attempts: number;
  readonly atMs: number;
}): StreamBatchFailureRecord {
  const at = new Date(failure.atMs).toISOString();
  return {
    version: '1.0',
    timestamp: at,
    requestContext: {
      requestId: randomUUID(),
      functionArn: failure.functionArn,
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: failure.attempts,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    DDBStreamBatchInfo: {
      shardId: failure.shardId,
      startSequenceNumber: failure.sequenceNumbers[0] ?? '',
      endSequenceNumber: failure.sequenceNumbers.at(-1) ?? '',
      approximateArrivalOfFirstRecord: at,
      approximateArrivalOfLastRecord: at,
      batchSize: failure.sequenceNumbers.length,
      streamArn: failure.streamArn,
    },
  };
}
