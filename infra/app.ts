import { pathToFileURL } from 'node:url';
import { App, BootstraplessSynthesizer } from 'aws-cdk-lib';
import { SubMinuteError } from '../functions/shared/errors';
import { MONITORING_STACK_NAME, SchedulerMonitoringStack } from './scheduler-monitoring-stack';
import { STACK_NAME, SubMinuteExecutorStack } from './sub-minute-executor-stack';

export const STACK_DESCRIPTION =
  'Sub-Minute Lambda Executor: a self-restarting Step Functions loop fires a worker Lambda every N seconds, steered from a DynamoDB control item';

export interface ExecutorApp {
  readonly app: App;
  readonly stack: SubMinuteExecutorStack;
}

export const FLEET_STACK_DESCRIPTION =
  'Sub-Minute Lambda Executor (fleet): shared controllers fire worker Lambdas every N seconds';

/** The context flag that synthesizes the fleet variant: `npx cdk deploy -c fleet=true`. */
export const FLEET_CONTEXT_KEY = 'fleet';

export const MONITORING_STACK_DESCRIPTION =
  'Sub-Minute Lambda Executor monitoring: alarms, their SNS topic and a dashboard for a stack deployed from SubMinuteLambdaExecutor.yaml';

export interface ExecutorAppOptions {
  /**
   * Alarms and dashboard in the stack (`cdk deploy`); the inline template leaves them out.
   * @default true
   */
  readonly monitoring?: boolean;
  /**
   * The fleet variant (shards serve the pollers; README "Fleet").
   * @default the context flag `fleet` (`-c fleet=true`), else false
   */
  readonly fleet?: boolean;
}

/**
 * The CDK app: one stack without a bootstrap (no assets, no BootstrapVersion parameter) and without CDK
 * metadata, so the synthesized template is exactly what the committed SubMinuteLambdaExecutor.yaml holds.
 */
export function createApp(outdir?: string, options: ExecutorAppOptions = {}): ExecutorApp {
  const app = bareApp(outdir);
  const fleet = options.fleet ?? fleetFromContext(app);
  const stack = new SubMinuteExecutorStack(app, STACK_NAME, {
    stackName: STACK_NAME,
    description: fleet ? FLEET_STACK_DESCRIPTION : STACK_DESCRIPTION,
    fleet,
    synthesizer: new BootstraplessSynthesizer(),
    analyticsReporting: false,
    ...(options.monitoring !== undefined ? { monitoring: options.monitoring } : {}),
  });
  return { app, stack };
}

/** The monitoring template's app: SchedulerMonitoringStack alone, without a bootstrap or CDK metadata. */
export function createMonitoringApp(outdir?: string): { app: App; stack: SchedulerMonitoringStack } {
  const app = bareApp(outdir);
  const stack = new SchedulerMonitoringStack(app, MONITORING_STACK_NAME, {
    stackName: MONITORING_STACK_NAME,
    description: MONITORING_STACK_DESCRIPTION,
    synthesizer: new BootstraplessSynthesizer(),
    analyticsReporting: false,
  });
  return { app, stack };
}

/** `-c fleet=true` arrives as the text 'true' (cdk.json may hold a boolean); anything but true or false is refused. */
export function fleetFromContext(app: App): boolean {
  const value: unknown = app.node.tryGetContext(FLEET_CONTEXT_KEY);
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new FleetContextError(value);
}

/** The `fleet` context flag holds something other than true or false; the value is what it holds. */
export class FleetContextError extends SubMinuteError {
  override readonly name = 'FleetContextError';

  constructor(value: unknown) {
    super(
      `the context flag '${FLEET_CONTEXT_KEY}' is ${JSON.stringify(value)}: give -c ${FLEET_CONTEXT_KEY}=true for the fleet variant, or leave it out for one loop per poller`,
      { value },
    );
  }
}

function bareApp(outdir: string | undefined): App {
  return new App({
    ...(outdir ? { outdir } : {}),
    analyticsReporting: false,
    postCliContext: { 'aws:cdk:version-reporting': false, 'aws:cdk:enable-path-metadata': false },
  });
}

// `npx cdk synth` (cdk.json) runs this file: synthesize into the CLI's output directory.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  createApp().app.synth();
}
