import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import { DEFAULT_POLLER_ID } from '../../../functions/shared/contract';
import {
  DEFAULT_CGROUP_V1_CPU_ROOT,
  RUN_NAME_PREFIX,
} from '../../../scripts/local-stack/lambda-sandbox/cpu-share';
import { describeCpuShare } from '../../../scripts/local-stack/lambda-sandbox/sandbox-host';
import { LOCAL_CONTROLLER_NAME, LOCAL_WORKER_NAME } from '../../../scripts/local-stack/local-endpoints';
import { preciseNow } from '../../../scripts/local-stack/local-functions';
import { LocalStackOptionsError, startLocalStack } from '../../../scripts/local-stack/local-stack';
import { waitUntil } from '../../support/fault-probes';
import { type Harness, startHarness } from '../../support/local-stack-harness';
import { freePortPair, LocalStackProcess } from '../../support/local-stack-process';

/** Processes in a process group (a LocalStackProcess is the leader of its own group; sandboxes join it). */
function processGroup(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Our run directories (cgroups, workspaces) named after one of `owners`. */
function runDirsOf(owners: readonly number[]): string[] {
  return [DEFAULT_CGROUP_V1_CPU_ROOT, tmpdir()].flatMap((dir) => {
    try {
      return readdirSync(dir).filter((entry) =>
        owners.some((pid) => entry.startsWith(`${RUN_NAME_PREFIX}${pid}-`)),
      );
    } catch {
      return [];
    }
  });
}

/** The local stack runs the deployed bundles in sandbox processes by default. */
describe('the local stack with sandboxed functions', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('fires from the worker bundle in its own process and reports the CPU share in the ready event', async () => {
    const workerLines: string[] = [];
    harness = await startHarness({
      everySeconds: 1,
      sandboxLog: (line) => {
        if (line.functionName.endsWith('-worker')) workerLines.push(line.line);
      },
    });
    const ready = await harness.waitFor((event) => event.event === 'ready', 5_000);
    await harness.waitForFires(2, 8_000);

    expect(ready).toMatchObject({ event: 'ready', cpuShare: harness.stack.cpuShare });
    expect(harness.stack.cpuShare.functions.map((entry) => entry.memoryMb)).toEqual([128, 128]);
    // The worker bundle's own line, written by the sandbox process: the metric line of the tick it ran.
    const tick = workerLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.seq === 1);
    expect(tick).toMatchObject({ pollerId: DEFAULT_POLLER_ID, seq: 1, result: 'ok', TickSucceeded: 1 });
  });

  it("hands a staying-awake controller's round back as soon as its remaining time is ended (the deployed entry asks before every tick)", async () => {
    // 0.5 s stays awake for the whole 900 s timeout unless the remaining time says otherwise.
    harness = await startHarness({ everySeconds: 0.5, startLoops: false });
    const round = harness.stack.functions.invoke(LOCAL_CONTROLLER_NAME, { pollerId: DEFAULT_POLLER_ID });
    await harness.waitForFires(2, 10_000);

    const endedAt = preciseNow();
    harness.stack.functions.endDeadlinesBy(Date.now());
    const outcome = await Promise.race([
      round,
      new Promise<'still awake'>((resolve) => setTimeout(() => resolve('still awake'), 5_000)),
    ]);
    const handedBackAfterMs = preciseNow() - endedAt;

    expect(outcome).toMatchObject({
      result: { pollerId: DEFAULT_POLLER_ID, wakeAt: expect.any(String) },
    });
    // At most the tick under way and the hand-back write.
    expect(handedBackAfterMs).toBeLessThan(1_500);
  });

  it('gives the controller the memory size asked for, and refuses one Lambda does not offer', async () => {
    harness = await startHarness({ startLoops: false, controllerMemoryMb: 256 });

    expect(harness.stack.cpuShare.functions).toEqual([
      { name: LOCAL_CONTROLLER_NAME, memoryMb: 256, coreShare: 0.1447 },
      { name: LOCAL_WORKER_NAME, memoryMb: 128, coreShare: 0.0724 },
    ]);
    await expect(startLocalStack({ port: 0, startLoops: false, controllerMemoryMb: 100 })).rejects.toThrow(
      LocalStackOptionsError,
    );
  });

  it('refuses an injected timing unless the functions run in process', async () => {
    await expect(startLocalStack({ port: 0, startLoops: false, timing: DEFAULT_TIMING })).rejects.toThrow(
      LocalStackOptionsError,
    );
  });

  it('reports the CPU share as not applied when the functions run in process', async () => {
    harness = await startHarness({ startLoops: false, sandbox: 'in-process', timing: DEFAULT_TIMING });
    expect(harness.stack.cpuShare).toMatchObject({ applied: false, functions: [] });
  });
});

describe('npm start with sandboxed functions', () => {
  let child: LocalStackProcess | undefined;
  afterEach(async () => {
    await child?.kill();
    child = undefined;
  });

  it("prints the CPU share, shows the sandboxes' own log lines with --verbose, and leaves nothing behind on Ctrl-C", async () => {
    child = new LocalStackProcess(['--every', '1', '--port', String(await freePortPair()), '--verbose']);
    await waitUntil(() => (child?.fires().length ?? 0) >= 2 || !child?.running, 30_000, 'two fires');
    const group = processGroup(child.pid ?? -1);
    const runDirs = runDirsOf(group);

    await child.kill('SIGINT');
    const exit = await child.exited;

    const ready = child.events.find((event) => event.event === 'ready');
    if (ready?.event !== 'ready') throw new Error(`no ready event; stderr: ${child.stderr.join('\n')}`);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.stderr).toContain(describeCpuShare(ready.cpuShare));
    expect(
      child.stderr.some((line) =>
        // The worker's one line per tick: its EMF metric line (functions/worker-kit/).
        /^SubMinuteLambdaExecutor-local-worker\[\d+\] \{.*"_aws":.*"TickSucceeded":1/.test(line),
      ),
    ).toBe(true);
    // Two sandboxes and the stack ran in the group, in a workspace (and cgroups, where applied) of their own.
    expect(group.length).toBeGreaterThanOrEqual(3);
    expect(runDirs.length).toBeGreaterThanOrEqual(1);
    expect(processGroup(child.pid ?? -1)).toEqual([]);
    expect(runDirsOf(group)).toEqual([]);
  });
});
