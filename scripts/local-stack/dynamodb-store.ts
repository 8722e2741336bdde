import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';

/** dynalite, a DynamoDB-compatible server, in memory or persisted to `dataDir` (LevelDB). */
export class DynamoDbStore {
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(host: string, port: number, dataDir?: string): Promise<DynamoDbStore> {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(dataDir ? { path: dataDir } : {}) });
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return new DynamoDbStore(server, (server.address() as AddressInfo).port);
  }

  /** Closes the server and the store (flushing LevelDB when persisted). */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
