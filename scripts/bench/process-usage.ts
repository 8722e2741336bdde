import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { DEFAULT_CGROUP_V1_CPU_ROOT } from '../local-stack/lambda-sandbox/cpu-share';
import { LOCAL_CONTROLLER_NAME, LOCAL_WORKER_NAME } from '../local-stack/local-endpoints';

/** Which part of the local stack a process is. */
export type ProcessKind = 'stack' | 'controller' | 'worker' | 'other';
export const PROCESS_KINDS: readonly ProcessKind[] = ['stack', 'controller', 'worker', 'other'];

/** The fields of /proc/<pid>/stat the benchmark uses. */
export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** User + system CPU time, in clock ticks. */
  readonly cpuTicks: number;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may hold spaces and parentheses itself,
 * so the fields are counted from its last ')'.
 */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const pid = Number(text.slice(0, text.indexOf('(')).trim());
  // After ')': state (field 3), ppid (4), … utime (14), stime (15).
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (n: number) => Number(rest[n - 3]);
  const stat = { pid, ppid: field(4), cpuTicks: field(14) + field(15) };
  if (close < 0 || !Object.values(stat).every(Number.isSafeInteger)) {
    throw new Error(`not a /proc/<pid>/stat line: '${text.slice(0, 80)}'`);
  }
  return stat;
}

/** VmRSS of /proc/<pid>/status, in kB; 0 when absent (a process being reaped). */
export function parseRssKb(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) : 0;
}

/** The Lambda function a sandbox runs, from its environment (the sandbox sets AWS_LAMBDA_FUNCTION_NAME). */
export function kindOfEnvironment(environ: string): ProcessKind {
  const name = environ
    .split('\u0000')
    .find((entry) => entry.startsWith('AWS_LAMBDA_FUNCTION_NAME='))
    ?.slice('AWS_LAMBDA_FUNCTION_NAME='.length);
  if (name === LOCAL_CONTROLLER_NAME) return 'controller';
  if (name === LOCAL_WORKER_NAME) return 'worker';
  return 'other';
}

/** One reading of one process. */
export interface ProcessSample {
  readonly pid: number;
  readonly kind: ProcessKind;
  readonly cpuTicks: number;
  readonly rssKb: number;
  /** Time its threads were runnable but not running (/proc/<pid>/schedstat): waiting for a core or its quota. */
  readonly runQueueWaitNs: number;
  /** Time its cgroup was held back by its CPU quota (cpu.stat throttled_time); 0 outside a quota. */
  readonly throttledNs: number;
}

/** The second field of /proc/<pid>/schedstat: ns spent runnable on a run queue, not running. */
export function parseSchedstatWaitNs(schedstat: string): number {
  const wait = Number(schedstat.trim().split(/\s+/)[1]);
  return Number.isSafeInteger(wait) ? wait : 0;
}

/** The v1 `cpu` cgroup of a process, from /proc/<pid>/cgroup (`1:cpu:/path`, or `cpu,cpuacct`). */
export function parseCpuCgroupPath(cgroup: string): string | undefined {
  for (const line of cgroup.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers?.split(',').includes('cpu') && path !== undefined) return path;
  }
  return undefined;
}

/** `throttled_time` of a cgroup's cpu.stat, ns; 0 when absent (the root cgroup has no quota). */
export function parseThrottledNs(cpuStat: string): number {
  const match = /^throttled_time (\d+)$/m.exec(cpuStat);
  return match ? Number(match[1]) : 0;
}

function throttledNsOf(pid: number, cgroupRoot: string): number {
  const path = parseCpuCgroupPath(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
  if (path === undefined || path === '/') return 0;
  try {
    return parseThrottledNs(readFileSync(`${cgroupRoot}${path}/cpu.stat`, 'utf8'));
  } catch {
    return 0;
  }
}

/**
 * This process (the local stack: dynalite, the Step Functions interpreter, the Lambda endpoint, the benchmark) and
 * its child processes (the sandboxes, which it forks). A process that ends while being read is left out.
 */
export function sampleProcesses(
  selfPid: number = process.pid,
  cgroupRoot: string = DEFAULT_CGROUP_V1_CPU_ROOT,
): ProcessSample[] {
  const samples: ProcessSample[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      if (pid !== selfPid && stat.ppid !== selfPid) continue;
      const kind =
        pid === selfPid ? 'stack' : kindOfEnvironment(readFileSync(`/proc/${pid}/environ`, 'latin1'));
      samples.push({
        pid,
        kind,
        cpuTicks: stat.cpuTicks,
        rssKb: parseRssKb(readFileSync(`/proc/${pid}/status`, 'utf8')),
        runQueueWaitNs: parseSchedstatWaitNs(readFileSync(`/proc/${pid}/schedstat`, 'utf8')),
        throttledNs: throttledNsOf(pid, cgroupRoot),
      });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return samples;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on common kernels). */
export function clockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (Number.isSafeInteger(ticks) && ticks > 0) return ticks;
  } catch {
    // No getconf: Linux's USER_HZ is 100 on every architecture Node.js runs on.
  }
  return 100;
}

/** CPU and memory of one kind of process over a window. */
export interface KindUsage {
  readonly kind: ProcessKind;
  readonly processes: number;
  /** CPU over the window, in % of one core, all processes of the kind together. */
  readonly cpuPercent: number;
  /** The busiest process of the kind, in % of one core. */
  readonly maxProcessCpuPercent: number;
  /** RSS of all of them at their largest sample, summed, and the largest one's. */
  readonly rssMb: number;
  readonly maxProcessRssMb: number;
  /** Runnable but not running over the window, in % of the window, all processes together (process-seconds/s). */
  readonly runQueueWaitPercent: number;
  /** Of the window, how long its processes were held back by their quota, all together, in %. */
  readonly throttledPercent: number;
}

/**
 * Usage per kind between a first and a last reading (with any readings between them, for peak RSS and processes
 * that came and went). A process first seen after the first reading was born in the window: all its CPU counts.
 */
export function usageByKind(
  readings: readonly (readonly ProcessSample[])[],
  windowMs: number,
  ticksPerSecond: number,
): KindUsage[] {
  const baseline = new Map((readings[0] ?? []).map((sample) => [sample.pid, sample]));
  const perPid = new Map<
    number,
    { kind: ProcessKind; ticks: number; rssKb: number; waitNs: number; throttledNs: number }
  >();
  for (const reading of readings) {
    for (const sample of reading) {
      const known = perPid.get(sample.pid);
      const first = baseline.get(sample.pid);
      perPid.set(sample.pid, {
        kind: sample.kind,
        ticks: sample.cpuTicks - (first?.cpuTicks ?? 0),
        rssKb: Math.max(known?.rssKb ?? 0, sample.rssKb),
        waitNs: sample.runQueueWaitNs - (first?.runQueueWaitNs ?? 0),
        throttledNs: sample.throttledNs - (first?.throttledNs ?? 0),
      });
    }
  }
  const nsPercent = (ns: number) => (ns / 1e6 / windowMs) * 100;
  const percentOf = (ticks: number) => (ticks / ticksPerSecond / (windowMs / 1000)) * 100;
  return PROCESS_KINDS.map((kind) => {
    const own = [...perPid.values()].filter((usage) => usage.kind === kind);
    return {
      kind,
      processes: own.length,
      cpuPercent: percentOf(own.reduce((sum, usage) => sum + usage.ticks, 0)),
      maxProcessCpuPercent: percentOf(own.reduce((max, usage) => Math.max(max, usage.ticks), 0)),
      rssMb: own.reduce((sum, usage) => sum + usage.rssKb, 0) / 1024,
      maxProcessRssMb: own.reduce((max, usage) => Math.max(max, usage.rssKb), 0) / 1024,
      runQueueWaitPercent: nsPercent(own.reduce((sum, usage) => sum + usage.waitNs, 0)),
      throttledPercent: nsPercent(own.reduce((sum, usage) => sum + usage.throttledNs, 0)),
    };
  }).filter((usage) => usage.processes > 0);
}

/** MemTotal − MemAvailable of /proc/meminfo, in MB: what the machine uses, shared pages counted once. */
export function parseMemoryUsedMb(meminfo: string): number {
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(meminfo)?.[1]);
  const used = (kb('MemTotal') - kb('MemAvailable')) / 1024;
  if (!Number.isFinite(used)) throw new Error('/proc/meminfo has no MemTotal or MemAvailable');
  return used;
}

export function machineMemoryUsedMb(): number {
  return parseMemoryUsedMb(readFileSync('/proc/meminfo', 'utf8'));
}
