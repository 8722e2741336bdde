/**
 * How the local stack stands in for AWS's own latency and how it meters billable work. Both are hooks at the
 * boundaries (the DynamoDB server, the Lambda endpoint, the Step Functions interpreter): our code runs unchanged.
 * The defaults add nothing and count nothing; the benchmark injects a seeded model and a meter.
 */
export interface LatencyModel {
  /** Added before dynalite serves a request: network plus service time. */
  dynamoDbRequestMs(operation: string): number;
  /** From the async Invoke call returning 202 to the worker handler starting. */
  asyncInvokeMs(functionName: string): number;
  /** From a Task state starting to the controller handler running: transitions, task start, warm or cold start. */
  taskStartMs(functionName: string): number;
}

export const NO_LATENCY: LatencyModel = {
  dynamoDbRequestMs: () => 0,
  asyncInvokeMs: () => 0,
  taskStartMs: () => 0,
};

/** Billable events as they happen on the local stack. */
export interface Meter {
  /** One state machine history event (StateEntered, StateExited, …) of an execution. */
  historyEvent(executionArn: string, type: string, stateName: string | undefined): void;
  /** One Lambda invocation and how long its handler ran. */
  lambdaInvocation(
    functionName: string,
    invocationType: 'Event' | 'RequestResponse',
    durationMs: number,
  ): void;
  /** One DynamoDB API request by operation name (GetItem, UpdateItem, …). */
  dynamoDbRequest(operation: string): void;
  /**
   * The capacity units one request consumed, as the table reports them (a Query is charged on the bytes it reads,
   * a write on the item's size). Only a meter that has this hook makes the store ask for them on every request.
   * `request` is the request's body as parsed JSON (undefined when it was not JSON): what a write set, for a meter
   * that counts what the table does not report (index writes).
   */
  dynamoDbCapacity?(operation: string, capacityUnits: number, request: unknown): void;
}

export const NO_METER: Meter = { historyEvent() {}, lambdaInvocation() {}, dynamoDbRequest() {} };
