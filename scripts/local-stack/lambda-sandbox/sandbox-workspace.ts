import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFunction, INLINE_HANDLER } from '../../../infra/bundle-function';
import { runName, sweepDeadRuns } from './cpu-share';

const HERE = dirname(fileURLToPath(import.meta.url));
const RUNTIME_SHIM_ENTRY = join(HERE, 'runtime-shim.ts');
/**
 * Where the sandboxes find `@aws-sdk/*`, which the bundles leave out because the nodejs24.x runtime ships it: Lambda
 * puts its copy on NODE_PATH (/var/runtime/node_modules); the local stack puts the project's.
 */
export const PROJECT_NODE_MODULES = resolve(HERE, '../../../node_modules');

/** Bundles are deterministic for given sources, so one build per entry serves every stack in this process. */
const bundles = new Map<string, string>();

export function bundleOnce(entry: string): string {
  let code = bundles.get(entry);
  if (code === undefined) {
    code = bundleFunction(entry);
    bundles.set(entry, code);
  }
  return code;
}

/** A function's deployment package as Lambda lays it out: `index.js` in the task root. */
export interface FunctionPackage {
  readonly taskRoot: string;
  /** `index.handler`, as in the template. */
  readonly handler: string;
}

/**
 * A temporary directory per local stack holding the runtime shim and each function's package (the bundle the
 * template inlines, written as `index.js`). Removed on close; a killed run's directory is removed by the next.
 */
export class SandboxWorkspace {
  /** Lambda's LAMBDA_RUNTIME_DIR: the runtime shim lives here. */
  readonly runtimeDir: string;
  readonly shimPath: string;

  private constructor(readonly dir: string) {
    this.runtimeDir = join(dir, 'runtime');
    this.shimPath = join(this.runtimeDir, 'bootstrap.js');
    mkdirSync(this.runtimeDir);
    writeFileSync(this.shimPath, bundleOnce(RUNTIME_SHIM_ENTRY));
  }

  static async create(): Promise<SandboxWorkspace> {
    await sweepDeadRuns(tmpdir(), async (path) => {
      await killProcessesWorkingIn(path);
      await rm(path, { recursive: true, force: true });
    });
    return new SandboxWorkspace(mkdtempSync(join(tmpdir(), `${runName()}-`)));
  }

  /** Writes `code` as the package of `functionName`. */
  addFunction(functionName: string, code: string): FunctionPackage {
    const taskRoot = join(this.dir, 'functions', functionName);
    mkdirSync(taskRoot, { recursive: true });
    writeFileSync(join(taskRoot, 'index.js'), code);
    return { taskRoot, handler: INLINE_HANDLER };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A frozen (SIGSTOPped) sandbox never notices that its local stack was killed: it would stay forever. Its working
 * directory (its task root) is in its run's workspace, which is how a later run finds it, cgroups or not. Where
 * there is no /proc (macOS), nothing is found.
 */
async function killProcessesWorkingIn(dir: string): Promise<void> {
  const pids = (await readdir('/proc').catch(() => [])).filter((entry) => /^\d+$/.test(entry));
  for (const pid of pids) {
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (cwd !== dir && !cwd.startsWith(`${dir}/`)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}
