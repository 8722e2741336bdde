import { createHash, randomUUID } from 'node:crypto';
import { SubMinuteError } from '../../functions/shared/errors';

/** SQS's own limits that our callers can reach. */
export const SQS_LIMITS = {
  /** ReceiveMessage's MaxNumberOfMessages. */
  maxMessagesPerReceive: 10,
  /** VisibilityTimeout, seconds (12 hours). */
  maxVisibilityTimeoutSeconds: 43_200,
  /** A message body, bytes (1 MiB since 2025; 256 KiB before). */
  maxBodyBytes: 1_048_576,
} as const;

/** The default visibility timeout of a queue created without one, as SQS's (30 s). */
const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30;

/** A request SQS would refuse; `code` is the error's name on the JSON protocol (`__type`). */
export class SqsRequestError extends SubMinuteError {
  override readonly name = 'SqsRequestError';

  constructor(
    readonly code:
      | 'QueueDoesNotExist'
      | 'ReceiptHandleIsInvalid'
      | 'MessageNotInflight'
      | 'InvalidParameterValue',
    message: string,
  ) {
    super(message);
  }
}

export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly sentAtMs: number;
  readonly receiveCount: number;
}

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly sentAtMs: number;
  receiveCount: number;
  /** Hidden from receives until then (epoch ms); 0 = visible. */
  invisibleUntilMs: number;
  /** Only the latest receive's handle deletes it, as on SQS. */
  receiptHandle: string | undefined;
}

/**
 * Standard SQS queues in memory, with what the stack uses of them: send, receive with a visibility timeout,
 * delete by the latest receipt handle, change visibility, and the depth counts. Messages are kept in send order
 * (SQS promises no order; this order is one it may give). Retention (14 days) is longer than any local run.
 */
export class LocalQueues {
  private readonly queues = new Map<string, StoredMessage[]>();

  constructor(private readonly nowMs: () => number = Date.now) {}

  create(name: string): void {
    if (!this.queues.has(name)) this.queues.set(name, []);
  }

  send(queueName: string, body: string): { messageId: string; md5OfBody: string } {
    const messages = this.queue(queueName);
    if (body === '' || Buffer.byteLength(body) > SQS_LIMITS.maxBodyBytes) {
      throw new SqsRequestError(
        'InvalidParameterValue',
        `a message body must be 1 to ${SQS_LIMITS.maxBodyBytes} bytes; got ${Buffer.byteLength(body)}`,
      );
    }
    const message: StoredMessage = {
      messageId: randomUUID(),
      body,
      md5OfBody: md5Hex(body),
      sentAtMs: this.nowMs(),
      receiveCount: 0,
      invisibleUntilMs: 0,
      receiptHandle: undefined,
    };
    messages.push(message);
    return { messageId: message.messageId, md5OfBody: message.md5OfBody };
  }

  /** Up to `maxMessages` visible messages, each hidden for `visibilityTimeoutSeconds` (0: stays visible). */
  receive(
    queueName: string,
    maxMessages: number,
    visibilityTimeoutSeconds = DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
  ): ReceivedMessage[] {
    const messages = this.queue(queueName);
    checkRange('MaxNumberOfMessages', maxMessages, 1, SQS_LIMITS.maxMessagesPerReceive);
    checkRange('VisibilityTimeout', visibilityTimeoutSeconds, 0, SQS_LIMITS.maxVisibilityTimeoutSeconds);
    const now = this.nowMs();
    return messages
      .filter((message) => message.invisibleUntilMs <= now)
      .slice(0, maxMessages)
      .map((message) => {
        message.receiveCount += 1;
        message.invisibleUntilMs = visibilityTimeoutSeconds === 0 ? 0 : now + visibilityTimeoutSeconds * 1000;
        message.receiptHandle = `${message.messageId}#${randomUUID()}`;
        return {
          messageId: message.messageId,
          receiptHandle: message.receiptHandle,
          body: message.body,
          md5OfBody: message.md5OfBody,
          sentAtMs: message.sentAtMs,
          receiveCount: message.receiveCount,
        };
      });
  }

  /**
   * Deletes the message the handle was issued for. As on SQS, a handle of an earlier receive of a message
   * received again since succeeds without deleting it, and a handle of a message already deleted succeeds too.
   * The latest handle deletes the message even after its visibility timeout ended (it was not received again): a
   * standard queue accepts it ("Older receipt handles might succeed when you use standard SQS queues",
   * https://repost.aws/knowledge-center/sqs-receipt-handle-error; only FIFO queues refuse an expired handle).
   */
  delete(queueName: string, receiptHandle: string): void {
    const messages = this.queue(queueName);
    const index = messages.findIndex((message) => message.receiptHandle === receiptHandle);
    if (index >= 0) messages.splice(index, 1);
    // A handle this queue never issued (they are `<messageId>#<uuid>`) is malformed, as SQS says of a made-up one.
    else if (!receiptHandle.includes('#'))
      throw new SqsRequestError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${receiptHandle}" is invalid.`,
      );
  }

  /**
   * Makes a received message visible again after `visibilityTimeoutSeconds` (0: at once). As on SQS, only a
   * message in flight (received, its visibility timeout not over) can be changed: once the timeout ended the
   * change is refused with MessageNotInflight (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html:
   * "any attempt to change the visibility timeout or to delete that message [after it] might result in an
   * error"), and a handle that is not the latest receive's (received again since, or deleted) with
   * ReceiptHandleIsInvalid.
   */
  changeVisibility(queueName: string, receiptHandle: string, visibilityTimeoutSeconds: number): void {
    checkRange('VisibilityTimeout', visibilityTimeoutSeconds, 0, SQS_LIMITS.maxVisibilityTimeoutSeconds);
    const message = this.queue(queueName).find((candidate) => candidate.receiptHandle === receiptHandle);
    if (message === undefined) {
      throw new SqsRequestError(
        'ReceiptHandleIsInvalid',
        `The receipt handle "${receiptHandle}" is not that of a message in flight.`,
      );
    }
    const now = this.nowMs();
    if (message.invisibleUntilMs <= now) {
      throw new SqsRequestError(
        'MessageNotInflight',
        `The specified message isn't in flight (its visibility timeout ended ${now - message.invisibleUntilMs} ms ago).`,
      );
    }
    message.invisibleUntilMs = now + visibilityTimeoutSeconds * 1000;
  }

  /** ApproximateNumberOfMessages (visible) and ApproximateNumberOfMessagesNotVisible (in flight). */
  depth(queueName: string): { visible: number; inFlight: number } {
    const now = this.nowMs();
    const messages = this.queue(queueName);
    const inFlight = messages.filter((message) => message.invisibleUntilMs > now).length;
    return { visible: messages.length - inFlight, inFlight };
  }

  private queue(name: string): StoredMessage[] {
    const messages = this.queues.get(name);
    if (messages === undefined) {
      throw new SqsRequestError('QueueDoesNotExist', `The specified queue ${name} does not exist.`);
    }
    return messages;
  }
}

function checkRange(parameter: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SqsRequestError(
      'InvalidParameterValue',
      `Value ${value} for parameter ${parameter} is invalid. Reason: must be between ${min} and ${max}.`,
    );
  }
}

/** What the SDK checks a sent or received body against (its VALIDATE_BODY_MD5 middleware). */
const md5Hex = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
