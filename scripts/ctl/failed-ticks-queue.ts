import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  MessageNotInflight,
  ReceiptHandleIsInvalid,
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
    /** Where each message received so far is in `messages`. */
    const indexOf = new Map<string, number>();
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
      let fresh = 0;
      for (const message of Messages) {
        const { MessageId, ReceiptHandle, Body } = message;
        if (MessageId === undefined || ReceiptHandle === undefined) continue;
        const sentMs = Number(message.Attributes?.SentTimestamp);
        const held: HeldMessage = {
          messageId: MessageId,
          receiptHandle: ReceiptHandle,
          body: Body ?? '',
          sentAt: Number.isFinite(sentMs) && sentMs > 0 ? new Date(sentMs).toISOString() : null,
        };
        const index = indexOf.get(MessageId);
        // Received again (its hold ran out while reading): only the latest receipt handle releases or deletes it.
        if (index !== undefined) {
          messages[index] = held;
          continue;
        }
        indexOf.set(MessageId, messages.length);
        messages.push(held);
        fresh += 1;
      }
      if (fresh === 0) return { messages, more: false };
    }
    return { messages, more: (await this.depth()).visible > 0 };
  }

  /**
   * Hides a held message for `holdSeconds` from now, just before the CLI acts on it; `lapsed` when its hold ran out
   * already (SQS: MessageNotInflight; ReceiptHandleIsInvalid once another reader received it again), so it may be
   * in another reader's hands and must not be acted on.
   */
  async extend(message: HeldMessage, holdSeconds: number): Promise<'held' | 'lapsed'> {
    try {
      await this.changeVisibility(message, holdSeconds);
      return 'held';
    } catch (error) {
      if (isLapsedHold(error)) return 'lapsed';
      throw error;
    }
  }

  /**
   * Makes held messages visible again at once, for the next reader. One whose hold ran out already (visible again,
   * or received by another reader since) is left as it is: there is nothing to release. Any other error is thrown
   * once every message was tried.
   */
  async release(messages: readonly HeldMessage[]): Promise<void> {
    const errors: unknown[] = [];
    for (const message of messages) {
      try {
        await this.changeVisibility(message, 0);
      } catch (error) {
        if (!isLapsedHold(error)) errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }

  private async changeVisibility(message: HeldMessage, visibilityTimeout: number): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: message.receiptHandle,
        VisibilityTimeout: visibilityTimeout,
      }),
    );
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

/**
 * SQS's answers to a ChangeMessageVisibility whose hold is over: MessageNotInflight when the visibility timeout
 * expired (the message is visible again), ReceiptHandleIsInvalid when the handle is not the latest (received
 * again since) or the message is gone.
 */
function isLapsedHold(error: unknown): boolean {
  return error instanceof MessageNotInflight || error instanceof ReceiptHandleIsInvalid;
}
