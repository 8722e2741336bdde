import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';

/**
 * The one place that builds AWS clients. On AWS everything comes from the Lambda environment (region, role
 * credentials); the local stack, the CLI and the tests pass an endpoint and static credentials instead.
 */
export interface AwsClientOptions {
  readonly region?: string | undefined;
  /** e.g. http://127.0.0.1:8000 for the local stack; undefined means the real AWS endpoint. */
  readonly endpoint?: string | undefined;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
  /** SDK attempts per call (first try included); the state machine adds its own retries on top. */
  readonly maxAttempts?: number | undefined;
  /** Connection and request time limits (ms); none by default, as in the SDK. */
  readonly timeouts?: HttpTimeouts | undefined;
}

export interface HttpTimeouts {
  readonly connectionMs: number;
  readonly requestMs: number;
}

/**
 * The deployed control plane's limits: a stuck socket must not eat the 5 s a staying-awake controller keeps to
 * hand back before its deadline. With two attempts a call gives up within about 2 × (0.5 + 1.5) s = 4 s; a
 * GetItem, UpdateItem, async Invoke or StartExecution normally answers in tens of milliseconds.
 */
export const CONTROL_PLANE_TIMEOUTS: HttpTimeouts = { connectionMs: 500, requestMs: 1_500 };
export const CONTROL_PLANE_MAX_ATTEMPTS = 2;

/** Credentials the local stack accepts (it checks none); never valid on AWS. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

export function clientConfig(options: AwsClientOptions) {
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.timeouts
      ? {
          requestHandler: {
            connectionTimeout: options.timeouts.connectionMs,
            requestTimeout: options.timeouts.requestMs,
            // Without it, newer SDKs only warn when a request outlives requestTimeout.
            throwOnRequestTimeout: true,
          },
        }
      : {}),
  };
}

export function createDynamoDbClient(options: AwsClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient(clientConfig(options));
}

export function createLambdaClient(options: AwsClientOptions = {}): LambdaClient {
  return new LambdaClient(clientConfig(options));
}

/** Options for a client of the local stack listening on `endpoint`. */
export function localClientOptions(endpoint: string, maxAttempts?: number): AwsClientOptions {
  return { region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts };
}
