/**
 * Where the local stack listens and what it calls things. Shared by `npm start`, `npm run ctl -- --local` and the
 * tests, so they always agree.
 */
export const LOCAL_HOST = '127.0.0.1';
/** dynalite (DynamoDB API). */
export const DEFAULT_DYNAMODB_PORT = 8000;
/** The local Lambda invoke API and Step Functions API share one server on the next port. */
export const servicesPortFor = (dynamoDbPort: number) => dynamoDbPort + 1;

/**
 * How long the local endpoints keep an idle connection, as AWS's endpoints do across a client's calls. Node's HTTP
 * agent keeps a pooled socket one second less than the server's `Keep-Alive: timeout=N` hint, so the 1 s this once
 * was made every SDK call open a new connection: each fire paid a connect and a close (on AWS, a TLS handshake)
 * that the deployed controller, reusing its connections, does not pay. close() ends these connections at once.
 */
export const LOCAL_KEEP_ALIVE_MS = 30_000;

export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_TABLE_NAME = 'SubMinuteLambdaExecutor-local-control';
export const LOCAL_STATE_MACHINE_NAME = 'SubMinuteLambdaExecutor-local-loop';
export const LOCAL_CONTROLLER_NAME = 'SubMinuteLambdaExecutor-local-controller';
export const LOCAL_WORKER_NAME = 'SubMinuteLambdaExecutor-local-worker';
/** The failed-ticks queue, served by the same server as Lambda and Step Functions. */
export const LOCAL_FAILED_TICKS_QUEUE_NAME = 'SubMinuteLambdaExecutor-local-failed-ticks';

export const localEndpoint = (port: number) => `http://${LOCAL_HOST}:${port}`;
export const localFunctionArn = (name: string, region: string) =>
  `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:${name}`;
export const localStateMachineArn = (region: string, name: string = LOCAL_STATE_MACHINE_NAME) =>
  `arn:aws:states:${region}:${LOCAL_ACCOUNT}:stateMachine:${name}`;
/** A queue's URL as SQS builds them (`<endpoint>/<account>/<name>`), on the local services endpoint. */
export const localQueueUrl = (servicesEndpoint: string, name: string = LOCAL_FAILED_TICKS_QUEUE_NAME) =>
  `${servicesEndpoint}/${LOCAL_ACCOUNT}/${name}`;
