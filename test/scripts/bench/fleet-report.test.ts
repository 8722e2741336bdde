import { describe, expect, it } from 'vitest';
import { whereTheTimeGoes } from '../../../scripts/bench/fleet-report';
import type { KindUsage } from '../../../scripts/bench/process-usage';

const usage = (kind: KindUsage['kind'], cpuPercent: number, processes = 1): KindUsage => ({
  kind,
  processes,
  cpuPercent,
  maxProcessCpuPercent: cpuPercent / processes,
  rssMb: 0,
  maxProcessRssMb: 0,
  runQueueWaitPercent: 0,
  throttledPercent: 0,
});

describe('whereTheTimeGoes', () => {
  it("names the stack's process when its one event loop is CPU-bound", () => {
    const sentence = whereTheTimeGoes([usage('stack', 95), usage('controller', 40, 200)], 2);
    expect(sentence).toMatch(/local stack's own process is CPU-bound at 95\.0%/);
    expect(sentence).toMatch(/135\.0% of one core in all \(the machine has 2\)/);
  });

  it('says the machine is saturated when all cores are busy but no one process is bound', () => {
    expect(whereTheTimeGoes([usage('stack', 60), usage('controller', 130, 200)], 2)).toMatch(/saturated/);
  });

  it('says the cores are contended when a kind waits a second per second or more beyond its quota', () => {
    const waiting = { ...usage('controller', 130, 200), runQueueWaitPercent: 4447, throttledPercent: 120 };
    expect(whereTheTimeGoes([usage('stack', 32), waiting], 2)).toMatch(
      /the cores are contended, not one process: the controller processes waited to run 44\.5 s per second in all, their cgroups held back by their quota 1\.2 s per second, while using 130\.0% of one core \(200 processes\)/,
    );
  });

  it('says the quota holds the sandboxes back when throttling is as long as the wait', () => {
    const throttled = { ...usage('controller', 60, 101), runQueueWaitPercent: 147, throttledPercent: 177 };
    expect(whereTheTimeGoes([usage('stack', 18), throttled], 2)).toMatch(
      /the controller sandboxes are held back by their own CPU quota: the controller processes waited to run 1\.5 s per second in all, their cgroups held back by their quota 1\.8 s per second/,
    );
  });

  it('names the busiest kind otherwise', () => {
    expect(whereTheTimeGoes([usage('stack', 5), usage('controller', 7, 8)], 2)).toMatch(
      /no process is CPU-bound; the busiest kind is controller at 7\.0% \(8 processes\)/,
    );
  });
});
