import { describe, expect, it } from 'vitest';
import { decodeFailedDelivery, unqualifiedFunction } from '../../../scripts/ctl/failed-delivery';
import { formatFailedList, formatFailedReplay } from '../../../scripts/ctl/format-failed';
import { asyncFailureRecord, streamBatchFailureRecord } from '../../../scripts/local-stack/failure-records';

const WORKER_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:SubMinute-Worker';
const TICK = {
  pollerId: 'feed',
  seq: 41,
  scheduledAt: '2026-11-23T05:40:00.000Z',
  payload: { url: 'https://feed.example/v' },
};

/** Lambda's invocation record as the Lambda developer guide shows it, with our tick as the request payload. */
const AWS_RECORD = {
  version: '1.0',
  timestamp: '2026-11-23T05:43:01.568Z',
  requestContext: {
    requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
    functionArn: `${WORKER_ARN}:$LATEST`,
    condition: 'RetriesExhausted',
    approximateInvokeCount: 3,
  },
  requestPayload: TICK,
  responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
  responsePayload: {
    errorType: 'FeedDownError',
    errorMessage: 'feed answered 503',
    trace: ['FeedDownError: feed answered 503', '    at runTick (/var/task/index.js:1:1)'],
  },
};

describe('decodeFailedDelivery', () => {
  it('reads a failed tick from Lambda’s invocation record', () => {
    expect(decodeFailedDelivery(JSON.stringify(AWS_RECORD))).toEqual({
      kind: 'tick',
      tick: TICK,
      requestPayload: TICK,
      functionArn: `${WORKER_ARN}:$LATEST`,
      requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
      condition: 'RetriesExhausted',
      attempts: 3,
      failedAt: '2026-11-23T05:43:01.568Z',
      error: 'FeedDownError: feed answered 503',
    });
  });

  it('keeps every field of the original event for a replay, not only the tick’s', () => {
    const record = { ...AWS_RECORD, requestPayload: { ...TICK, traceId: 't-1' } };

    const delivery = decodeFailedDelivery(JSON.stringify(record));

    expect(delivery).toMatchObject({ kind: 'tick', requestPayload: { traceId: 't-1' } });
  });

  it('reads an event that aged out (no response payload) with no error', () => {
    const { responsePayload: _none, ...aged } = AWS_RECORD;
    const record = { ...aged, requestContext: { ...aged.requestContext, condition: 'EventAgeExceeded' } };

    expect(decodeFailedDelivery(JSON.stringify(record))).toMatchObject({
      kind: 'tick',
      condition: 'EventAgeExceeded',
      error: null,
    });
  });

  it('reads what the local stack sends as what Lambda sends', () => {
    const record = asyncFailureRecord({
      requestId: '5f0a2c1e-7d3b-4e8a-9c6f-1b2d3e4f5a6b',
      functionArn: WORKER_ARN,
      event: TICK,
      error: { errorType: 'Runtime.ExitError', errorMessage: 'Runtime exited with error: signal: killed' },
      attempts: 3,
      condition: 'RetriesExhausted',
      atMs: Date.parse('2026-11-23T05:43:01.568Z'),
    });

    expect(decodeFailedDelivery(JSON.stringify(record))).toMatchObject({
      kind: 'tick',
      tick: TICK,
      functionArn: `${WORKER_ARN}:$LATEST`,
      requestId: '5f0a2c1e-7d3b-4e8a-9c6f-1b2d3e4f5a6b',
      attempts: 3,
      error: 'Runtime.ExitError: Runtime exited with error: signal: killed',
    });
  });

  it('reads a stream batch the start mapping gave up on', () => {
    const record = streamBatchFailureRecord({
      functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:SubMinute-ControlPlane',
      streamArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/control/stream/2026-11-01T00:00:00.000',
      shardId: 'shardId-00000001573689847184-864758bb',
      sequenceNumbers: ['800000000003126276362', '800000000003126276363'],
      attempts: 4,
      atMs: Date.parse('2026-11-23T05:43:01.568Z'),
    });

    expect(decodeFailedDelivery(JSON.stringify(record))).toEqual({
      kind: 'stream-batch',
      condition: 'RetryAttemptsExhausted',
      failedAt: '2026-11-23T05:43:01.568Z',
      streamArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/control/stream/2026-11-01T00:00:00.000',
      shardId: 'shardId-00000001573689847184-864758bb',
      startSequenceNumber: '800000000003126276362',
      endSequenceNumber: '800000000003126276363',
      batchSize: 2,
    });
  });

  it.each([
    ['not JSON', 'hello', /^not JSON/],
    ['not an object', '[1,2]', /^not a JSON object/],
    ['neither record', '{"a":1}', /^neither a Lambda invocation record nor a stream batch record/],
    [
      'a record of another function’s event',
      JSON.stringify({ ...AWS_RECORD, requestPayload: { orderId: 7 } }),
      /whose event is not a tick: .*pollerId must be a string/,
    ],
  ])('calls %s unreadable, saying why', (_what, body, reason) => {
    const delivery = decodeFailedDelivery(body);

    expect(delivery.kind).toBe('unreadable');
    expect(delivery.kind === 'unreadable' ? delivery.reason : '').toMatch(reason);
  });

  it('replays the function unqualified, as the controller fires it', () => {
    expect(unqualifiedFunction(`${WORKER_ARN}:$LATEST`)).toBe(WORKER_ARN);
  });
});

describe('ctl failed output', () => {
  const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/SubMinute-FailedTicks';

  it('lists one aligned line per message under a header naming the queue', () => {
    const tick = decodeFailedDelivery(JSON.stringify(AWS_RECORD));

    const text = formatFailedList({
      command: 'failed-list',
      queueUrl,
      more: false,
      entries: [
        { messageId: 'm-1', sentAt: '2026-11-23T05:43:01.600Z', ...tick },
        { messageId: 'm-2', sentAt: null, kind: 'unreadable', reason: 'not JSON: hello' },
      ],
    });

    expect(text.split('\n')).toEqual([
      `failed-ticks queue ${queueUrl}: 2 messages (nothing deleted; \`ctl failed replay\` fires ticks again)`,
      'SENT                      KIND  POLLER  SEQ  SCHEDULED                 FUNCTION          WHY                           ERROR',
      '2026-11-23T05:43:01.600Z  tick  feed    41   2026-11-23T05:40:00.000Z  SubMinute-Worker  RetriesExhausted, 3 attempts  FeedDownError: feed answered 503',
      '-                         ?     -       -    -                         -                 unreadable                    not JSON: hello',
    ]);
  });

  it('says so when the queue is empty', () => {
    expect(formatFailedList({ command: 'failed-list', queueUrl, more: false, entries: [] })).toBe(
      `no failed ticks: queue ${queueUrl} is empty`,
    );
  });

  it('reports each replay and what was left in the queue', () => {
    const text = formatFailedReplay({
      command: 'failed-replay',
      queueUrl,
      pollerId: 'feed',
      leftInQueue: 2,
      outcomes: [
        { messageId: 'm-1', pollerId: 'feed', seq: 41, functionArn: WORKER_ARN, ok: true, replayed: true },
        {
          messageId: 'm-3',
          pollerId: 'feed',
          seq: 42,
          functionArn: WORKER_ARN,
          ok: false,
          replayed: false,
          error: 'TooManyRequestsException: Rate Exceeded.',
        },
        {
          messageId: 'm-4',
          pollerId: 'feed',
          seq: 43,
          functionArn: WORKER_ARN,
          ok: false,
          replayed: true,
          error: 'deleting message m-4 failed: AccessDenied: no sqs:DeleteMessage',
        },
      ],
    });

    expect(text.split('\n')).toEqual([
      "replayed  poller 'feed' seq 41 → SubMinute-Worker (accepted; message deleted)",
      "failed    poller 'feed' seq 42 → SubMinute-Worker: TooManyRequestsException: Rate Exceeded. (message kept)",
      "replayed  poller 'feed' seq 43 → SubMinute-Worker (accepted) but not deleted: deleting message m-4 failed: AccessDenied: no sqs:DeleteMessage (message kept: a later replay fires it again)",
      "replayed 2 of 3 failed ticks for poller 'feed'; 1 replayed, not deleted; 1 failed; 2 messages left in the queue (`ctl failed list`)",
    ]);
  });
});
