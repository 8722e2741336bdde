/**
 * `npm run deploy [-- cdk deploy options]`: `cdk deploy` of the project's stack, after checking that there are
 * credentials and a region to deploy with; without them it prints one line saying what to do, instead of the CDK
 * CLI's page of stack traces.
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { createCloudFormationClient } from './ctl/cloudformation-client';
import { checkDeployCredentials } from './deploy/deploy-preflight';

async function main(): Promise<void> {
  const preflight = await checkDeployCredentials(createCloudFormationClient());
  if (!preflight.ok) {
    console.error(preflight.hint);
    process.exitCode = 2;
    return;
  }
  const cdk = spawnSync('npx', ['cdk', 'deploy', ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exitCode = cdk.status ?? 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
