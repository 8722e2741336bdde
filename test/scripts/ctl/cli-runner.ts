import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface ProcessRun {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npm run ctl -- …` without npm: the same entry file under tsx, as a child process. */
export function runCli(
  args: readonly string[],
  onStdout?: (stdout: string, child: ChildProcess) => void,
): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/ctl.ts', ...args], {
      cwd: process.cwd(),
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (exitCode) => resolve({ exitCode, stdout, stderr }));
  });
}

export const lines = (text: string) => text.split('\n').filter((line) => line !== '');

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port N with N and N+1 free, as `--local --port N` expects (DynamoDB on N, Step Functions on N+1). */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await isFree(port)) && (await isFree(port + 1))) return port;
  }
  throw new Error('no free port pair found');
}
