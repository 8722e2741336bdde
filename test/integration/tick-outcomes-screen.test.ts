import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePortPair } from '../support/local-stack-process';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tick-outcomes-screen-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `npm start` in text mode for `durationSeconds`, as an operator runs it: what it prints on stdout. */
async function screenOf(pollersYaml: string, durationSeconds: number): Promise<string[]> {
  const file = join(dir, 'pollers.yaml');
  await writeFile(file, pollersYaml);
  const port = await freePortPair();
  const child = spawn(
    resolve(REPO_ROOT, 'node_modules/.bin/tsx'),
    [
      'scripts/local-stack.ts',
      '--pollers',
      file,
      '--duration',
      String(durationSeconds),
      '--port',
      String(port),
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const code = await new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
  expect(code).toBe(0);
  return stdout.split('\n');
}

describe('the npm start screen', () => {
  it('prints each fire with what the worker did: a refused connection, a 404, a success', async () => {
    // prepare: a feed answering 404 on one path and 200 on another, and a port nobody listens on
    const feed = createServer((request, response) =>
      response.writeHead(request.url === '/missing' ? 404 : 200).end(),
    );
    await new Promise<void>((resolveListen) => feed.listen(0, '127.0.0.1', resolveListen));
    const feedUrl = `http://127.0.0.1:${(feed.address() as AddressInfo).port}`;
    const closed = createServer();
    await new Promise<void>((resolveListen) => closed.listen(0, '127.0.0.1', resolveListen));
    const refusedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolveClose) => closed.close(() => resolveClose()));

    // act
    const lines = await screenOf(
      [
        '- id: refused',
        '  every: 1',
        `  payload: { url: "http://127.0.0.1:${refusedPort}/feed" }`,
        '- id: missing',
        '  every: 1',
        `  payload: { url: "${feedUrl}/missing" }`,
        '- id: fine',
        '  every: 1',
        `  payload: { url: "${feedUrl}/ok" }`,
      ].join('\n'),
      5,
    ).finally(() => {
      feed.closeAllConnections();
      feed.close();
    });

    // assess: one line per fire, with its outcome, and no separate error line for a failed tick
    const fires = (poller: string) => lines.filter((line) => line.startsWith(`fire  ${poller}  `));
    expect(fires('refused').length).toBeGreaterThanOrEqual(2);
    for (const line of fires('refused')) {
      expect(line).toMatch(
        new RegExp(
          `late \\d+\\.\\d ms  → failed: connect ECONNREFUSED 127\\.0\\.0\\.1:${refusedPort} \\(\\d+ ms\\)$`,
        ),
      );
    }
    expect(fires('missing').every((line) => / → failed: HTTP 404 \(\d+ ms\)$/.test(line))).toBe(true);
    expect(fires('fine').every((line) => / → ok HTTP 200 in \d+ ms$/.test(line))).toBe(true);
    expect(fires('missing').length).toBeGreaterThanOrEqual(2);
    expect(fires('fine').length).toBeGreaterThanOrEqual(2);
    expect(lines.filter((line) => line.startsWith('error'))).toEqual([]);
  }, 90_000);
});
