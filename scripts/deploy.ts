/**
 * `npm run deploy [-- cdk deploy options]`: `cdk deploy` of the project's stack, after checking that there are
 * credentials and a region to deploy with; without them it prints one line saying what to do, instead of the CDK
 * CLI's page of stack traces. With `--profile NAME` (or `--profile=NAME`) it checks that profile.
 */
// First: a Node older than package.json's engines.node stops here with one line saying what to install.
import './require-node';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { createCloudFormationClient } from './ctl/cloudformation-client';
import { checkDeployCredentials, deployProfile, MissingProfileNameError } from './deploy/deploy-preflight';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let profile: string | undefined;
  try {
    profile = deployProfile(args);
  } catch (error) {
    if (!(error instanceof MissingProfileNameError)) throw error;
    console.error(error.message);
    process.exitCode = 2;
    return;
  }
  // The SDK's chains read AWS_PROFILE, so the check resolves the profile cdk will use (cdk gets it too: the same).
  if (profile !== undefined) process.env.AWS_PROFILE = profile;
  const preflight = await checkDeployCredentials(createCloudFormationClient(), profile);
  if (!preflight.ok) {
    console.error(preflight.hint);
    process.exitCode = 2;
    return;
  }
  const cdk = spawnSync('npx', ['cdk', 'deploy', ...args], { stdio: 'inherit' });
  process.exitCode = cdk.status ?? 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
