import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { type AwsClientOptions, clientConfig } from '../../functions/shared/aws-clients';

/** Only the CLI reads stack outputs, so this client is built here, with the shared client options. */
export function createCloudFormationClient(options: AwsClientOptions = {}): CloudFormationClient {
  return new CloudFormationClient(clientConfig(options));
}
