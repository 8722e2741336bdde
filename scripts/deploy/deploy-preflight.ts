import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SubMinuteError } from '../../functions/shared/errors';

/** The one line `npm run deploy` prints instead of the CDK CLI's page when there is nothing to deploy with. */
export const NO_CREDENTIALS_HINT =
  'no AWS credentials or region found: run `aws configure` (or `aws sso login --profile NAME` and set AWS_PROFILE), then `npm run deploy` again; or deploy SubMinuteLambdaExecutor.yaml from the CloudFormation console';

export type Preflight =
  | { readonly ok: true; readonly region: string }
  | { readonly ok: false; readonly hint: string };

/**
 * Resolves the region and credentials the way `cdk deploy` will (the SDK's default chains: environment, profile,
 * SSO, container or instance role), without calling AWS. A `--profile` for cdk is set as AWS_PROFILE first (see
 * deploy.ts), so these chains resolve that profile. What cannot be resolved becomes the one-line hint, with the
 * SDK's own reason (and the profile, if one was named) after it.
 */
export async function checkDeployCredentials(
  client: CloudFormationClient,
  profile?: string,
): Promise<Preflight> {
  let region: string;
  try {
    region = await client.config.region();
    await client.config.credentials();
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n', 1)[0] : String(error);
    const which = profile === undefined ? '' : `profile '${profile}': `;
    return { ok: false, hint: `${NO_CREDENTIALS_HINT} (${which}${reason})` };
  }
  return { ok: true, region };
}

/** `--profile NAME` or `--profile=NAME` given without a NAME. */
export class MissingProfileNameError extends SubMinuteError {
  override readonly name = 'MissingProfileNameError';

  /** `value`: the argument as given (`--profile` or `--profile=`). */
  constructor(argument: string) {
    super(`${argument} needs a profile name: --profile NAME or --profile=NAME`, { value: argument });
  }
}

/**
 * The profile `cdk deploy` is told to use (`--profile NAME` or `--profile=NAME`, the last one wins as in the CDK
 * CLI), so the preflight resolves that profile rather than the default chain. Undefined when none is given.
 */
export function deployProfile(args: readonly string[]): string | undefined {
  let profile: string | undefined;
  args.forEach((arg, index) => {
    if (arg === '--profile') {
      const next = args[index + 1];
      if (next === undefined || next === '' || next.startsWith('-')) throw new MissingProfileNameError(arg);
      profile = next;
    } else if (arg.startsWith('--profile=')) {
      const name = arg.slice('--profile='.length);
      if (name === '') throw new MissingProfileNameError(arg);
      profile = name;
    }
  });
  return profile;
}
