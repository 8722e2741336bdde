import { SFNClient } from '@aws-sdk/client-sfn';
import { type AwsClientOptions, clientConfig } from './aws-clients';

/** Kept apart from aws-clients.ts so that functions that never start executions do not load the SFN client. */
export function createSfnClient(options: AwsClientOptions = {}): SFNClient {
  return new SFNClient(clientConfig(options));
}
