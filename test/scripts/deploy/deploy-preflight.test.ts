import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDeployCredentials, NO_CREDENTIALS_HINT } from '../../../scripts/deploy/deploy-preflight';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'deploy-preflight-'));

/**
 * `npm run deploy` as a user without AWS set up runs it: no credentials or config files, no AWS_* variables, and
 * no instance metadata service (this machine has none; disabled so the chain does not wait for it).
 */
function deployWithout(extraEnv: Record<string, string> = {}) {
  return spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['scripts/deploy.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      AWS_CONFIG_FILE: join(home, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      ...extraEnv,
    },
  });
}

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('npm run deploy', () => {
  it('prints one line saying what to do, and exits 2, when there is no region and no credentials', () => {
    // act
    const run = deployWithout();

    // assess
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^no AWS credentials or region found: run `aws configure`/);
    expect(run.stdout).toBe('');
  });

  it('prints the same line, with the SDK reason, when a region is set but no credentials', () => {
    // act
    const run = deployWithout({ AWS_REGION: 'eu-west-1' });

    // assess
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining(NO_CREDENTIALS_HINT)]);
    expect(run.stderr).toMatch(/credential/i);
  });
});

describe('checkDeployCredentials', () => {
  it('passes a client that has a region and credentials, without calling AWS', async () => {
    // prepare
    const client = new CloudFormationClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
    });

    // act
    const preflight = await checkDeployCredentials(client);

    // assess
    expect(preflight).toEqual({ ok: true, region: 'eu-west-1' });
  });
});
