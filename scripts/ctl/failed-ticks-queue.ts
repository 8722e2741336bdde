import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** A message received from the failed-ticks queue, hidden from other receivers until released or deleted. */
export interface HeldMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** When it was sent to the queue (when the delivery failed for good). */
  readonly sentAt: string | null;
}

/** ReceiveMessage's largest batch. */
const RECEIVE_BATCH = 10;
/**
 * Long polling for 1 s asks every SQS server, so an empty answer means the queue holds nothing visible (short
 * polling samples a subset and can answer empty while messages wait); the last, empty receive costs that 1 s.
 */
const RECEIVE_WAIT_SECONDS = 1;

/**
 * The failed-ticks queue as the CLI reads it: messages are "peeked" by receiving them with a visibility timeout
 * (so each is received once, however many there are) and released again (visibility 0) when the CLI is done, or
 * deleted once handled. A CLI killed in between leaves them hidden until the timeout passes, never deleted.
 * Each receive counts in a message's ApproximateReceiveCount; the queue has no redrive policy, so that is all.
 */
export class FailedTicksQueue {
  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
  ) {}

  /** Receives up to `limit` messages, each hidden for `holdSeconds`; `more` when the limit stopped it. */
  async holdAll(holdSeconds: number, limit: number): Promise<{ messages: HeldMessage[]; more: boolean }> {
    const messages: HeldMessage[] = [];
    const seen = new Set<string>();
    while (messages.length < limit) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: Math.min(RECEIVE_BATCH, limit - messages.length),
          VisibilityTimeout: holdSeconds,
          WaitTimeSeconds: RECEIVE_WAIT_SECONDS,
          MessageSystemAttributeNames: ['SentTimestamp'],
        }),
      );
      const fresh = Messages.flatMap((message) => {
        const { MessageId, ReceiptHandle, Body } = message;
        if (MessageId === undefined || ReceiptHandle === undefined || seen.has(MessageId)) return [];
        seen.add(MessageId);
        const sentMs = Number(message.Attributes?.SentTimestamp);
        return [
          {
            messageId: MessageId,
            receiptHandle: ReceiptHandle,
            body: Body ?? '',
            sentAt: Number.isFinite(sentMs) && sentMs > 0 ? new Date(sentMs).toISOString() : null,
          },
        ];
      });
      if (fresh.length === 0) return { messages, more: false };
      messages.push(...fresh);
    }
    return { messages, more: (await this.depth()).visible > 0 };
  }

  /** Makes held messages visible again at once, for the next reader. */
  async release(messages: readonly HeldMessage[]): Promise<void> {
    for (const message of messages) {
      await this.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.queueUrl,
          ReceiptHandle: message.receiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
  }

  async delete(message: HeldMessage): Promise<void> {
    await this.sqs.send(
      new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.receiptHandle }),
    );
  }

  /** Messages waiting (visible) and held by a reader (in flight); SQS's counts are approximate. */
  async depth(): Promise<{ visible: number; inFlight: number }> {
    const { Attributes = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }
}
