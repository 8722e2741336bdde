import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';

/** The one line `npm run deploy` prints instead of the CDK CLI's page when there is nothing to deploy with. */
export const NO_CREDENTIALS_HINT =
  'no AWS credentials or region found: run `aws configure` (or `aws sso login --profile NAME` and set AWS_PROFILE), then `npm run deploy` again; or deploy SubMinuteLambdaExecutor.yaml from the CloudFormation console';

export type Preflight =
  | { readonly ok: true; readonly region: string }
  | { readonly ok: false; readonly hint: string };

/**
 * Resolves the region and credentials the way `cdk deploy` will (the SDK's default chains: environment, profile,
 * SSO, container or instance role), without calling AWS. What cannot be resolved becomes the one-line hint, with the
 * SDK's own reason after it.
 */
export async function checkDeployCredentials(client: CloudFormationClient): Promise<Preflight> {
  let region: string;
  try {
    region = await client.config.region();
    await client.config.credentials();
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n', 1)[0] : String(error);
    return { ok: false, hint: `${NO_CREDENTIALS_HINT} (${reason})` };
  }
  return { ok: true, region };
}
