import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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
}

/**
 * This process (the local stack: dynalite, the Step Functions interpreter, the Lambda endpoint, the benchmark) and
 * its child processes (the sandboxes, which it forks). A process that ends while being read is left out.
 */
export function sampleProcesses(selfPid: number = process.pid): ProcessSample[] {
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
  const baseline = new Map((readings[0] ?? []).map((sample) => [sample.pid, sample.cpuTicks]));
  const perPid = new Map<number, { kind: ProcessKind; ticks: number; rssKb: number }>();
  for (const reading of readings) {
    for (const sample of reading) {
      const known = perPid.get(sample.pid);
      perPid.set(sample.pid, {
        kind: sample.kind,
        ticks: sample.cpuTicks - (baseline.get(sample.pid) ?? 0),
        rssKb: Math.max(known?.rssKb ?? 0, sample.rssKb),
      });
    }
  }
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
