import { existsSync, statfsSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeCause, SubMinuteError } from '../../../functions/shared/errors';

/**
 * Lambda's CPU share: CPU is proportional to memory (1,769 MB is one vCPU, so 128 MB gets about 7.2% of a core),
 * enforced in short periods (about 20 ms by third-party measurement): a sandbox that spends its quota early in a
 * period is paused until the next one. Here a cgroup v1 `cpu` controller does the same with CFS bandwidth control,
 * one cgroup per sandbox.
 */
export const MB_PER_VCPU = 1_769;
export const CPU_PERIOD_US = 20_000;
/** The kernel refuses quotas below 1 ms. */
export const MIN_CPU_QUOTA_US = 1_000;
export const DEFAULT_CGROUP_V1_CPU_ROOT = '/sys/fs/cgroup/cpu';
/** statfs(2) f_type of a cgroup v1 hierarchy (CGROUP_SUPER_MAGIC): a directory that only looks like one is not. */
const CGROUP_V1_MAGIC = 0x27e0eb;
/** Our cgroups and workspaces are named `<prefix><owner pid>-<random>`, so a later run can find a dead run's. */
export const RUN_NAME_PREFIX = 'sub-minute-sandboxes-';

/** The fraction of one core a function of this memory size gets on Lambda (0.072 for 128 MB). */
export const coreShareOf = (memoryMb: number) => memoryMb / MB_PER_VCPU;

export const cpuQuotaUs = (memoryMb: number) =>
  Math.max(MIN_CPU_QUOTA_US, Math.round(CPU_PERIOD_US * coreShareOf(memoryMb)));

/** Whether sandboxes are confined, as data: the benchmark and `npm start -- --json` report it. */
export type CpuShareStatus =
  | { readonly applied: true; readonly mechanism: 'cgroup v1'; readonly periodMs: number }
  | { readonly applied: false; readonly reason: string };

/** One sandbox's cgroup; released once its process has exited. */
export interface CpuCgroup {
  release(): Promise<void>;
}

export interface CpuConfinement {
  readonly status: CpuShareStatus;
  /** Confines a running process to the share of `memoryMb`; undefined when confinement is not applied. */
  confine(pid: number, memoryMb: number): Promise<CpuCgroup | undefined>;
  /** Removes this run's cgroups (their processes must have exited). */
  close(): Promise<void>;
}

export class CpuConfinementError extends SubMinuteError {
  override readonly name = 'CpuConfinementError';
  constructor(
    readonly pid: number,
    readonly path: string,
    options: { cause: unknown },
  ) {
    super(`could not confine sandbox process ${pid} in ${path}: ${describeCause(options.cause)}`, options);
  }
}

class Unconfined implements CpuConfinement {
  readonly status: CpuShareStatus;
  constructor(reason: string) {
    this.status = { applied: false, reason };
  }
  async confine(): Promise<undefined> {
    return undefined;
  }
  async close(): Promise<void> {}
}

/** A run's cgroup under the v1 `cpu` root, with one child cgroup per sandbox carrying its quota. */
class CgroupV1Confinement implements CpuConfinement {
  readonly status: CpuShareStatus = { applied: true, mechanism: 'cgroup v1', periodMs: CPU_PERIOD_US / 1000 };
  private readonly live = new Set<string>();
  private sequence = 0;

  constructor(private readonly runDir: string) {}

  async confine(pid: number, memoryMb: number): Promise<CpuCgroup> {
    this.sequence += 1;
    const dir = join(this.runDir, `sandbox-${this.sequence}`);
    try {
      await mkdir(dir);
      this.live.add(dir);
      await writeFile(join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      await writeFile(join(dir, 'cpu.cfs_quota_us'), String(cpuQuotaUs(memoryMb)));
      // cgroup.procs moves every thread of the process (libuv's pool and V8's helpers count too).
      await writeFile(join(dir, 'cgroup.procs'), String(pid));
    } catch (error) {
      await removeCgroup(dir);
      this.live.delete(dir);
      throw new CpuConfinementError(pid, dir, { cause: error });
    }
    return {
      release: async () => {
        await removeCgroup(dir);
        this.live.delete(dir);
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.live].map((dir) => removeCgroup(dir)));
    this.live.clear();
    await removeCgroup(this.runDir);
  }
}

/**
 * Sets up confinement under `root` (a cgroup v1 `cpu` hierarchy), after removing what killed runs left there.
 * Without a writable controller it returns an unconfined setup that says why; `disabledReason` forces that.
 */
export async function openCpuConfinement(
  options: { readonly root?: string; readonly disabledReason?: string } = {},
): Promise<CpuConfinement> {
  if (options.disabledReason !== undefined) return new Unconfined(options.disabledReason);
  const root = options.root ?? DEFAULT_CGROUP_V1_CPU_ROOT;
  if (!existsSync(join(root, 'cpu.cfs_quota_us')) || !isCgroupV1(root)) {
    return new Unconfined(`no cgroup v1 cpu controller at ${root}`);
  }
  await sweepDeadRuns(root, async (dir) => {
    for (const child of await subdirectories(dir)) await killAndRemoveCgroup(join(dir, child));
    await removeCgroup(dir);
  });
  const runDir = join(root, runName());
  try {
    await mkdir(runDir);
  } catch (error) {
    return new Unconfined(`cannot create a cgroup under ${root} (${describeCause(error)})`);
  }
  return new CgroupV1Confinement(runDir);
}

function isCgroupV1(path: string): boolean {
  try {
    return statfsSync(path).type === CGROUP_V1_MAGIC;
  } catch {
    return false;
  }
}

/** `<prefix><pid>-<random>`: the pid says whose it is, the random part keeps two stacks in one process apart. */
export function runName(): string {
  return `${RUN_NAME_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Calls `remove` on every entry of `dir` named by a run whose process is gone (a killed local stack). */
export async function sweepDeadRuns(dir: string, remove: (path: string) => Promise<void>): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const owner = ownerPidOf(entry);
    if (owner === undefined || processIsAlive(owner)) continue;
    await remove(join(dir, entry)).catch(() => {});
  }
}

function ownerPidOf(entry: string): number | undefined {
  if (!entry.startsWith(RUN_NAME_PREFIX)) return undefined;
  const pid = Number(entry.slice(RUN_NAME_PREFIX.length).split('-')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function subdirectories(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
}

/**
 * A dead run's sandbox cgroup may still hold its processes: a frozen (SIGSTOPped) sandbox never sees its parent
 * go. They are ours (nothing else is put in these cgroups), so they are killed before the cgroup is removed.
 */
async function killAndRemoveCgroup(dir: string): Promise<void> {
  const pids = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => ''))
    .split('\n')
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  await removeCgroup(dir);
}

/** rmdir, retried briefly: a killed process leaves its cgroup a moment after the kill. */
async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
