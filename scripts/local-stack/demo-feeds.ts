import { createServer, type Server } from 'node:http';
import type { DeclaredFleet } from './seed-fleet';

/**
 * `npm start -- --demo`: the use case in miniature. A transit API with three feeds, served in the `npm start`
 * process on a free port of 127.0.0.1 (the worker sandboxes are processes on this machine, so they reach it), and
 * a fleet of three pollers that fetch them, each at its own cadence, through the example worker's `payload.url`.
 */
export interface DemoFeed {
  /** The feed's path on the demo server. */
  readonly path: string;
  /** The poller that fetches it, and how often. */
  readonly pollerId: string;
  readonly everySeconds: number;
  /** A tiny body like a transit API's, fresh on every request. */
  readonly body: (request: number) => unknown;
}

export const DEMO_FEEDS: readonly DemoFeed[] = [
  {
    path: '/predictions',
    pollerId: 'bus-predictions',
    everySeconds: 2,
    body: (request) => ({
      stop: '1234',
      predictions: [
        { route: '22', minutes: 7 - (request % 7) },
        { route: '36', minutes: 3 + (request % 5) },
      ],
    }),
  },
  {
    path: '/vehicles',
    pollerId: 'vehicle-positions',
    everySeconds: 1,
    body: (request) => ({
      vehicles: [{ id: 'bus-8821', route: '22', lat: 41.88 + request * 0.0001, lon: -87.63 }],
    }),
  },
  {
    path: '/alerts',
    pollerId: 'service-alerts',
    everySeconds: 10,
    body: () => ({ alerts: [{ route: '36', effect: 'DETOUR', header: 'Route 36 detoured at Clark St' }] }),
  },
];

/** How long the demo feeds take to answer, like a real API: a random pause in this range (a timer, no CPU). */
export const DEMO_LATENCY_MS = { min: 5, max: 40 } as const;

/** One request a demo feed answered. */
export interface FeedRequest {
  readonly path: string;
  readonly status: number;
  /** Requests this path has answered so far, this one included. */
  readonly requests: number;
}

export interface DemoFeeds {
  /** e.g. http://127.0.0.1:41234 */
  readonly baseUrl: string;
  /** Requests answered per path (unknown paths under their own path, status 404). */
  readonly requests: ReadonlyMap<string, number>;
  /** The three pollers, each with `payload.url` pointing at its feed. */
  readonly fleet: DeclaredFleet;
  close(): Promise<void>;
}

export async function startDemoFeeds(
  options: { readonly host?: string; readonly onRequest?: (request: FeedRequest) => void } = {},
): Promise<DemoFeeds> {
  const host = options.host ?? '127.0.0.1';
  const requests = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://demo').pathname;
    const count = (requests.get(path) ?? 0) + 1;
    requests.set(path, count);
    const feed = DEMO_FEEDS.find((candidate) => candidate.path === path);
    const delayMs = DEMO_LATENCY_MS.min + Math.random() * (DEMO_LATENCY_MS.max - DEMO_LATENCY_MS.min);
    setTimeout(() => {
      const status = feed === undefined ? 404 : 200;
      const body = feed === undefined ? { error: `no feed at ${path}` } : feed.body(count);
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
      options.onRequest?.({ path, status, requests: count });
    }, delayMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the demo feeds have no TCP address');
  const baseUrl = `http://${host}:${address.port}`;
  return {
    baseUrl,
    requests,
    fleet: {
      source: 'demo',
      pollers: DEMO_FEEDS.map((feed) => ({
        id: feed.pollerId,
        fields: { running: true, waitSeconds: feed.everySeconds, payload: { url: `${baseUrl}${feed.path}` } },
      })),
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
