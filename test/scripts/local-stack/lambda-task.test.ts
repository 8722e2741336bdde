import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLambdaClient,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localClientOptions,
} from '../../../functions/shared/aws-clients';
import {
  invokeLambdaTask,
  LAMBDA_UNKNOWN_ERROR,
  TaskFailure,
} from '../../../scripts/local-stack/lambda-task';
import { localFunctionArn } from '../../../scripts/local-stack/local-endpoints';
import { LocalFunctions } from '../../../scripts/local-stack/local-functions';
import { type InjectedFault, LocalServicesServer } from '../../../scripts/local-stack/local-services-server';

/**
 * A Lambda Task's errors as Step Functions names them, produced by the real Lambda client against the local
 * Lambda endpoint (whose fault injection answers as the Lambda service would) and against a bare HTTP server
 * for what the endpoint cannot say (a payload without errorType, a request that never gets an answer).
 */
class OrderRejectedError extends Error {
  override readonly name = 'OrderRejectedError';
}

const arn = (name: string) => localFunctionArn(name, LOCAL_REGION);
let server: LocalServicesServer;
let lambda: LambdaClient;
let bare: Server;
let bareEndpoint: string;
let refusedEndpoint: string;

async function listen(raw: Server): Promise<string> {
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const functions = new LocalFunctions();
  functions.register('echo', async (event) => ({ echoed: event }));
  functions.register('rejects', async () => {
    throw new OrderRejectedError('order 7 rejected');
  });
  server = new LocalServicesServer(
    functions,
    () => {
      throw new Error('no Step Functions here');
    },
    () => {},
  );
  const port = await server.listen('127.0.0.1', 0);
  lambda = createLambdaClient(localClientOptions(`http://127.0.0.1:${port}`, 1));

  // Answers /timed-out with the payload an older runtime sends for a timeout, and never answers /hangs.
  bare = createServer((request, response) => {
    if (request.url?.includes('timed-out')) {
      response
        .writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' })
        .end('{"errorMessage":"2030-01-01T00:00:03.000Z 1234 Task timed out after 3.00 seconds"}');
    }
  });
  bareEndpoint = await listen(bare);
  const closed = createServer();
  refusedEndpoint = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
});

afterAll(async () => {
  lambda.destroy();
  await server.close();
  bare.closeAllConnections();
  await new Promise<void>((resolve) => bare.close(() => resolve()));
});

async function failureOf(run: Promise<unknown>): Promise<TaskFailure> {
  try {
    await run;
  } catch (error) {
    expect(error).toBeInstanceOf(TaskFailure);
    return error as TaskFailure;
  }
  throw new Error('expected the task to fail');
}

function injecting(fault: InjectedFault) {
  server.injectFault = (service) => (service === 'lambda' ? fault : undefined);
}

describe('invokeLambdaTask', () => {
  it("returns the function's result", async () => {
    server.injectFault = () => undefined;
    await expect(invokeLambdaTask(lambda, arn('echo'), { a: 1 })).resolves.toEqual({ echoed: { a: 1 } });
  });

  it("fails with the function's own error name and its error payload as the Cause", async () => {
    // act
    const failure = await failureOf(invokeLambdaTask(lambda, arn('rejects'), {}));

    // assess
    expect(failure.name).toBe('OrderRejectedError');
    expect(JSON.parse(failure.message)).toMatchObject({
      errorType: 'OrderRejectedError',
      errorMessage: 'order 7 rejected',
    });
  });

  it('fails with Lambda.Unknown when the error payload names no error type (a timeout, a crash)', async () => {
    // prepare
    const client = createLambdaClient(localClientOptions(bareEndpoint, 1));

    // act
    const failure = await failureOf(invokeLambdaTask(client, arn('timed-out'), {}));
    client.destroy();

    // assess
    expect(failure.name).toBe(LAMBDA_UNKNOWN_ERROR);
    expect(failure.message).toContain('Task timed out after 3.00 seconds');
  });

  it.each([
    { status: 429, errorType: 'TooManyRequestsException', expected: 'Lambda.TooManyRequestsException' },
    { status: 500, errorType: 'ServiceException', expected: 'Lambda.ServiceException' },
    { status: 404, errorType: 'ResourceNotFoundException', expected: 'Lambda.ResourceNotFoundException' },
    // Not in Lambda's API model: Step Functions reports the Java SDK's base exception.
    { status: 403, errorType: 'AccessDeniedException', expected: 'Lambda.AWSLambdaException' },
  ])(
    'names a $status $errorType from the Lambda service $expected',
    async ({ status, errorType, expected }) => {
      // prepare
      injecting({ status, errorType, message: `refused (${errorType})` });

      // act
      const failure = await failureOf(invokeLambdaTask(lambda, arn('echo'), {}));
      server.injectFault = () => undefined;

      // assess
      expect(failure.name).toBe(expected);
      expect(failure.message).toBe(
        `refused (${errorType}) (Service: AWSLambda; Status Code: ${status}; Error Code: ${errorType}; Request ID: null; Proxy: null)`,
      );
    },
  );

  it('names an endpoint that refuses the connection Lambda.SdkClientException', async () => {
    // prepare
    const client = createLambdaClient(localClientOptions(refusedEndpoint, 1));

    // act
    const failure = await failureOf(invokeLambdaTask(client, arn('echo'), {}));
    client.destroy();

    // assess
    expect(failure.name).toBe('Lambda.SdkClientException');
    expect(failure.message).toContain('Unable to execute HTTP request');
  });

  it('names a request the client gave up waiting for Lambda.ClientExecutionTimeoutException', async () => {
    // prepare: the bare server never answers /hangs.
    const client = new LambdaClient({
      region: LOCAL_REGION,
      endpoint: bareEndpoint,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
      requestHandler: { requestTimeout: 200, throwOnRequestTimeout: true },
    });

    // act
    const failure = await failureOf(invokeLambdaTask(client, arn('hangs'), {}));
    client.destroy();

    // assess
    expect(failure.name).toBe('Lambda.ClientExecutionTimeoutException');
  });
});
