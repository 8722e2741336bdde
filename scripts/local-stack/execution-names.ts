import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SubMinuteError } from '../../functions/shared/errors';

/** Step Functions refuses a Standard execution name for 90 days after an execution used it. */
export const EXECUTION_NAME_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;

/** The file of used names could not be read: its path and what was wrong, so the operator can fix or delete it. */
export class ExecutionNamesFileError extends SubMinuteError {
  override readonly name = 'ExecutionNamesFileError';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`execution names file '${path}': ${detail}`);
  }
}

/**
 * The execution names a state machine has used, with when each execution started: in memory, or kept in a JSON
 * file (`{ "<name>": "<ISO start>" }`, replaced atomically on every change) so that a local stack started again
 * on the same data still refuses them. Names older than 90 days are dropped, as Step Functions frees them.
 */
export class ExecutionNames {
  private readonly used: Map<string, number>;

  private constructor(
    private readonly path: string | undefined,
    used: Map<string, number>,
    private readonly now: () => number,
  ) {
    this.used = used;
  }

  static inMemory(now: () => number = Date.now): ExecutionNames {
    return new ExecutionNames(undefined, new Map(), now);
  }

  /** Reads `path` if it exists (dropping names past their 90 days); writes it as names are used. */
  static persisted(path: string, now: () => number = Date.now): ExecutionNames {
    const names = new ExecutionNames(path, readNames(path), now);
    names.dropExpired();
    return names;
  }

  /** When an execution of that name started, if it did within the last 90 days. */
  startedAt(name: string): number | undefined {
    const startedAt = this.used.get(name);
    return startedAt !== undefined && this.now() - startedAt < EXECUTION_NAME_RETENTION_MS
      ? startedAt
      : undefined;
  }

  record(name: string, startedAt: number): void {
    this.used.set(name, startedAt);
    this.dropExpired();
    this.write();
  }

  private dropExpired(): void {
    const oldest = this.now() - EXECUTION_NAME_RETENTION_MS;
    for (const [name, startedAt] of this.used) if (startedAt <= oldest) this.used.delete(name);
  }

  private write(): void {
    if (this.path === undefined) return;
    const entries = [...this.used].map(([name, startedAt]) => [name, new Date(startedAt).toISOString()]);
    mkdirSync(dirname(this.path), { recursive: true });
    // A killed process leaves either the old file or the new one, never half of one.
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(Object.fromEntries(entries), null, 1)}\n`);
    renameSync(temporary, this.path);
  }
}

function readNames(path: string): Map<string, number> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new ExecutionNamesFileError(path, error instanceof Error ? error.message : String(error));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ExecutionNamesFileError(path, 'not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ExecutionNamesFileError(path, 'expected an object of execution names and start times');
  }
  const used = new Map<string, number>();
  for (const [name, value] of Object.entries(parsed)) {
    const startedAt = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    if (!Number.isFinite(startedAt)) {
      throw new ExecutionNamesFileError(
        path,
        `the start time of '${name}' is not a timestamp: ${JSON.stringify(value)}`,
      );
    }
    used.set(name, startedAt);
  }
  return used;
}
