import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeCause } from '../../functions/shared/errors';
import { LOCAL_KEEP_ALIVE_MS } from './local-endpoints';
import { FunctionNotFoundError, type LocalFunctions } from './local-functions';
import { LocalQueues } from './local-queues';
import { answerSqs, SQS_TARGET_PREFIX } from './local-sqs-api';
import type { ExecutionRecord, LocalStepFunctions } from './local-step-functions';

/** An error response the server sends instead of serving a request: how tests inject faults at the boundary. */
export interface InjectedFault {
  readonly status: number;
  readonly errorType: string;
  readonly message: string;
}

/** The services a fault can be injected into; the target is a function's name, a Step Functions or SQS action. */
export type FaultService = 'lambda' | 'stepfunctions' | 'sqs';

export type FaultInjector = (
  service: FaultService,
  target: string,
  /** The request's body (an invoke's payload, an action's input). */
  body: string,
) => InjectedFault | undefined;

const LAMBDA_INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const SFN_TARGET_PREFIX = 'AWSStepFunctions.';

/**
 * One HTTP server speaking three AWS wire protocols: Lambda's Invoke (REST-JSON), the Step Functions API and the
 * SQS API (both JSON 1.0). Real SDK clients and the AWS CLI talk to it unchanged.
 */
export class LocalServicesServer {
  private server: Server | undefined;
  private invoking = true;
  injectFault: FaultInjector = () => undefined;

  constructor(
    private readonly functions: LocalFunctions,
    private readonly stepFunctions: () => LocalStepFunctions,
    private readonly onAsyncFailure: (functionName: string, message: string, event: unknown) => void,
    /** The queues its SQS API serves (the failed-ticks queue). */
    readonly queues: LocalQueues = new LocalQueues(),
  ) {}

  async listen(host: string, port: number): Promise<number> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        sendJson(
          response,
          500,
          { __type: 'ServiceException', message: describeCause(error) },
          'ServiceException',
        );
      });
    });
    server.keepAliveTimeout = LOCAL_KEEP_ALIVE_MS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  /**
   * From now on every Invoke is answered with Lambda's ServiceException and runs nothing: the local stack is
   * stopping, and an invoke whose body arrives after that (a tick a dying round had sent) must not fire.
   */
  refuseInvocations(): void {
    this.invoking = false;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const lambdaMatch = LAMBDA_INVOKE_PATH.exec(path);
    if (request.method === 'POST' && lambdaMatch?.[1]) {
      return this.handleInvoke(decodeURIComponent(lambdaMatch[1]), request, body, response);
    }
    const target = String(request.headers['x-amz-target'] ?? '');
    if (request.method === 'POST' && target.startsWith(SFN_TARGET_PREFIX)) {
      return this.handleStepFunctions(target.slice(SFN_TARGET_PREFIX.length), body, response);
    }
    if (request.method === 'POST' && target.startsWith(SQS_TARGET_PREFIX)) {
      const fault = this.injectFault('sqs', target.slice(SQS_TARGET_PREFIX.length), body);
      if (fault) {
        sendJson(
          response,
          fault.status,
          { __type: fault.errorType, message: fault.message },
          fault.errorType,
        );
        return;
      }
      const answer = answerSqs(this.queues, target.slice(SQS_TARGET_PREFIX.length), body);
      sendJson(response, answer.status, answer.body, answer.status === 200 ? undefined : answer.errorType);
      return;
    }
    sendJson(
      response,
      404,
      { message: `The local stack does not serve ${request.method} ${path}` },
      'UnknownOperationException',
    );
  }

  private handleInvoke(
    functionName: string,
    request: IncomingMessage,
    body: string,
    response: ServerResponse,
  ): Promise<void> | void {
    const fault = this.injectFault('lambda', functionName, body);
    if (fault) {
      sendJson(response, fault.status, { Type: 'Service', message: fault.message }, fault.errorType);
      return;
    }
    if (!this.invoking) {
      sendJson(
        response,
        500,
        { Type: 'Service', message: 'the local stack is stopping' },
        'ServiceException',
      );
      return;
    }
    if (!this.functions.has(functionName)) {
      const error = new FunctionNotFoundError(functionName);
      sendJson(response, 404, { Type: 'User', message: error.message }, 'ResourceNotFoundException');
      return;
    }
    let event: unknown;
    try {
      event = body === '' ? {} : JSON.parse(body);
    } catch {
      sendJson(
        response,
        400,
        { Type: 'User', message: 'Could not parse request body into json' },
        'InvalidRequestContentException',
      );
      return;
    }
    const invocationType = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    // As Lambda: parameters and permissions checked (here, the function exists), nothing runs.
    if (invocationType === 'DryRun') {
      response.writeHead(204, { 'content-length': '0' }).end();
      return;
    }
    if (invocationType === 'Event') {
      this.functions.invokeAsync(functionName, event, (error) =>
        this.onAsyncFailure(functionName, `${error.errorType}: ${error.errorMessage}`, event),
      );
      response.writeHead(202, { 'content-length': '0' }).end();
      return;
    }
    return this.functions.invoke(functionName, event).then((outcome) => {
      if ('error' in outcome) {
        const text = JSON.stringify({ ...outcome.error, trace: [] });
        response
          .writeHead(200, {
            'content-type': 'application/json',
            'x-amz-function-error': 'Unhandled',
            'x-amz-executed-version': '$LATEST',
          })
          .end(text);
        return;
      }
      const text = JSON.stringify(outcome.result ?? null);
      response
        .writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' })
        .end(text);
    });
  }

  private handleStepFunctions(action: string, body: string, response: ServerResponse): void {
    const fault = this.injectFault('stepfunctions', action, body);
    if (fault) {
      sendJson(response, fault.status, { __type: fault.errorType, message: fault.message }, fault.errorType);
      return;
    }
    const request = (body === '' ? {} : JSON.parse(body)) as Record<string, string | undefined>;
    const sfn = this.stepFunctions();
    try {
      switch (action) {
        case 'StartExecution': {
          const record = sfn.startExecution({
            stateMachineArn: request.stateMachineArn ?? '',
            ...(request.input !== undefined ? { input: request.input } : {}),
            ...(request.name !== undefined ? { name: request.name } : {}),
          });
          sendJson(response, 200, {
            executionArn: record.executionArn,
            startDate: epochSeconds(record.startDate),
          });
          return;
        }
        case 'DescribeExecution':
          sendJson(response, 200, describe(sfn.describeExecution(request.executionArn ?? '')));
          return;
        case 'StopExecution': {
          const record = sfn.stopExecution(request.executionArn ?? '');
          sendJson(response, 200, { stopDate: epochSeconds(record.stopDate ?? new Date()) });
          return;
        }
        case 'ListExecutions': {
          const status = request.statusFilter as ExecutionRecord['status'] | undefined;
          const executions = sfn.listExecutions(status).map((record) => {
            const { input: _input, output: _output, ...summary } = describe(record);
            return summary;
          });
          sendJson(response, 200, { executions });
          return;
        }
        default:
          sendJson(response, 400, {
            __type: 'UnknownOperationException',
            message: `${action} is not served locally`,
          });
          return;
      }
    } catch (error) {
      const type = error instanceof Error ? error.name : 'ServiceException';
      sendJson(response, 400, { __type: type, message: describeCause(error) }, type);
      return;
    }
  }
}

function describe(record: ExecutionRecord) {
  return {
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    status: record.status,
    startDate: epochSeconds(record.startDate),
    input: record.input,
    ...(record.stopDate ? { stopDate: epochSeconds(record.stopDate) } : {}),
    ...(record.output !== undefined ? { output: record.output } : {}),
    ...(record.error !== undefined ? { error: record.error, cause: record.cause } : {}),
  };
}

const epochSeconds = (date: Date) => date.getTime() / 1000;

function sendJson(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  response
    .writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(text),
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    })
    .end(text);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
