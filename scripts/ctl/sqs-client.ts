import { SQSClient } from '@aws-sdk/client-sqs';
import { type AwsClientOptions, clientConfig } from '../../functions/shared/aws-clients';

/**
 * Only the CLI (and the tests) read the failed-ticks queue; no Lambda bundle loads this client. The SDK sends
 * each call to the host of its QueueUrl unless an endpoint is given, so one client serves any queue URL.
 */
export function createSqsClient(options: AwsClientOptions = {}): SQSClient {
  return new SQSClient(clientConfig(options));
}
