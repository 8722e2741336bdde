import { createHash, createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { InvokeApi, LambdaApiError } from '../../../functions/shared/lambda-invoke-api';

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytesOf = (data: SourceData) =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** The SDK signer's hash interface on node:crypto (an HMAC when given a secret). */
class NodeSha256 {
  readonly #hash;
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

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
      const amzDate = arrival.headers['x-amz-date'] ?? '';
      const verifier = new SignatureV4({
        credentials: CREDENTIALS,
        region: 'eu-west-1',
        service: 'lambda',
        sha256: NodeSha256,
      });
      const expected = await verifier.sign(
        {
          method: 'POST',
          protocol: 'http:',
          hostname: '127.0.0.1',
          port,
          path: arrival.path,
          query: {},
          headers: signedHeaders,
          body: arrival.body,
        },
        {
          signingDate: new Date(
            amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'),
          ),
        },
      );
      expect(answer.status).toBe(202);
      expect(signedNames).toEqual(
        expect.arrayContaining(['host', 'x-amz-invocation-type', 'x-amz-security-token']),
      );
      expect(arrival.headers['x-amz-invocation-type']).toBe('Event');
      expect(arrival.path).toBe(`/2015-03-31/functions/${encodeURIComponent(target)}/invocations`);
      expect(arrival.body).toBe(body);
      expect(authorization).toBe(expected.headers.authorization);
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
