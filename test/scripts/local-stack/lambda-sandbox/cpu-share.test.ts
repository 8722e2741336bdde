import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CPU_PERIOD_US,
  coreShareOf,
  cpuQuotaUs,
  DEFAULT_CGROUP_V1_CPU_ROOT,
  openCpuConfinement,
  RUN_NAME_PREFIX,
} from '../../../../scripts/local-stack/lambda-sandbox/cpu-share';
import {
  type CpuShareReport,
  describeCpuShare,
} from '../../../../scripts/local-stack/lambda-sandbox/sandbox-host';
import { openProbe, type Probe, resultOf, sleep } from './probe';

/** Whether this machine lets us confine sandboxes (root with a writable cgroup v1 cpu controller). */
async function cgroupsAvailable(): Promise<boolean> {
  const confinement = await openCpuConfinement();
  await confinement.close();
  return confinement.status.applied;
}
const CONFINEMENT_AVAILABLE = await cgroupsAvailable();
if (!CONFINEMENT_AVAILABLE) {
  console.warn(
    `[cpu-share] confinement tests skipped: no writable cgroup v1 cpu controller at ${DEFAULT_CGROUP_V1_CPU_ROOT} (they need root and cgroup v1)`,
  );
}

/** CPU time a burn asks for: long enough to span many 20 ms periods, short enough at 7.2% (about 0.4 s). */
const BURN_CPU_MS = 30;

describe("Lambda's CPU share", () => {
  it('is the memory over 1,769 MB of a core, as a quota per 20 ms period', () => {
    expect(coreShareOf(128)).toBeCloseTo(0.0724, 4);
    expect(coreShareOf(1_769)).toBe(1);
    expect(CPU_PERIOD_US).toBe(20_000);
    expect(cpuQuotaUs(128)).toBe(1_447);
    expect(cpuQuotaUs(512)).toBe(5_789);
    expect(cpuQuotaUs(3_538)).toBe(40_000);
    // The kernel's floor.
    expect(cpuQuotaUs(64)).toBe(1_000);
  });

  it('is described in one line, applied or not', () => {
    const worker = { name: 'worker', memoryMb: 128, coreShare: coreShareOf(128) };
    const functions = [{ name: 'controller', memoryMb: 128, coreShare: coreShareOf(128) }, worker];
    const applied: CpuShareReport = { applied: true, mechanism: 'cgroup v1', periodMs: 20, functions };
    const mixed: CpuShareReport = {
      ...applied,
      functions: [{ name: 'controller', memoryMb: 256, coreShare: coreShareOf(256) }, worker],
    };
    const notApplied: CpuShareReport = {
      applied: false,
      reason: 'no cgroup v1 cpu controller at /x',
      functions,
    };

    expect(describeCpuShare(applied)).toBe('CPU share: 128 MB → 7.2% of a core (cgroup v1, 20 ms period)');
    expect(describeCpuShare(mixed)).toBe(
      'CPU share: controller 256 MB → 14.5%, worker 128 MB → 7.2% of a core (cgroup v1, 20 ms period)',
    );
    expect(describeCpuShare(notApplied)).toBe(
      'CPU share not applied: no cgroup v1 cpu controller at /x; sandboxes run unconfined',
    );
  });
});

describe('a sandbox under the CPU share', () => {
  let probe: Probe | undefined;
  afterEach(async () => {
    await probe?.close();
    probe = undefined;
  });

  it.skipIf(!CONFINEMENT_AVAILABLE)(
    `128 MB: ${BURN_CPU_MS} ms of CPU take about ${BURN_CPU_MS} / 7.2% ms of wall time`,
    async () => {
      probe = await openProbe({ memoryMb: 128 });
      const burn = resultOf(await probe.invoke({ action: 'burn', cpuMs: BURN_CPU_MS }));

      const expectedWallMs = BURN_CPU_MS / coreShareOf(128);
      console.log(
        `[cpu-share] 128 MB: ${burn.cpuMs} ms CPU in ${Number(burn.wallMs).toFixed(0)} ms wall (expected ~${expectedWallMs.toFixed(0)})`,
      );
      expect(probe.host.cpuShare).toMatchObject({ applied: true, mechanism: 'cgroup v1', periodMs: 20 });
      // Never faster than the share allows; slower only by what the machine's other load takes.
      expect(Number(burn.wallMs)).toBeGreaterThan(expectedWallMs * 0.8);
      expect(Number(burn.wallMs)).toBeLessThan(expectedWallMs * 3);
    },
  );

  it.skipIf(!CONFINEMENT_AVAILABLE)(
    `1,769 MB gets a whole core: the same burn runs about 14 times faster than at 128 MB`,
    async () => {
      probe = await openProbe({ memoryMb: 1_769 });
      const burn = resultOf(await probe.invoke({ action: 'burn', cpuMs: BURN_CPU_MS }));
      console.log(`[cpu-share] 1769 MB: ${burn.cpuMs} ms CPU in ${Number(burn.wallMs).toFixed(0)} ms wall`);
      expect(Number(burn.wallMs)).toBeLessThan((BURN_CPU_MS / coreShareOf(128)) * 0.5);
    },
  );

  it('runs unconfined, and says so, when the cgroup root is not a writable cgroup v1 cpu controller', async () => {
    // A directory that looks like one (it has cpu.cfs_quota_us) but is a plain directory, not a cgroup.
    const fake = mkdtempSync(join(tmpdir(), 'not-a-cgroup-'));
    writeFileSync(join(fake, 'cpu.cfs_quota_us'), '-1\n');
    try {
      probe = await openProbe({ memoryMb: 128, cgroupRoot: fake });
      const burn = resultOf(await probe.invoke({ action: 'burn', cpuMs: BURN_CPU_MS }));

      expect(probe.host.cpuShare).toMatchObject({
        applied: false,
        reason: `no cgroup v1 cpu controller at ${fake}`,
        functions: [{ name: 'probe', memoryMb: 128 }],
      });
      expect(describeCpuShare(probe.host.cpuShare)).toBe(
        `CPU share not applied: no cgroup v1 cpu controller at ${fake}; sandboxes run unconfined`,
      );
      // Unconfined, the burn is not stretched to the 128 MB share (~400 ms).
      expect(Number(burn.wallMs)).toBeLessThan((BURN_CPU_MS / coreShareOf(128)) * 0.5);
    } finally {
      rmSync(fake, { recursive: true, force: true });
    }
  });
});

describe('cgroups of a killed run', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  it.skipIf(!CONFINEMENT_AVAILABLE)(
    `are removed by the next run, the frozen sandboxes left in them killed`,
    async () => {
      // A run whose owner is gone: the pid of a process that has exited.
      const owner = spawn('true');
      await new Promise((resolve) => owner.once('exit', resolve));
      const runDir = join(DEFAULT_CGROUP_V1_CPU_ROOT, `${RUN_NAME_PREFIX}${owner.pid}-leftover`);
      const sandboxDir = join(runDir, 'sandbox-1');
      mkdirSync(sandboxDir, { recursive: true });
      const orphan = spawn('sleep', ['60']);
      children.push(orphan);
      const orphanExited = new Promise((resolve) => orphan.once('exit', (_code, signal) => resolve(signal)));
      writeFileSync(join(sandboxDir, 'cgroup.procs'), String(orphan.pid));
      orphan.kill('SIGSTOP');

      const confinement = await openCpuConfinement();
      await confinement.close();

      expect(await Promise.race([orphanExited, sleep(2_000).then(() => 'still running')])).toBe('SIGKILL');
      expect(existsSync(runDir)).toBe(false);
    },
  );

  it.skipIf(!CONFINEMENT_AVAILABLE)(`are left alone while their owner lives`, async () => {
    const runDir = join(DEFAULT_CGROUP_V1_CPU_ROOT, `${RUN_NAME_PREFIX}${process.pid}-still-mine`);
    mkdirSync(runDir);
    try {
      const confinement = await openCpuConfinement();
      await confinement.close();
      expect(existsSync(runDir)).toBe(true);
    } finally {
      rmdirSync(runDir);
    }
  });
});
