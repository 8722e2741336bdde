import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localClientOptions } from '../../../functions/shared/aws-clients';
import { createSqsClient } from '../../../scripts/ctl/sqs-client';
import { localQueueUrl } from '../../../scripts/local-stack/local-endpoints';
import { LocalFunctions } from '../../../scripts/local-stack/local-functions';
import { LocalQueues } from '../../../scripts/local-stack/local-queues';
import { LocalServicesServer } from '../../../scripts/local-stack/local-services-server';

/**
 * The local SQS endpoint as the real SDK v3 SQS client sees it (AWS JSON 1.0, the SDK's MD5 checks on): what
 * `ctl failed` and Lambda's on-failure destination do to the failed-ticks queue.
 */
let server: LocalServicesServer;
let sqs: SQSClient;
let endpoint: string;
let nextQueue = 0;
/** The queues' clock runs this far ahead of real time: a test moves it to make a visibility timeout end. */
let clockAheadMs = 0;

beforeAll(async () => {
  const queues = new LocalQueues(() => Date.now() + clockAheadMs);
  server = new LocalServicesServer(
    new LocalFunctions(),
    () => {
      throw new Error('no Step Functions here');
    },
    () => {},
    queues,
  );
  endpoint = `http://127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  sqs = createSqsClient(localClientOptions(endpoint, 1));
});

afterAll(async () => {
  sqs.destroy();
  await server.close();
});

/** A fresh, empty queue for one test. */
function freshQueue(): string {
  nextQueue += 1;
  const name = `failed-ticks-${nextQueue}`;
  server.queues.create(name);
  return localQueueUrl(endpoint, name);
}

async function depthOf(queueUrl: string) {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(Attributes?.ApproximateNumberOfMessages),
    inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

describe('the local SQS endpoint through the SDK v3 client', () => {
  it('returns a sent message on receive, with the body and MD5 the SDK checks', async () => {
    const queueUrl = freshQueue();
    const body = JSON.stringify({ requestPayload: { pollerId: 'feed', seq: 7 }, note: 'ünïcode' });

    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        MessageSystemAttributeNames: ['SentTimestamp'],
      }),
    );

    expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Messages).toHaveLength(1);
    expect(Messages?.[0]).toMatchObject({ MessageId: sent.MessageId, Body: body });
    // Only what was asked for, as SQS.
    expect(Object.keys(Messages?.[0]?.Attributes ?? {})).toEqual(['SentTimestamp']);
    expect(Number(Messages?.[0]?.Attributes?.SentTimestamp)).toBeGreaterThan(0);
  });

  it('keeps a message received with visibility 0 visible (a peek), and hides one received with a timeout', async () => {
    const queueUrl = freshQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'tick 1' }));

    await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 0 }));
    const afterPeek = await depthOf(queueUrl);
    const held = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        VisibilityTimeout: 60,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const afterHold = await depthOf(queueUrl);
    const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 60 }));

    expect(afterPeek).toEqual({ visible: 1, inFlight: 0 });
    expect(held.Messages).toHaveLength(1);
    expect(held.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(held.Messages?.[0]?.Attributes?.SentTimestamp).toMatch(/^\d+$/);
    expect(afterHold).toEqual({ visible: 0, inFlight: 1 });
    expect(again.Messages ?? []).toEqual([]);
  });

  it('releases a held message with ChangeMessageVisibility 0', async () => {
    const queueUrl = freshQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'tick 2' }));
    const held = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 60 }));

    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: held.Messages?.[0]?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );

    expect(await depthOf(queueUrl)).toEqual({ visible: 1, inFlight: 0 });
  });

  it('deletes by the latest receipt handle only, as SQS does', async () => {
    const queueUrl = freshQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'tick 3' }));
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 0 }));
    const second = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 0 }));

    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: first.Messages?.[0]?.ReceiptHandle }),
    );
    const afterStaleDelete = await depthOf(queueUrl);
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: second.Messages?.[0]?.ReceiptHandle }),
    );

    expect(afterStaleDelete).toEqual({ visible: 1, inFlight: 0 });
    expect(await depthOf(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('answers a queue that does not exist with QueueDoesNotExist', async () => {
    const missing = localQueueUrl(endpoint, 'no-such-queue');

    await expect(
      sqs.send(new SendMessageCommand({ QueueUrl: missing, MessageBody: 'x' })),
    ).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
  });

  it('refuses more than 10 messages a receive, as SQS does', async () => {
    const queueUrl = freshQueue();

    await expect(
      sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 11 })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('returns no attributes when none were asked for', async () => {
    const queueUrl = freshQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'tick 4' }));

    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 0 }),
    );

    expect(Messages?.[0]?.Attributes).toBeUndefined();
  });

  it('refuses to change the visibility of a message whose visibility timeout ended, with MessageNotInflight', async () => {
    const queueUrl = freshQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'tick 5' }));
    const held = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 60 }));
    clockAheadMs += 61_000;

    await expect(
      sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: held.Messages?.[0]?.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      ),
    ).rejects.toMatchObject({ name: 'MessageNotInflight' });
    // A standard queue still deletes it by that (latest) handle, as SQS does.
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: held.Messages?.[0]?.ReceiptHandle }),
    );
    expect(await depthOf(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('refuses to change the visibility by a handle of an earlier receive, with ReceiptHandleIsInvalid', async () => {
    const queueUrl = freshQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'tick 6' }));
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 60 }));
    clockAheadMs += 61_000;
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 60 }));

    await expect(
      sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: first.Messages?.[0]?.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      ),
    ).rejects.toMatchObject({ name: 'ReceiptHandleIsInvalid' });
    expect(await depthOf(queueUrl)).toEqual({ visible: 0, inFlight: 1 });
  });
});
