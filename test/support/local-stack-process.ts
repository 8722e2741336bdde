import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LocalStackEvent } from '../../scripts/local-stack/local-stack';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** True when `port` can be listened on right now (on the local stack's host). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

/** A free port whose successor is free too: `npm start -- --port N` listens on N and N + 1. */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = await new Promise<number>((resolvePort, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (port > 0 && port < 65_534 && (await portIsFree(port + 1))) return port;
  }
  throw new Error('no free pair of consecutive ports after 20 attempts');
}

/**
 * `npm start -- --json …` as a child process in its own process group (tsx starts node under it), with every
 * JSON line it prints parsed into `events`. kill() signals the whole group, so nothing is left behind.
 */
export class LocalStackProcess {
  readonly events: LocalStackEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(args: readonly string[]) {
    this.child = spawn(
      resolve(REPO_ROOT, 'node_modules/.bin/tsx'),
      ['scripts/local-stack.ts', '--json', ...args],
      {
        cwd: REPO_ROOT,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.exited = new Promise((resolveExit) =>
      this.child.once('exit', (code, signal) => resolveExit({ code, signal })),
    );
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as LocalStackEvent);
      } catch {
        // Not an event line.
      }
    });
    createInterface({ input: this.child.stderr as NodeJS.ReadableStream }).on('line', (line) =>
      this.stderr.push(line),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  fires(): Extract<LocalStackEvent, { event: 'fire' }>[] {
    return this.events.filter(
      (event): event is Extract<LocalStackEvent, { event: 'fire' }> => event.event === 'fire',
    );
  }

  /**
   * Signals the whole process group (SIGKILL: like a crash or `kill -9`) and waits for the leader to exit. Sent
   * even when the leader is gone, so a node process it started cannot outlive it.
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.pid !== undefined) {
      try {
        process.kill(-this.pid, signal);
      } catch {
        // The group is gone already.
      }
    }
    await this.exited;
  }
}
