import { mkdirSync } from 'node:fs';
import { Server as HttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { type LatencyModel, type Meter, NO_LATENCY, NO_METER } from './latency-model';

/** dynalite, a DynamoDB-compatible server, in memory or persisted to `dataDir` (LevelDB). */
export class DynamoDbStore {
  private constructor(
    private readonly server: Server,
    private readonly host: string,
    readonly port: number,
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
    server.keepAliveTimeout = 1_000;
    const [serve] = server.listeners('request') as ((
      request: IncomingMessage,
      response: ServerResponse,
    ) => void)[];
    if (serve && (latency !== NO_LATENCY || meter !== NO_METER)) {
      server.removeAllListeners('request');
      server.on('request', (request: IncomingMessage, response: ServerResponse) => {
        const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
        meter.dynamoDbRequest(operation);
        const delayMs = latency.dynamoDbRequestMs(operation);
        if (delayMs > 0) setTimeout(() => serve(request, response), delayMs);
        else serve(request, response);
      });
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return new DynamoDbStore(server, host, (server.address() as AddressInfo).port);
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
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
