import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { type AwsClientOptions, clientConfig } from './client-config';
import { registerClientTimeouts } from './lambda-invoke-api';

export {
  type AwsClientOptions,
  CONTROL_PLANE_MAX_ATTEMPTS,
  CONTROL_PLANE_TIMEOUTS,
  clientConfig,
  type HttpTimeouts,
} from './client-config';

/** Credentials the local stack accepts (it checks none); never valid on AWS. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

export function createDynamoDbClient(options: AwsClientOptions = {}): DynamoDBClient {
  const dynamoDb = new DynamoDBClient(clientConfig(options));
  // The SDK's logger step copies every input and output through its schemas for a logger even when the logger
  // discards it: a third of a shard controller's garbage, read on the tick path as collections. Nothing here
  // logs through the SDK.
  dynamoDb.middlewareStack.remove('loggerMiddleware');
  return dynamoDb;
}

export function createLambdaClient(options: AwsClientOptions = {}): LambdaClient {
  const lambda = new LambdaClient(clientConfig(options));
  registerClientTimeouts(lambda, options.timeouts);
  return lambda;
}

/** Options for a client of the local stack listening on `endpoint`. */
export function localClientOptions(endpoint: string, maxAttempts?: number): AwsClientOptions {
  return { region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts };
}
