import { dirname, join } from 'node:path';
import { LOCAL_CREDENTIALS } from '../../../functions/shared/aws-clients';
import type { FunctionPackage } from './sandbox-workspace';

/** The local stack's service endpoints, as the SDK's standard per-service variables name them. */
export interface LocalServiceEndpoints {
  readonly dynamoDb: string;
  readonly lambda: string;
  readonly stepFunctions: string;
}

export interface SandboxEnvironmentSpec {
  readonly functionName: string;
  readonly memoryMb: number;
  readonly region: string;
  readonly functionPackage: FunctionPackage;
  /** Where the runtime shim lives (Lambda's LAMBDA_RUNTIME_DIR). */
  readonly runtimeDir: string;
  /** Where `@aws-sdk/*` resolves from (Lambda: the runtime's own node_modules on NODE_PATH). */
  readonly nodeModules: string;
  readonly endpoints: LocalServiceEndpoints;
  /** The function's own variables (the CDK stack's `environment`). */
  readonly variables: Readonly<Record<string, string>>;
}

/**
 * The environment of a sandbox: what Lambda sets for a Node.js function plus the function's own variables, built
 * from nothing (the local stack's own environment, its credentials and NODE_OPTIONS included, never leaks in).
 * The SDK in the sandbox finds region, credentials and the local endpoints here, so the handler builds its
 * clients exactly as on AWS (`AWS_ENDPOINT_URL_<SERVICE>` is the SDK's standard override, honoured since v3.4xx).
 */
export function sandboxEnvironment(spec: SandboxEnvironmentSpec): Record<string, string> {
  const { functionName, region } = spec;
  return {
    // Lambda's reserved variables.
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'local',
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${functionName}`,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    LAMBDA_TASK_ROOT: spec.functionPackage.taskRoot,
    LAMBDA_RUNTIME_DIR: spec.runtimeDir,
    _HANDLER: spec.functionPackage.handler,
    NODE_PATH: spec.nodeModules,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    // The host's ~/.aws files must not steer the sandbox's SDK (a profile's endpoint_url, say).
    AWS_CONFIG_FILE: join(spec.runtimeDir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(spec.runtimeDir, 'no-aws-credentials'),
    // The local stack's services.
    AWS_ENDPOINT_URL_DYNAMODB: spec.endpoints.dynamoDb,
    AWS_ENDPOINT_URL_LAMBDA: spec.endpoints.lambda,
    AWS_ENDPOINT_URL_SFN: spec.endpoints.stepFunctions,
    ...spec.variables,
  };
}

/**
 * The Node.js flags Lambda's nodejs runtime bootstrap derives from the memory size: a tenth for the new space
 * (half of it per semi-space), the rest for the old space.
 */
export function nodeMemoryFlags(memoryMb: number): string[] {
  const newSpaceMb = Math.floor(memoryMb / 10);
  return [
    `--max-semi-space-size=${Math.floor(newSpaceMb / 2)}`,
    `--max-old-space-size=${memoryMb - newSpaceMb}`,
  ];
}
