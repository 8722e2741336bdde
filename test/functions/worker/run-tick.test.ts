import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidWorkerEventError } from '../../../functions/shared/errors';
import { createLogger, type Logger } from '../../../functions/shared/logger';
import { FETCH_TIMEOUT_MS, parseWorkerEvent, runTick } from '../../../functions/worker/run-tick';

interface LogCall {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

function recordingLogger(): { log: Logger; calls: LogCall[] } {
  const calls: LogCall[] = [];
  const log = createLogger((level, message, fields) => calls.push({ level, message, fields }));
  return { log, calls };
}

const tickEvent = (overrides: Record<string, unknown> = {}) => ({
  pollerId: 'orders',
  seq: 42,
  scheduledAt: new Date().toISOString(),
  ...overrides,
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

describe('parseWorkerEvent', () => {
  it.each([
    { label: 'not an object', event: 'tick', message: 'expected an object; got "tick"' },
    { label: 'null', event: null, message: 'expected an object; got null' },
    {
      label: 'missing pollerId',
      event: tickEvent({ pollerId: undefined }),
      message: 'pollerId must be a string; got undefined',
    },
    {
      label: 'empty pollerId',
      event: tickEvent({ pollerId: '' }),
      message: 'pollerId must be a string; got ""',
    },
    { label: 'string seq', event: tickEvent({ seq: '42' }), message: 'seq must be a whole number; got "42"' },
    {
      label: 'fractional seq',
      event: tickEvent({ seq: 4.2 }),
      message: 'seq must be a whole number; got 4.2',
    },
    {
      label: 'unparseable scheduledAt',
      event: tickEvent({ scheduledAt: 'soon' }),
      message: 'scheduledAt must be an ISO timestamp; got "soon"',
    },
    {
      label: 'numeric scheduledAt',
      event: tickEvent({ scheduledAt: 1_700_000_000_000 }),
      message: 'scheduledAt must be an ISO timestamp; got 1700000000000',
    },
    {
      label: 'array payload',
      event: tickEvent({ payload: ['x'] }),
      message: 'payload must be an object; got ["x"]',
    },
    {
      label: 'null payload',
      event: tickEvent({ payload: null }),
      message: 'payload must be an object; got null',
    },
  ])('rejects an event with $label, saying what was wrong and what it got', ({ event, message }) => {
    // act
    const parse = () => parseWorkerEvent(event);

    // assess
    expect(parse).toThrow(InvalidWorkerEventError);
    expect(parse).toThrow(`invalid worker event: ${message}`);
  });

  it('accepts a well-formed event with a payload', () => {
    // prepare
    const event = tickEvent({ scheduledAt: '2030-01-01T00:00:02.250Z', payload: { url: 'http://x', n: 1 } });

    // act
    const tick = parseWorkerEvent(event);

    // assess
    expect(tick).toEqual({
      pollerId: 'orders',
      seq: 42,
      scheduledAt: '2030-01-01T00:00:02.250Z',
      payload: { url: 'http://x', n: 1 },
    });
  });
});

describe('runTick', () => {
  it('logs the tick and fetches nothing when the payload has no url', async () => {
    // prepare
    const { log, calls } = recordingLogger();
    const fetchSpy = vi.fn<typeof fetch>();

    // act
    const result = await runTick(tickEvent({ payload: { other: 'value' } }), { log, fetch: fetchSpy });

    // assess
    expect(result).toEqual({ pollerId: 'orders', seq: 42 });
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      level: 'info',
      message: 'tick',
      fields: { pollerId: 'orders', seq: 42 },
    });
    expect(typeof calls[0]?.fields?.lateByMs).toBe('number');
  });

  it('rejects an invalid event before doing anything', async () => {
    // prepare
    const { log, calls } = recordingLogger();

    // act
    const run = runTick({ pollerId: 'orders' }, { log });

    // assess
    await expect(run).rejects.toThrow(InvalidWorkerEventError);
    expect(calls).toEqual([]);
  });

  it('GETs payload.url and reports the status and latency', async () => {
    // prepare
    const requests: { method: string | undefined; url: string | undefined }[] = [];
    const baseUrl = await startServer((request, response) => {
      requests.push({ method: request.method, url: request.url });
      setTimeout(() => response.writeHead(202, { 'content-type': 'text/plain' }).end('accepted'), 50);
    });
    const { log, calls } = recordingLogger();

    // act
    const result = await runTick(tickEvent({ payload: { url: `${baseUrl}/ping?seq=42` } }), { log });

    // assess
    expect(requests).toEqual([{ method: 'GET', url: '/ping?seq=42' }]);
    expect(result).toMatchObject({ pollerId: 'orders', seq: 42, status: 202 });
    expect(result.error).toBeUndefined();
    expect(result.latencyMs).toBeGreaterThanOrEqual(45);
    expect(result.latencyMs).toBeLessThan(FETCH_TIMEOUT_MS);
    expect(calls).toEqual([
      expect.objectContaining({
        level: 'info',
        message: 'tick fetched',
        fields: expect.objectContaining({
          pollerId: 'orders',
          seq: 42,
          status: 202,
          latencyMs: result.latencyMs,
        }),
      }),
    ]);
  });

  it('reports an error status as a status, not as a failure', async () => {
    // prepare
    const baseUrl = await startServer((_request, response) => response.writeHead(503).end());
    const { log } = recordingLogger();

    // act
    const result = await runTick(tickEvent({ payload: { url: `${baseUrl}/` } }), { log });

    // assess
    expect(result.status).toBe(503);
    expect(result.error).toBeUndefined();
  });

  it('reports and logs a refused connection instead of throwing', async () => {
    // prepare
    const url = await closedPortUrl();
    const { log, calls } = recordingLogger();

    // act
    const result = await runTick(tickEvent({ payload: { url } }), { log });

    // assess
    expect(result.status).toBeUndefined();
    expect(result.error).toMatch(/fetch failed/);
    expect(typeof result.latencyMs).toBe('number');
    expect(calls).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'tick fetch failed',
        fields: expect.objectContaining({ url, error: result.error }),
      }),
    ]);
  });

  it('asks fetch to give up after FETCH_TIMEOUT_MS', async () => {
    // prepare
    const timeoutSpy = vi.spyOn(AbortSignal, 'timeout');
    const baseUrl = await startServer((_request, response) => response.end('ok'));
    const { log } = recordingLogger();

    // act
    await runTick(tickEvent({ payload: { url: `${baseUrl}/` } }), { log });

    // assess
    expect(timeoutSpy).toHaveBeenCalledWith(FETCH_TIMEOUT_MS);
  });

  it('cuts off a server that never answers when the timeout expires', async () => {
    // prepare
    const baseUrl = await startServer(() => {
      // Never answers.
    });
    const { log, calls } = recordingLogger();

    // act
    const result = await runTick(tickEvent({ payload: { url: `${baseUrl}/hang` } }), {
      log,
      fetchTimeoutMs: 100,
    });

    // assess
    expect(result.status).toBeUndefined();
    expect(result.error).toMatch(/^TimeoutError: /);
    expect(result.latencyMs).toBeGreaterThanOrEqual(90);
    expect(result.latencyMs).toBeLessThan(FETCH_TIMEOUT_MS);
    expect(calls.map((call) => call.message)).toEqual(['tick fetch failed']);
  });
});
