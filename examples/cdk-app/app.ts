/**
 * A CDK app of your own that fires your function (built on the worker kit, worker.ts) with the SubMinuteScheduler
 * construct, for two pollers declared in code: one every 2 seconds in office hours, one every 10 seconds with a
 * nightly pause. Each passes the worker a `payload`; the deployment seeds their control items, and operators steer
 * them live afterwards (`npm run ctl`).
 *
 *   npm run deploy -- --app 'npx tsx examples/cdk-app/app.ts'
 *
 * (`npm run deploy` is `npx cdk deploy` after a credentials check that prints one line saying what to do; plain
 * `npx cdk deploy --app …` works as well, but shows the CDK CLI's own error when credentials are missing.)
 * (In your project: `npm install github:OWNER/sub-minute-lambda-executor`, import from 'sub-minute-lambda-executor'
 * as below, and run the app with tsx: the package ships TypeScript.) The worker is bundled by esbuild on this
 * machine (NodejsFunction finds the esbuild dependency; no Docker), so the stack has an asset: `cdk bootstrap` the
 * account once.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { App, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { type PollerDeclaration, SubMinuteScheduler } from 'sub-minute-lambda-executor';

export const EXAMPLE_STACK_NAME = 'TickEveryTwoSeconds';
/** The pollers this app declares: the window rules and fields are those of `ctl create` (README "Windows"). */
export const EXAMPLE_POLLERS = [
  {
    id: 'orders-feed',
    waitSeconds: 2,
    payload: { url: 'https://example.com/orders' },
    timezone: 'Europe/Berlin',
    // Every 2 s in office hours, every 30 s on weekend days, and the declared 2 s at any other time.
    windows: ['Mon-Fri 06:00-20:00 every 2', 'Sat,Sun 08:00-18:00 every 30'],
    // No second fire while the previous one still runs.
    overlap: 'skip',
  },
  {
    id: 'status-page',
    waitSeconds: 10,
    payload: { url: 'https://example.com/status' },
    windows: ['daily 02:00-03:00 pause'],
  },
] as const satisfies readonly PollerDeclaration[];

export interface ExampleApp {
  readonly app: App;
  readonly stack: Stack;
  readonly scheduler: SubMinuteScheduler;
}

export function createExampleApp(outdir?: string): ExampleApp {
  const app = new App(outdir ? { outdir } : {});
  const stack = new Stack(app, EXAMPLE_STACK_NAME);

  const worker = new NodejsFunction(stack, 'Worker', {
    entry: fileURLToPath(new URL('./worker.ts', import.meta.url)),
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 128,
    timeout: Duration.seconds(10),
    bundling: { minify: true, forceDockerBundling: false, logLevel: LogLevel.WARNING },
  });

  const scheduler = new SubMinuteScheduler(stack, 'Scheduler', {
    worker,
    pollers: EXAMPLE_POLLERS,
  });

  // The people on call may list, pause, edit and delete (stopped) pollers; without grantStart they start no loop.
  const onCall = new iam.Role(stack, 'OnCall', { assumedBy: new iam.AccountRootPrincipal() });
  scheduler.grantSteerPollers(onCall);
  scheduler.grantReadPollers(onCall);

  new CfnOutput(stack, 'ControlTableName', {
    value: scheduler.table.tableName,
    description: 'Steer the poller here',
  });
  return { app, stack, scheduler };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  createExampleApp().app.synth();
}
