import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { afterAll, describe, expect, it } from 'vitest';
import { createCloudFormationClient } from '../../../scripts/ctl/cloudformation-client';
import {
  checkDeployCredentials,
  deployProfile,
  MissingProfileNameError,
  NO_CREDENTIALS_HINT,
} from '../../../scripts/deploy/deploy-preflight';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'deploy-preflight-'));

/**
 * `npm run deploy` as a user without AWS set up runs it: no credentials or config files, no AWS_* variables, and
 * no instance metadata service (this machine has none; disabled so the chain does not wait for it).
 */
function deployWithout(extraEnv: Record<string, string> = {}, args: readonly string[] = []) {
  return spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['scripts/deploy.ts', ...args], {
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

describe('deployProfile', () => {
  it('reads --profile NAME and --profile=NAME, the last one winning', () => {
    expect(deployProfile(['--require-approval', 'never'])).toBeUndefined();
    expect(deployProfile(['--profile', 'prod'])).toBe('prod');
    expect(deployProfile(['--profile=prod'])).toBe('prod');
    expect(deployProfile(['--profile', 'dev', '--profile=prod'])).toBe('prod');
  });

  it('refuses a --profile without a name, naming the argument', () => {
    expect(() => deployProfile(['--profile'])).toThrow(MissingProfileNameError);
    expect(() => deployProfile(['--profile', '--all'])).toThrow('--profile needs a profile name');
    expect(() => deployProfile(['--profile='])).toThrow(expect.objectContaining({ value: '--profile=' }));
  });
});

describe('npm run deploy -- --profile', () => {
  /** A user whose only credentials and region are those of a named profile. */
  const profileHome = mkdtempSync(join(tmpdir(), 'deploy-profile-'));
  const configFile = join(profileHome, 'config');
  const credentialsFile = join(profileHome, 'credentials');
  writeFileSync(configFile, '[profile prod]\nregion = eu-central-1\n');
  writeFileSync(
    credentialsFile,
    '[prod]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = example\n',
  );
  const saved = { ...process.env };

  afterAll(() => {
    process.env = saved;
    rmSync(profileHome, { recursive: true, force: true });
  });

  it('resolves the named profile that the default chain would not find', async () => {
    // prepare
    for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
    process.env.AWS_CONFIG_FILE = configFile;
    process.env.AWS_SHARED_CREDENTIALS_FILE = credentialsFile;
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    const withoutProfile = await checkDeployCredentials(createCloudFormationClient());

    // act: what deploy.ts does with `--profile prod`
    process.env.AWS_PROFILE = deployProfile(['--profile', 'prod']);
    const withProfile = await checkDeployCredentials(createCloudFormationClient());

    // assess
    expect(withoutProfile.ok).toBe(false);
    expect(withProfile).toEqual({ ok: true, region: 'eu-central-1' });
  });

  it('prints the hint, naming the profile, when the named profile does not exist', () => {
    // act
    const run = deployWithout({ AWS_REGION: 'eu-west-1' }, ['--profile=ghost']);

    // assess
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining(NO_CREDENTIALS_HINT)]);
    expect(run.stderr).toContain('ghost');
  });

  it('prints one line and exits 2 for --profile without a name', () => {
    // act
    const run = deployWithout({}, ['--profile']);

    // assess
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('--profile needs a profile name: --profile NAME or --profile=NAME');
  });
});
