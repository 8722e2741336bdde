import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUN_NAME_PREFIX } from '../../../../scripts/local-stack/lambda-sandbox/cpu-share';
import { SandboxWorkspace } from '../../../../scripts/local-stack/lambda-sandbox/sandbox-workspace';
import { sleep } from './probe';

describe('the workspace of a killed run', () => {
  it('is removed by the next run, the frozen sandboxes working in it killed (no cgroups needed)', async () => {
    const owner = spawn('true');
    await new Promise((resolve) => owner.once('exit', resolve));
    const leftover = join(tmpdir(), `${RUN_NAME_PREFIX}${owner.pid}-leftover-workspace`);
    const taskRoot = join(leftover, 'functions', 'probe');
    mkdirSync(taskRoot, { recursive: true });
    const orphan = spawn('sleep', ['60'], { cwd: taskRoot });
    const orphanExited = new Promise((resolve) => orphan.once('exit', (_code, signal) => resolve(signal)));
    orphan.kill('SIGSTOP');

    try {
      const workspace = await SandboxWorkspace.create();
      workspace.remove();

      expect(await Promise.race([orphanExited, sleep(2_000).then(() => 'still running')])).toBe('SIGKILL');
      expect(existsSync(leftover)).toBe(false);
    } finally {
      orphan.kill('SIGKILL');
      rmSync(leftover, { recursive: true, force: true });
    }
  });
});
