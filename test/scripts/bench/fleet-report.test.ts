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

  it('adds the kind that waited to run the longest, and how long its quota held it back', () => {
    const waiting = { ...usage('controller', 40, 200), runQueueWaitPercent: 300, throttledPercent: 120 };
    expect(whereTheTimeGoes([usage('stack', 95), waiting], 2)).toMatch(
      /the controller processes waited to run 300\.0% of the window in all \(3\.0 s per second\), their cgroups held back by their quota 120\.0%/,
    );
  });

  it('names the busiest kind otherwise', () => {
    expect(whereTheTimeGoes([usage('stack', 5), usage('controller', 7, 8)], 2)).toMatch(
      /no process is CPU-bound; the busiest kind is controller at 7\.0% \(8 processes\)/,
    );
  });
});
