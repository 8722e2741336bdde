import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TickFailedError } from '../../../functions/shared/errors';
import { FETCH_TIMEOUT_MS, fetchPayloadUrl } from '../../../functions/worker/fetch-payload-url';
import type { Tick } from '../../../functions/worker-kit/tick-handler';

const tickWith = (payload?: Record<string, unknown>): Tick => ({
  pollerId: 'orders',
  seq: 42,
  scheduledAt: '2030-01-01T00:00:00.000Z',
  scheduledAtMs: Date.parse('2030-01-01T00:00:00.000Z'),
  latenessMs: 0,
  idempotencyKey: 'orders#42',
  ...(payload ? { payload } : {}),
});

const servers: Server[] = [];

async function startServer(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/** A port that was just free: listen on port 0, note the port, close the server. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  return `http://127.0.0.1:${port}/`;
}

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

async function failureOf(run: Promise<unknown>): Promise<TickFailedError> {
  const error = await run.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof TickFailedError))
    throw new Error(`expected a TickFailedError; got ${String(error)}`);
  return error;
}

describe('fetchPayloadUrl', () => {
  it('does nothing and succeeds when the payload has no url', async () => {
    // prepare
    const fetchSpy = vi.fn<typeof fetch>();

    // act
    const report = await fetchPayloadUrl(tickWith({ other: 'value' }), { fetch: fetchSpy });

    // assess
    expect(report).toEqual({});
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('GETs payload.url and reports a 2xx answer as a tick that went well, with status and latency', async () => {
    // prepare
    const requests: { method: string | undefined; url: string | undefined }[] = [];
    const baseUrl = await startServer((request, response) => {
      requests.push({ method: request.method, url: request.url });
      setTimeout(() => response.writeHead(202, { 'content-type': 'text/plain' }).end('accepted'), 50);
    });

    // act
    const report = await fetchPayloadUrl(tickWith({ url: `${baseUrl}/ping?seq=42` }));

    // assess
    expect(requests).toEqual([{ method: 'GET', url: '/ping?seq=42' }]);
    expect(report.detail).toBe('HTTP 202');
    expect(report.properties?.status).toBe(202);
    expect(report.properties?.latencyMs).toBeGreaterThanOrEqual(45);
  });

  it('fails the tick on a 404, saying "HTTP 404" and keeping the status for the metric line', async () => {
    // prepare
    const baseUrl = await startServer((_request, response) => response.writeHead(404).end('no'));

    // act
    const failure = await failureOf(fetchPayloadUrl(tickWith({ url: `${baseUrl}/missing` })));

    // assess
    expect(failure.detail).toBe('HTTP 404');
    expect(failure.message).toBe("poller 'orders': tick 42 failed: HTTP 404");
    expect(failure.properties).toMatchObject({ status: 404 });
  });

  it('fails the tick on a refused connection, naming ECONNREFUSED rather than "fetch failed"', async () => {
    // prepare
    const url = await closedPortUrl();

    // act
    const failure = await failureOf(fetchPayloadUrl(tickWith({ url })));

    // assess
    expect(failure.detail).toMatch(/^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    expect(typeof failure.properties.latencyMs).toBe('number');
  });

  it('asks fetch to give up after FETCH_TIMEOUT_MS', async () => {
    // prepare
    const timeoutSpy = vi.spyOn(AbortSignal, 'timeout');
    const baseUrl = await startServer((_request, response) => response.end('ok'));

    // act
    await fetchPayloadUrl(tickWith({ url: `${baseUrl}/` }));

    // assess
    expect(timeoutSpy).toHaveBeenCalledWith(FETCH_TIMEOUT_MS);
  });

  it('fails the tick with a TimeoutError when a server never answers', async () => {
    // prepare
    const baseUrl = await startServer(() => {
      // Never answers.
    });

    // act
    const failure = await failureOf(
      fetchPayloadUrl(tickWith({ url: `${baseUrl}/hang` }), { fetchTimeoutMs: 100 }),
    );

    // assess
    expect(failure.detail).toMatch(/^TimeoutError: /);
    expect(failure.properties.latencyMs).toBeGreaterThanOrEqual(90);
  });
});
