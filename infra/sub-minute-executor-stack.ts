import { CfnOutput, CfnParameter, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DEFAULT_POLLER_ID, FIELD, WAIT_SECONDS_LIMITS } from '../functions/shared/contract';
import { ControlItemSeed } from './constructs/control-item-seed';
import { ControlPlaneTriggers } from './constructs/control-plane-triggers';
import { ControlTable } from './constructs/control-table';
import { FailedTicksQueue } from './constructs/failed-ticks-queue';
import { PollerFunctions } from './constructs/poller-functions';
import { loopStateMachineArn, PollerStateMachine } from './constructs/poller-state-machine';

export const STACK_NAME = 'SubMinuteLambdaExecutor';

/** Parameter and output logical ids: operators and scripts (npm run ctl, the README) refer to them. */
export const PARAMETER = {
  running: 'running',
  waitSeconds: 'waitseconds',
  extraTargetArns: 'ExtraTargetArns',
} as const;
export const OUTPUT = {
  controlTableName: 'ControlTableName',
  stateMachineArn: 'StateMachineArn',
  controlPlaneFunctionName: 'ControlPlaneFunctionName',
  workerFunctionName: 'WorkerFunctionName',
  failedTicksQueueUrl: 'FailedTicksQueueUrl',
  startCommand: 'StartCommand',
} as const;

/**
 * The whole executor: the control table, the control plane (loop rounds, starts on table changes, the watchdog,
 * the seed of the default control item) and the worker, the poller loop, and the queue of failed deliveries.
 * Deployable from the generated template alone: inline code, no assets, no bootstrap.
 */
export class SubMinuteExecutorStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const running = new CfnParameter(this, PARAMETER.running, {
      type: 'String',
      allowedValues: ['true', 'false'],
      default: 'true',
      description: `Seeds '${FIELD.running}' of the '${DEFAULT_POLLER_ID}' control item (edit the item afterwards)`,
    });
    const waitSeconds = new CfnParameter(this, PARAMETER.waitSeconds, {
      type: 'Number',
      minValue: WAIT_SECONDS_LIMITS.min,
      maxValue: WAIT_SECONDS_LIMITS.max,
      default: 5,
      description: `Seeds '${FIELD.waitSeconds}' of the '${DEFAULT_POLLER_ID}' control item: seconds between ticks`,
    });
    const extraTargetArns = new CfnParameter(this, PARAMETER.extraTargetArns, {
      type: 'CommaDelimitedList',
      default: '',
      description: 'Optional: ARNs of further Lambda functions control items may name as target',
    });

    const { table } = new ControlTable(this, 'Control');
    const { queue: failedTicks } = new FailedTicksQueue(this, 'FailedTicks');
    const functions = new PollerFunctions(this, 'Poller', {
      table,
      stateMachineArn: loopStateMachineArn(this),
      failedTicks,
      extraTargetArns: extraTargetArns.valueAsList,
    });
    const { stateMachine } = new PollerStateMachine(this, 'Loop', { controller: functions.controlPlane });
    const triggers = new ControlPlaneTriggers(this, 'Triggers', {
      table,
      controlPlane: functions.controlPlane,
      failures: failedTicks,
    });
    const seed = new ControlItemSeed(this, 'Seed', {
      table,
      provider: functions.controlPlane,
      pollerId: DEFAULT_POLLER_ID,
      running: running.valueAsString,
      waitSeconds: waitSeconds.valueAsString,
    });
    // Seeding running=true is a table change that starts the loop: the stream mapping should be there to see it.
    seed.resource.node.addDependency(triggers.streamStart);

    new CfnOutput(this, OUTPUT.controlTableName, { value: table.tableName });
    new CfnOutput(this, OUTPUT.stateMachineArn, { value: stateMachine.stateMachineArn });
    new CfnOutput(this, OUTPUT.controlPlaneFunctionName, { value: functions.controlPlane.functionName });
    new CfnOutput(this, OUTPUT.workerFunctionName, { value: functions.worker.functionName });
    new CfnOutput(this, OUTPUT.failedTicksQueueUrl, { value: failedTicks.queueUrl });
    new CfnOutput(this, OUTPUT.startCommand, {
      value: `aws stepfunctions start-execution --state-machine-arn ${stateMachine.stateMachineArn} --input '${JSON.stringify({ pollerId: DEFAULT_POLLER_ID })}'`,
    });
  }
}
