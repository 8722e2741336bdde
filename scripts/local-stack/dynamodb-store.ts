import { mkdirSync } from 'node:fs';
import { Server as HttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import dynalite from 'dynalite';
import { type LatencyModel, type Meter, NO_LATENCY, NO_METER } from './latency-model';
import { LOCAL_KEEP_ALIVE_MS } from './local-endpoints';

/**
 * Requests dynalite is still working on. Its close() waits for the store's pending operations, but an UpdateItem is
 * a read then a write, and between the two none is pending: a close there makes the write throw "Database is closed"
 * from a callback (an uncaught error in whatever process runs the stack). So close() waits for the answers first.
 */
class RequestsInFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  /** Counts the request until dynalite ends its response (whether or not the client is still there). */
  track(response: ServerResponse): void {
    this.count += 1;
    let done = false;
    const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
    response.end = ((...args: unknown[]) => {
      if (!done) {
        done = true;
        this.count -= 1;
        if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
      }
      return end(...args);
    }) as ServerResponse['end'];
  }

  /** Resolves once no request is in flight, or after `capMs` (a request dynalite never answers must not hang a stop). */
  async drained(capMs: number): Promise<void> {
    if (this.count === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, capMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * Asks the table for the capacity a request consumes (ReturnConsumedCapacity TOTAL, which DynamoDB and dynalite
 * answer with the units charged) and reports them from the answer. The request's body is read here and handed to
 * dynalite as a new stream with the same headers; a client that did not ask gets one more field in the answer,
 * which the SDK reads as what it is. Resolves with the request dynalite is to serve.
 */
async function meterCapacity(
  request: IncomingMessage,
  response: ServerResponse,
  report: (units: number, request: unknown) => void,
): Promise<IncomingMessage> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  let body = Buffer.concat(chunks);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !('ReturnConsumedCapacity' in parsed)) {
      body = Buffer.from(JSON.stringify({ ...parsed, ReturnConsumedCapacity: 'TOTAL' }));
    }
  } catch {
    // Not JSON: dynalite answers it with its own error.
  }
  const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
  response.end = ((...args: unknown[]) => {
    const [sent] = args;
    if (typeof sent === 'string' || Buffer.isBuffer(sent)) report(capacityUnitsOf(sent.toString()), parsed);
    return end(...args);
  }) as ServerResponse['end'];
  const replay = Readable.from([body]) as unknown as IncomingMessage;
  Object.assign(replay, { headers: request.headers, method: request.method, url: request.url });
  return replay;
}

/** The capacity units an answer reports (one table, or a list of tables for batch operations); 0 when none. */
function capacityUnitsOf(answer: string): number {
  try {
    const parsed: unknown = JSON.parse(answer);
    if (typeof parsed !== 'object' || parsed === null || !('ConsumedCapacity' in parsed)) return 0;
    const consumed: unknown = parsed.ConsumedCapacity;
    const all = Array.isArray(consumed) ? consumed : [consumed];
    return all.reduce<number>((sum, entry) => {
      const units =
        typeof entry === 'object' && entry !== null && 'CapacityUnits' in entry ? entry.CapacityUnits : 0;
      return sum + (typeof units === 'number' ? units : 0);
    }, 0);
  } catch {
    return 0;
  }
}

/** How long close() waits for requests dynalite is still answering: an UpdateItem takes milliseconds. */
const CLOSE_DRAIN_CAP_MS = 2_000;

/** dynalite, a DynamoDB-compatible server, in memory or persisted to `dataDir` (LevelDB). */
export class DynamoDbStore {
  private constructor(
    private readonly server: Server,
    private readonly host: string,
    readonly port: number,
    private readonly inFlight: RequestsInFlight,
  ) {}

  static async start(
    host: string,
    port: number,
    dataDir?: string,
    latency: LatencyModel = NO_LATENCY,
    meter: Meter = NO_METER,
  ): Promise<DynamoDbStore> {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    const server = dynalite({
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
      ...(dataDir ? { path: dataDir } : {}),
    });
    server.keepAliveTimeout = LOCAL_KEEP_ALIVE_MS;
    const [serve] = server.listeners('request') as ((
      request: IncomingMessage,
      response: ServerResponse,
    ) => void)[];
    if (serve === undefined) throw new Error('dynalite registered no request listener');
    const inFlight = new RequestsInFlight();
    server.removeAllListeners('request');
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      inFlight.track(response);
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
      meter.dynamoDbRequest(operation);
      const delayMs = latency.dynamoDbRequestMs(operation);
      const answer = (incoming: IncomingMessage) => {
        if (delayMs > 0) setTimeout(() => serve(incoming, response), delayMs);
        else serve(incoming, response);
      };
      const record = meter.dynamoDbCapacity?.bind(meter);
      if (record === undefined) answer(request);
      else
        meterCapacity(request, response, (units, body) => record(operation, units, body)).then(answer, () =>
          answer(request),
        );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return new DynamoDbStore(server, host, (server.address() as AddressInfo).port, inFlight);
  }

  /**
   * Fault injection: stop accepting connections (clients see ECONNREFUSED) while keeping the data, as an
   * unreachable DynamoDB endpoint would. dynalite's own close() would also close the store, hence the plain one.
   */
  async refuseConnections(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => HttpServer.prototype.close.call(this.server, () => resolve()));
  }

  /** Ends refuseConnections(): listen on the same port again. */
  async acceptConnections(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, () => resolve());
    });
  }

  /** Closes the server and the store (flushing LevelDB when persisted). */
  async close(): Promise<void> {
    await this.inFlight.drained(CLOSE_DRAIN_CAP_MS);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
