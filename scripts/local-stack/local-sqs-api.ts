import { isRecord } from '../../functions/shared/decode';
import { type LocalQueues, SqsRequestError } from './local-queues';

/** The SDK v3 SQS client's target prefix on the AWS JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.SendMessage`). */
export const SQS_TARGET_PREFIX = 'AmazonSQS.';

export type SqsAnswer =
  | { readonly status: 200; readonly body: Record<string, unknown> }
  | { readonly status: 400; readonly errorType: string; readonly body: Record<string, unknown> };

/**
 * The SQS actions the stack uses, on the JSON protocol: SendMessage (Lambda's on-failure destination),
 * ReceiveMessage, DeleteMessage, ChangeMessageVisibility (`ctl failed`) and GetQueueAttributes (the depth).
 * A queue is named by the last segment of its QueueUrl, as SQS's own URLs are built.
 */
export function answerSqs(queues: LocalQueues, action: string, requestBody: string): SqsAnswer {
  try {
    const request: unknown = requestBody === '' ? {} : JSON.parse(requestBody);
    if (!isRecord(request))
      throw new SqsRequestError('InvalidParameterValue', 'the request must be a JSON object');
    const queueName = queueNameOf(request.QueueUrl);
    switch (action) {
      case 'SendMessage': {
        const sent = queues.send(queueName, text(request, 'MessageBody'));
        return ok({ MessageId: sent.messageId, MD5OfMessageBody: sent.md5OfBody });
      }
      case 'ReceiveMessage': {
        const messages = queues.receive(
          queueName,
          whole(request, 'MaxNumberOfMessages') ?? 1,
          whole(request, 'VisibilityTimeout'),
        );
        const wanted = requestedAttributes(request);
        return ok({
          Messages: messages.map((message) => {
            const attributes = Object.fromEntries(
              Object.entries({
                SentTimestamp: String(message.sentAtMs),
                ApproximateReceiveCount: String(message.receiveCount),
              }).filter(([name]) => wanted.has('All') || wanted.has(name)),
            );
            return {
              MessageId: message.messageId,
              ReceiptHandle: message.receiptHandle,
              MD5OfBody: message.md5OfBody,
              Body: message.body,
              // As SQS: only the system attributes asked for (or `All`), and no Attributes at all for none.
              ...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}),
            };
          }),
        });
      }
      case 'DeleteMessage':
        queues.delete(queueName, text(request, 'ReceiptHandle'));
        return ok({});
      case 'ChangeMessageVisibility':
        queues.changeVisibility(
          queueName,
          text(request, 'ReceiptHandle'),
          whole(request, 'VisibilityTimeout') ?? 0,
        );
        return ok({});
      case 'GetQueueAttributes': {
        const { visible, inFlight } = queues.depth(queueName);
        return ok({
          Attributes: {
            ApproximateNumberOfMessages: String(visible),
            ApproximateNumberOfMessagesNotVisible: String(inFlight),
          },
        });
      }
      default:
        return refused('UnsupportedOperation', `${action} is not served by the local stack's SQS`);
    }
  } catch (error) {
    if (error instanceof SqsRequestError) return refused(error.code, error.message);
    if (error instanceof SyntaxError)
      return refused('InvalidParameterValue', `the request is not JSON: ${error.message}`);
    throw error;
  }
}

/**
 * The message system attributes a ReceiveMessage asks for: `MessageSystemAttributeNames`, or the deprecated
 * `AttributeNames` it replaced (SQS honours both).
 */
function requestedAttributes(request: Record<string, unknown>): Set<string> {
  const names = [request.MessageSystemAttributeNames, request.AttributeNames].flatMap((list) =>
    Array.isArray(list) ? list.filter((name): name is string => typeof name === 'string') : [],
  );
  return new Set(names);
}

const ok = (body: Record<string, unknown>): SqsAnswer => ({ status: 200, body });

function refused(code: string, message: string): SqsAnswer {
  return { status: 400, errorType: code, body: { __type: `com.amazonaws.sqs#${code}`, message } };
}

function queueNameOf(queueUrl: unknown): string {
  if (typeof queueUrl !== 'string' || queueUrl === '') {
    throw new SqsRequestError('InvalidParameterValue', 'QueueUrl is required');
  }
  let path: string;
  try {
    path = new URL(queueUrl).pathname;
  } catch {
    throw new SqsRequestError(
      'InvalidParameterValue',
      `QueueUrl must be a URL; got ${JSON.stringify(queueUrl)}`,
    );
  }
  return (
    path
      .split('/')
      .filter((segment) => segment !== '')
      .at(-1) ?? ''
  );
}

function text(request: Record<string, unknown>, field: string): string {
  const value = request[field];
  if (typeof value !== 'string') {
    throw new SqsRequestError(
      'InvalidParameterValue',
      `${field} must be a string; got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function whole(request: Record<string, unknown>, field: string): number | undefined {
  const value = request[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new SqsRequestError(
      'InvalidParameterValue',
      `${field} must be a whole number; got ${JSON.stringify(value)}`,
    );
  }
  return value;
}
