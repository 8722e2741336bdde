import { CfnOutput, CfnParameter, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DEFAULT_POLLER_ID, FIELD, WAIT_SECONDS_LIMITS } from '../functions/shared/contract';
import { ControlItemSeed } from './constructs/control-item-seed';
import { ControlTable } from './constructs/control-table';
import { PollerFunctions } from './constructs/poller-functions';
import { PollerStateMachine } from './constructs/poller-state-machine';

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
  controllerFunctionName: 'ControllerFunctionName',
  workerFunctionName: 'WorkerFunctionName',
  startCommand: 'StartCommand',
} as const;

/**
 * The whole executor: control table, controller and worker, the poller loop, and the seed of the default
 * control item. Deployable from the generated template alone: inline code, no assets, no bootstrap.
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
    const functions = new PollerFunctions(this, 'Poller', {
      table,
      extraTargetArns: extraTargetArns.valueAsList,
    });
    const { stateMachine } = new PollerStateMachine(this, 'Loop', { controller: functions.controller });
    new ControlItemSeed(this, 'Seed', {
      table,
      pollerId: DEFAULT_POLLER_ID,
      running: running.valueAsString,
      waitSeconds: waitSeconds.valueAsString,
    });

    new CfnOutput(this, OUTPUT.controlTableName, { value: table.tableName });
    new CfnOutput(this, OUTPUT.stateMachineArn, { value: stateMachine.stateMachineArn });
    new CfnOutput(this, OUTPUT.controllerFunctionName, { value: functions.controller.functionName });
    new CfnOutput(this, OUTPUT.workerFunctionName, { value: functions.worker.functionName });
    new CfnOutput(this, OUTPUT.startCommand, {
      value: `aws stepfunctions start-execution --state-machine-arn ${stateMachine.stateMachineArn} --input '${JSON.stringify({ pollerId: DEFAULT_POLLER_ID })}'`,
    });
  }
}
