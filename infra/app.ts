import { pathToFileURL } from 'node:url';
import { App, BootstraplessSynthesizer } from 'aws-cdk-lib';
import { STACK_NAME, SubMinuteExecutorStack } from './sub-minute-executor-stack';

export const STACK_DESCRIPTION =
  'Sub-Minute Lambda Executor: a self-restarting Step Functions loop fires a worker Lambda every N seconds, steered from a DynamoDB control item';

export interface ExecutorApp {
  readonly app: App;
  readonly stack: SubMinuteExecutorStack;
}

/**
 * The CDK app: one stack without a bootstrap (no assets, no BootstrapVersion parameter) and without CDK
 * metadata, so the synthesized template is exactly what the committed SubMinuteLambdaExecutor.yaml holds.
 */
export function createApp(outdir?: string): ExecutorApp {
  const app = new App({
    ...(outdir ? { outdir } : {}),
    analyticsReporting: false,
    postCliContext: { 'aws:cdk:version-reporting': false, 'aws:cdk:enable-path-metadata': false },
  });
  const stack = new SubMinuteExecutorStack(app, STACK_NAME, {
    stackName: STACK_NAME,
    description: STACK_DESCRIPTION,
    synthesizer: new BootstraplessSynthesizer(),
    analyticsReporting: false,
  });
  return { app, stack };
}

// `npx cdk synth` (cdk.json) runs this file: synthesize into the CLI's output directory.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  createApp().app.synth();
}
