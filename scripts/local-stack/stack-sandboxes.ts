import { ENV } from '../../functions/shared/contract';
import type { Logger } from '../../functions/shared/logger';
import type { LocalServiceEndpoints } from './lambda-sandbox/lambda-environment';
import type { SandboxLogLine } from './lambda-sandbox/sandbox';
import { SandboxHost } from './lambda-sandbox/sandbox-host';
import { bundleOnce } from './lambda-sandbox/sandbox-workspace';
import {
  LOCAL_CONTROLLER_NAME,
  LOCAL_WORKER_NAME,
  localFunctionArn,
  localStateMachineArn,
} from './local-endpoints';
import type { LocalFunctions } from './local-functions';

export interface StackSandboxesOptions {
  readonly region: string;
  readonly tableName: string;
  readonly endpoints: LocalServiceEndpoints;
  /** The controller's memory size (the deployed one by default). */
  readonly controllerMemoryMb?: number;
  readonly controllerTimeoutMs: number;
  readonly cgroupRoot?: string;
  readonly onLogLine: (line: SandboxLogLine) => void;
}

/**
 * The stack's controller (the control-plane bundle) and worker, each in Lambda-like sandbox processes running the
 * very bundles the template inlines, with the memory, timeout and environment the CDK stack gives them.
 */
export async function openStackSandboxes(
  functions: LocalFunctions,
  options: StackSandboxesOptions,
): Promise<SandboxHost> {
  // The CDK constructs name the entries and sizes; loaded only here (aws-cdk-lib is heavy) to share them exactly.
  const [{ HANDLER_ENTRY, WORKER_TIMEOUT }, { FUNCTION_DEFAULTS }] = await Promise.all([
    import('../../infra/constructs/poller-functions'),
    import('../../infra/constructs/inline-function'),
  ]);
  const host = await SandboxHost.open({
    region: options.region,
    endpoints: options.endpoints,
    ...(options.cgroupRoot !== undefined ? { cgroupRoot: options.cgroupRoot } : {}),
    onLogLine: options.onLogLine,
  });
  const controller = host.addFunction({
    name: LOCAL_CONTROLLER_NAME,
    arn: localFunctionArn(LOCAL_CONTROLLER_NAME, options.region),
    code: bundleOnce(HANDLER_ENTRY.controlPlane),
    memoryMb: options.controllerMemoryMb ?? FUNCTION_DEFAULTS.memorySize,
    timeoutMs: options.controllerTimeoutMs,
    variables: {
      [ENV.controlTableName]: options.tableName,
      [ENV.defaultTarget]: LOCAL_WORKER_NAME,
      [ENV.stateMachineArn]: localStateMachineArn(options.region),
    },
  });
  const worker = host.addFunction({
    name: LOCAL_WORKER_NAME,
    arn: localFunctionArn(LOCAL_WORKER_NAME, options.region),
    code: bundleOnce(HANDLER_ENTRY.worker),
    memoryMb: FUNCTION_DEFAULTS.memorySize,
    timeoutMs: WORKER_TIMEOUT.toMilliseconds(),
  });
  functions.registerRuntime(LOCAL_CONTROLLER_NAME, controller);
  functions.registerRuntime(LOCAL_WORKER_NAME, worker);
  return host;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Passes a sandbox's JSON log line (functions/shared/logger.ts) to `log` as the handler logged it, so a Logger
 * handed to the local stack sees the sandboxes' logs as it saw in-process handlers'. Other lines are not logs.
 */
export function forwardLogLine(log: Logger, { line }: SandboxLogLine): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return;
  }
  if (!isRecord(parsed)) return;
  const { level, message, ...fields } = parsed;
  if ((level !== 'info' && level !== 'warn' && level !== 'error') || typeof message !== 'string') return;
  log[level](message, fields);
}
