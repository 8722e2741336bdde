import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { InvokeApi, InvokeSentUnanswered, LambdaApiError } from '../../../functions/shared/lambda-invoke-api';
import { amzDateInstant, sdkAuthorization } from '../../support/sdk-signature';

const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'secret/EXAMPLE+key',
  sessionToken: 'token==',
};

/** What a request carried over the wire. */
interface Received {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

describe('InvokeApi.sign', () => {
  let server: Server;
  let port: number;
  const received: Received[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(request.headers)) headers[name] = String(value);
        received.push({ path: request.url ?? '', headers, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it.each(['worker', 'worker:live', 'arn:aws:lambda:eu-west-1:123456789012:function:worker:$LATEST'])(
    'sends an invoke of %s whose signature Lambda verifies over what arrived',
    async (target) => {
      // prepare: a client with a session token, on a local endpoint that keeps what arrived
      const lambda = new LambdaClient({
        region: 'eu-west-1',
        endpoint: `http://127.0.0.1:${port}`,
        credentials: CREDENTIALS,
      });
      const api = new InvokeApi(lambda);
      const body = JSON.stringify({ pollerId: 'p1', seq: 7, scheduledAt: '2026-11-24T01:00:00.000Z' });

      // act
      const answer = await (await api.open(await api.sign(target, 'Event', body))).send();
      api.destroy();
      lambda.destroy();

      // assess: SigV4 recomputed by an independent signer from the headers the request says it signed, as they
      // arrived (Host included), the path as it arrived and the body
      const arrival = received.at(-1);
      if (arrival === undefined) throw new Error('nothing arrived');
      const authorization = arrival.headers.authorization ?? '';
      const signedNames = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
      const signedHeaders = Object.fromEntries(
        signedNames.map((name) => [name, arrival.headers[name] ?? '']),
      );
      const expected = await sdkAuthorization({
        credentials: CREDENTIALS,
        region: 'eu-west-1',
        service: 'lambda',
        path: arrival.path,
        headers: signedHeaders,
        body: arrival.body,
        signingDate: amzDateInstant(arrival.headers['x-amz-date'] ?? ''),
      });
      expect(answer.status).toBe(202);
      expect(signedNames).toEqual(
        expect.arrayContaining(['host', 'x-amz-invocation-type', 'x-amz-security-token']),
      );
      expect(arrival.headers['x-amz-invocation-type']).toBe('Event');
      expect(arrival.path).toBe(`/2015-03-31/functions/${encodeURIComponent(target)}/invocations`);
      expect(arrival.body).toBe(body);
      expect(authorization).toBe(expected);
      expect(authorization).toContain('/eu-west-1/lambda/aws4_request');
    },
  );
});

describe('InvokeApi.open', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        if (request.url?.includes('missing')) {
          response.writeHead(404, {
            'content-type': 'application/json',
            'x-amzn-errortype': 'ResourceNotFoundException:http://internal.amazon.com/coral/',
          });
          return void response.end(JSON.stringify({ Type: 'User', message: 'Function not found: missing' }));
        }
        response.writeHead(200, { 'x-amz-function-error': 'Unhandled' }).end('{"errorType":"Error"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it("names an error answer as the SDK does: X-Amzn-ErrorType's name, the body's message, the status", async () => {
    const api = new InvokeApi(createLambdaClient(localClientOptions(url)));

    const opened = await api.open(await api.sign('missing', 'Event', '{}'));
    const error = await opened.send().catch((caught: unknown) => caught);
    api.destroy();

    expect(error).toBeInstanceOf(LambdaApiError);
    expect(error).toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Function not found: missing',
      status: 404,
    });
  });

  it("answers a synchronous call with its status, X-Amz-Function-Error and the worker's payload", async () => {
    const api = new InvokeApi(createLambdaClient(localClientOptions(url)));

    const opened = await api.open(await api.sign('worker', 'RequestResponse', '{}'));
    const answer = await opened.send();
    api.destroy();

    expect(answer.status).toBe(200);
    expect(answer.functionError).toBe('Unhandled');
    expect(answer.payload.toString('utf8')).toBe('{"errorType":"Error"}');
  });
});

describe('InvokeApi.open, when the connection lets the request down', () => {
  const ACCEPTED = 'HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n';

  /** A raw server: `onRequest` decides what each request (its index on its connection) gets. */
  async function rawServer(onConnection: (socket: Socket, requests: string[]) => void) {
    const received: string[] = [];
    const sockets: Socket[] = [];
    const server = createTcpServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      onConnection(socket, received);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const api = new InvokeApi(
      createLambdaClient(localClientOptions(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
    );
    const close = () => {
      api.destroy();
      for (const socket of sockets) socket.destroy();
      server.close();
    };
    return { api, received, sockets, close };
  }
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('fails as not sent (to be retried) when the server closed the kept connection while the request waited', async () => {
    // prepare: a first call keeps its connection; the server then closes it, idle, as an endpoint's timeout does
    const server = await rawServer((socket, received) =>
      socket.on('data', (data) => {
        received.push(data.toString('latin1'));
        socket.write(ACCEPTED);
      }),
    );
    const signed = await server.api.sign('worker', 'Event', '{}');
    await (await server.api.open(signed)).send();
    const opened = await server.api.open(signed);
    server.sockets[0]?.end();
    await pause(30);

    // act
    const error = await opened.send().catch((caught: unknown) => caught);
    server.close();

    // assess
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(InvokeSentUnanswered);
    expect(server.received).toHaveLength(1);
  });

  it("fails as not sent when an answer comes before the request (an idle connection's 408), and keeps nothing", async () => {
    // prepare
    const server = await rawServer((socket) =>
      socket.write('HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n'),
    );
    const opened = await server.api.open(await server.api.sign('worker', 'Event', '{}'));
    await pause(30);

    // act
    const error = await opened.send().catch((caught: unknown) => caught);
    server.close();

    // assess
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(InvokeSentUnanswered);
    expect(error).not.toBeInstanceOf(LambdaApiError);
    expect(String(error)).toContain('answered 408 before the request was sent');
  });

  it('reports a request written and then cut off as sent without an answer (never retried)', async () => {
    // prepare: the server reads the request whole, then drops the connection
    const server = await rawServer((socket, received) =>
      socket.on('data', (data) => {
        received.push(data.toString('latin1'));
        socket.destroy();
      }),
    );
    const opened = await server.api.open(await server.api.sign('worker', 'Event', '{"seq":1}'));

    // act
    const error = await opened.send().catch((caught: unknown) => caught);
    server.close();

    // assess
    expect(error).toBeInstanceOf(InvokeSentUnanswered);
    expect(server.received.join('')).toContain('{"seq":1}');
  });
});
