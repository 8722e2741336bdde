/**
 * How the one place that builds AWS clients (aws-clients.ts) configures them; a module of its own, without the SDK
 * clients, so that a bundle that builds only a DynamoDB client (the worker kit) does not load the Lambda client. On
 * AWS everything comes from the Lambda environment (region, role
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

export function clientConfig(options: AwsClientOptions) {
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.timeouts ? { requestHandler: requestHandlerOf(options.timeouts) } : {}),
  };
}

/** The SDK's request handler options for these limits (the worker kit uses it alone: a smaller bundle). */
export function requestHandlerOf(timeouts: HttpTimeouts) {
  return {
    connectionTimeout: timeouts.connectionMs,
    requestTimeout: timeouts.requestMs,
    // Without it, newer SDKs only warn when a request outlives requestTimeout.
    throwOnRequestTimeout: true,
  };
}
