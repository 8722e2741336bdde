import { CfnOutput, CfnParameter, type CfnResource, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import {
  CONTROLLER_MEMORY_SIZES_MB,
  type ControllerMemoryMb,
  DEFAULT_CONTROLLER_MEMORY_MB,
} from '../functions/scheduling/cost-model';
import { DEFAULT_POLLER_ID, ENV, FIELD, WAIT_SECONDS_LIMITS } from '../functions/shared/contract';
import { PER_POLLER_METRICS_VARIABLE } from '../functions/shared/metrics';
import { ControlItemSeed } from './constructs/control-item-seed';
import { ControlPlaneTriggers } from './constructs/control-plane-triggers';
import { ControlTable } from './constructs/control-table';
import { FailedTicksQueue } from './constructs/failed-ticks-queue';
import { PollerFunctions } from './constructs/poller-functions';
import {
  loopExecutionsArn,
  loopStateMachineArn,
  PollerStateMachine,
} from './constructs/poller-state-machine';
import { SchedulerMonitoring } from './constructs/scheduler-monitoring';

export const STACK_NAME = 'SubMinuteLambdaExecutor';

/** Parameter and output logical ids: operators and scripts (npm run ctl, the README) refer to them. */
export const PARAMETER = {
  running: 'running',
  waitSeconds: 'waitseconds',
  extraTargetArns: 'ExtraTargetArns',
  controllerMemory: 'ControllerMemory',
  alarmEmail: 'AlarmEmail',
  perPollerMetrics: 'PerPollerMetrics',
} as const;
export const OUTPUT = {
  controlTableName: 'ControlTableName',
  stateMachineArn: 'StateMachineArn',
  controlPlaneFunctionName: 'ControlPlaneFunctionName',
  workerFunctionName: 'WorkerFunctionName',
  failedTicksQueueUrl: 'FailedTicksQueueUrl',
  startCommand: 'StartCommand',
} as const;

export interface SubMinuteExecutorStackProps extends StackProps {
  /**
   * The default of the ControllerMemory parameter (the operator may still choose another allowed size).
   * @default DEFAULT_CONTROLLER_MEMORY_MB (128)
   */
  readonly controllerMemoryMb?: ControllerMemoryMb;
  /**
   * Alarms (with their topic and the AlarmEmail parameter) and the dashboard, in this stack. The inline template
   * leaves them out (its 51,200 bytes have no room): SubMinuteLambdaExecutor-monitoring.yaml brings them next to it.
   * @default true
   */
  readonly monitoring?: boolean;
}

/** The optional address the alarm topic notifies: an empty default subscribes nobody. */
export function alarmEmailParameter(scope: Construct): CfnParameter {
  return new CfnParameter(scope, PARAMETER.alarmEmail, {
    type: 'String',
    default: '',
    description: 'Optional: an email address the alarms notify (it must confirm the subscription)',
  });
}

/**
 * The whole executor: the control table, the control plane (loop rounds, starts on table changes, the watchdog,
 * the seed of the default control item) and the worker, the poller loop, and the queue of failed deliveries.
 * Deployable from the generated template alone: inline code, no assets, no bootstrap.
 */
export class SubMinuteExecutorStack extends Stack {
  constructor(scope: Construct, id: string, props?: SubMinuteExecutorStackProps) {
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
    // The allowed sizes are the ones the cost model knows: the controller reads its size at run time.
    const controllerMemory = new CfnParameter(this, PARAMETER.controllerMemory, {
      type: 'Number',
      allowedValues: CONTROLLER_MEMORY_SIZES_MB.map(String),
      default: props?.controllerMemoryMb ?? DEFAULT_CONTROLLER_MEMORY_MB,
      description: 'Memory (MB) of the control plane: its CPU share grows with it',
    });
    const perPollerMetrics = new CfnParameter(this, PARAMETER.perPollerMetrics, {
      type: 'String',
      allowedValues: ['false', 'true'],
      default: 'false',
      description: 'true: metrics per poller too ($0.30/month each)',
    });
    const { table } = new ControlTable(this, 'Control');
    const { queue: failedTicks } = new FailedTicksQueue(this, 'FailedTicks');
    const functions = new PollerFunctions(this, 'Poller', {
      table,
      stateMachineArn: loopStateMachineArn(),
      executionsArn: loopExecutionsArn(),
      failedTicks,
      extraTargetArns: extraTargetArns.valueAsList,
      controllerMemoryMb: controllerMemory.valueAsNumber,
    });
    // The controller and the worker write metrics; the worker's carry the table's name as their ControlTable
    // dimension, which the TicksFailed alarm watches.
    for (const fn of [functions.controlPlane, functions.worker])
      fn.addEnvironment(PER_POLLER_METRICS_VARIABLE, perPollerMetrics.valueAsString);
    functions.worker.addEnvironment(ENV.controlTableName, table.tableName);
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
    // The seed starts the loop it turns on, so the state machine must exist first; and on delete it stops every
    // loop, so it must go before the state machine and the functions (the ServiceToken orders the control plane).
    // The stream mapping comes first too: it is the second way the seeded item starts its loop.
    seed.resource.node.addDependency(stateMachine.node.defaultChild as CfnResource, triggers.streamStart);
    if (props?.monitoring !== false) {
      new SchedulerMonitoring(this, 'Monitoring', {
        tableName: table.tableName,
        failedTicksQueueName: failedTicks.queueName,
        alarmEmail: alarmEmailParameter(this).valueAsString,
      });
    }

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
