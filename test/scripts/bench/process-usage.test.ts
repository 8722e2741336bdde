import { describe, expect, it } from 'vitest';
import {
  kindOfEnvironment,
  parseCpuCgroupPath,
  parseMemoryUsedMb,
  parseProcStat,
  parseRssKb,
  parseSchedstatWaitNs,
  parseThrottledNs,
  usageByKind,
} from '../../../scripts/bench/process-usage';
import { LOCAL_CONTROLLER_NAME, LOCAL_WORKER_NAME } from '../../../scripts/local-stack/local-endpoints';

describe('parseProcStat', () => {
  it('reads pid, ppid and utime + stime, counting fields after the last parenthesis', () => {
    const line = '4242 (node (x) y) S 4200 4242 4200 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 11 0 100 0 0';
    expect(parseProcStat(line)).toEqual({ pid: 4242, ppid: 4200, cpuTicks: 175 });
  });

  it('refuses text that is not a stat line', () => {
    expect(() => parseProcStat('no such process')).toThrow(/not a \/proc/);
  });
});

describe('parseRssKb', () => {
  it('reads VmRSS, or 0 when the process has none', () => {
    expect(parseRssKb('Name:\tnode\nVmRSS:\t   81234 kB\nVmSwap:\t0 kB\n')).toBe(81_234);
    expect(parseRssKb('Name:\tzombie\n')).toBe(0);
  });
});

describe('kindOfEnvironment', () => {
  const environ = (name: string) =>
    ['PATH=/usr/bin', `AWS_LAMBDA_FUNCTION_NAME=${name}`, 'TZ=:UTC'].join('\0');

  it('tells the controller and worker sandboxes apart by their function name', () => {
    expect(kindOfEnvironment(environ(LOCAL_CONTROLLER_NAME))).toBe('controller');
    expect(kindOfEnvironment(environ(LOCAL_WORKER_NAME))).toBe('worker');
    expect(kindOfEnvironment('PATH=/usr/bin')).toBe('other');
  });
});

describe('usageByKind', () => {
  it('counts CPU from the first reading, all of it for a process born in the window, and peak RSS', () => {
    const first = [
      {
        pid: 1,
        kind: 'stack' as const,
        cpuTicks: 1_000,
        rssKb: 100 * 1024,
        runQueueWaitNs: 1e9,
        throttledNs: 0,
      },
      {
        pid: 2,
        kind: 'controller' as const,
        cpuTicks: 50,
        rssKb: 60 * 1024,
        runQueueWaitNs: 0,
        throttledNs: 1e9,
      },
    ];
    const last = [
      {
        pid: 1,
        kind: 'stack' as const,
        cpuTicks: 1_900,
        rssKb: 90 * 1024,
        runQueueWaitNs: 3e9,
        throttledNs: 0,
      },
      {
        pid: 2,
        kind: 'controller' as const,
        cpuTicks: 80,
        rssKb: 70 * 1024,
        runQueueWaitNs: 0.5e9,
        throttledNs: 2e9,
      },
      {
        pid: 3,
        kind: 'controller' as const,
        cpuTicks: 20,
        rssKb: 50 * 1024,
        runQueueWaitNs: 0.5e9,
        throttledNs: 1e9,
      },
    ];
    // 10 s at 100 ticks/s: 900 ticks is 90% of a core.
    expect(usageByKind([first, last], 10_000, 100)).toEqual([
      {
        kind: 'stack',
        processes: 1,
        cpuPercent: 90,
        maxProcessCpuPercent: 90,
        rssMb: 100,
        maxProcessRssMb: 100,
        runQueueWaitPercent: 20,
        throttledPercent: 0,
      },
      {
        kind: 'controller',
        processes: 2,
        cpuPercent: 5,
        maxProcessCpuPercent: 3,
        rssMb: 120,
        maxProcessRssMb: 70,
        runQueueWaitPercent: 10,
        throttledPercent: 20,
      },
    ]);
  });
});

describe('parseMemoryUsedMb', () => {
  it('is MemTotal − MemAvailable', () => {
    const meminfo = 'MemTotal:       24684544 kB\nMemFree:        22000000 kB\nMemAvailable:   23610880 kB\n';
    expect(parseMemoryUsedMb(meminfo)).toBe(1048.5);
  });

  it('refuses text without them', () => {
    expect(() => parseMemoryUsedMb('MemFree: 1 kB\n')).toThrow(/MemAvailable/);
  });
});

describe('scheduler and cgroup readings', () => {
  it('reads the run-queue wait of schedstat', () => {
    expect(parseSchedstatWaitNs('46149 113329 1\n')).toBe(113_329);
  });

  it('finds the v1 cpu cgroup, alone or joined with cpuacct', () => {
    expect(parseCpuCgroupPath('4:memory:/x\n1:cpu:/sub-minute-sandboxes-1-a/sandbox-3\n0::/\n')).toBe(
      '/sub-minute-sandboxes-1-a/sandbox-3',
    );
    expect(parseCpuCgroupPath('2:cpu,cpuacct:/y\n')).toBe('/y');
    expect(parseCpuCgroupPath('0::/\n')).toBeUndefined();
  });

  it('reads throttled_time, 0 when absent', () => {
    expect(parseThrottledNs('nr_periods 10\nnr_throttled 4\nthrottled_time 123456\n')).toBe(123_456);
    expect(parseThrottledNs('')).toBe(0);
  });
});
