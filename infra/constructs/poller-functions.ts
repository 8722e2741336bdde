import { fileURLToPath } from 'node:url';
import { CfnCondition, Duration, Fn } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { CONTROLLER_TIMEOUT_SECONDS, ENV } from '../../functions/shared/contract';
import { InlineFunction } from './inline-function';

export const HANDLER_ENTRY = {
  controller: fileURLToPath(new URL('../../functions/controller/handler.ts', import.meta.url)),
  worker: fileURLToPath(new URL('../../functions/worker/handler.ts', import.meta.url)),
} as const;

/** The example worker fetches `payload.url` with a 5 s timeout; 10 s leaves room for a cold start. */
export const WORKER_TIMEOUT = Duration.seconds(10);

/** What the controller does to the control table: read the item, record ticks on it. Nothing else. */
export const CONTROLLER_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'] as const;

export interface PollerFunctionsProps {
  readonly table: dynamodb.ITable;
  /**
   * Further Lambda function ARNs the controller may fire (control items name them in `target`); an empty
   * list (a list token from a parameter that resolves to `['']`) attaches no policy.
   * @default - only the stack's worker
   */
  readonly extraTargetArns?: string[];
}

/** The controller (reads the item, fires ticks) and the example worker it fires by default. */
export class PollerFunctions extends Construct {
  readonly controller: lambda.Function;
  readonly worker: lambda.Function;

  constructor(scope: Construct, id: string, props: PollerFunctionsProps) {
    super(scope, id);
    this.worker = new InlineFunction(this, 'Worker', {
      entry: HANDLER_ENTRY.worker,
      timeout: WORKER_TIMEOUT,
      description: 'Sub-minute executor: example worker fired on every tick',
    }).function;
    this.controller = new InlineFunction(this, 'Controller', {
      entry: HANDLER_ENTRY.controller,
      timeout: Duration.seconds(CONTROLLER_TIMEOUT_SECONDS),
      description: 'Sub-minute executor: reads the control item and fires the worker on time',
      environment: {
        [ENV.controlTableName]: props.table.tableName,
        [ENV.defaultTarget]: this.worker.functionName,
      },
    }).function;

    props.table.grant(this.controller, ...CONTROLLER_TABLE_ACTIONS);
    this.worker.grantInvoke(this.controller);
    if (props.extraTargetArns !== undefined) this.allowExtraTargets(props.extraTargetArns);
  }

  /** A separate policy, created only when the list is not empty: IAM refuses an empty Resource. */
  private allowExtraTargets(targetArns: string[]): void {
    const hasTargets = new CfnCondition(this, 'HasExtraTargets', {
      expression: Fn.conditionNot(Fn.conditionEquals(Fn.join('', targetArns), '')),
    });
    const policy = new iam.Policy(this, 'ExtraTargetsPolicy', {
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: targetArns })],
    });
    this.controller.role?.attachInlinePolicy(policy);
    (policy.node.defaultChild as iam.CfnPolicy).cfnOptions.condition = hasTargets;
  }
}
