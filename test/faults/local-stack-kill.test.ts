import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { duplicateSeqs, reportFault, seconds, waitUntil } from '../support/fault-probes';
import { freePortPair, LocalStackProcess } from '../support/local-stack-process';

describe('fault: the local stack process is killed (SIGKILL) and started again on the same data', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-stack-kill-'));
  const processes: LocalStackProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((child) => child.kill()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('fires again after a restart with seqs above every seq fired before the kill', async () => {
    const port = await freePortPair();
    const args = ['--every', '1', '--port', String(port), '--data', dataDir];
    const first = new LocalStackProcess(args);
    processes.push(first);
    await waitUntil(
      () => first.fires().length >= 4 || !first.running,
      30_000,
      'four fires from the first process',
    );
    expect(first.running, first.stderr.join('\n')).toBe(true);

    await first.kill('SIGKILL');
    const killedAt = Date.now();
    const firstFires = first.fires();
    const second = new LocalStackProcess(args);
    processes.push(second);
    const recoveryMs = await waitUntil(
      () => second.fires().length >= 1 || !second.running,
      30_000,
      'a fire from the restarted process',
    );
    await waitUntil(
      () => second.fires().length >= 3 || !second.running,
      10_000,
      'three fires after the restart',
    );
    expect(second.running, second.stderr.join('\n')).toBe(true);

    const secondFires = second.fires();
    const lastSeqBefore = Math.max(...firstFires.map((fire) => fire.seq));
    reportFault('local-stack SIGKILL + restart', {
      'fires before': firstFires.length,
      'fires after': secondFires.length,
      duplicates: duplicateSeqs([...firstFires, ...secondFires]).length,
      'seqs before': firstFires.map((fire) => fire.seq).join(','),
      'seqs after': secondFires.map((fire) => fire.seq).join(','),
      'first fire after kill': seconds(recoveryMs),
      'first process exit': (await first.exited).signal ?? 'none',
    });
    expect(duplicateSeqs([...firstFires, ...secondFires])).toEqual([]);
    expect(Math.min(...secondFires.map((fire) => fire.seq))).toBeGreaterThan(lastSeqBefore);
    expect(second.events.filter((event) => event.event === 'stopped')).toEqual([]);
    expect(Date.now() - killedAt).toBeLessThan(40_000);
  });
});
