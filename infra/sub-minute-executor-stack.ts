import { CfnOutput, CfnParameter, CfnResource, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import { CfnPermission } from 'aws-cdk-lib/aws-lambda';
import type { Construct, IConstruct } from 'constructs';
import {
  CONTROLLER_MEMORY_SIZES_MB,
  type ControllerMemoryMb,
  DEFAULT_CONTROLLER_MEMORY_MB,
} from '../functions/scheduling/cost-model';
import { DEFAULT_POLLER_ID, FIELD, WAIT_SECONDS_LIMITS } from '../functions/shared/contract';
import { FLEET_CONTROLLER_MEMORY_MB } from './constructs/poller-functions';
import { DEFAULT_MAX_SHARDS, MAX_SHARDS_LIMIT } from './scheduler-props';
import { SubMinuteScheduler } from './sub-minute-scheduler';

export const STACK_NAME = 'SubMinuteLambdaExecutor';

/**
 * Parameter and output logical ids: operators and scripts (npm run ctl, the README) refer to them. The two that seed
 * the item carry the item's field names (and the names every earlier release had: renaming a parameter makes an
 * update of an older stack take its default, and the seed would write that over the live item); the rest are
 * PascalCase, as CloudFormation's own.
 */
export const PARAMETER = {
  running: FIELD.running,
  waitSeconds: FIELD.waitSeconds,
  extraTargetArns: 'ExtraTargetArns',
  controllerMemory: 'ControllerMemory',
  alarmEmail: 'AlarmEmail',
  perPollerMetrics: 'PerPollerMetrics',
  /** The fleet variant only. */
  maxShards: 'MaxShards',
} as const;
export const OUTPUT = {
  controlTableName: 'ControlTableName',
  controlItemConsoleUrl: 'ControlItemConsoleUrl',
  stateMachineArn: 'StateMachineArn',
  controlPlaneFunctionName: 'ControlPlaneFunctionName',
  workerFunctionName: 'WorkerFunctionName',
  failedTicksQueueUrl: 'FailedTicksQueueUrl',
  startCommand: 'StartCommand',
} as const;

/** The console's parameter form: groups in this order, parameters in this order within each, and their labels. */
export const PARAMETER_GROUPS = [
  { label: `The '${DEFAULT_POLLER_ID}' poller`, parameters: [PARAMETER.running, PARAMETER.waitSeconds] },
  {
    label: 'Functions',
    parameters: [PARAMETER.controllerMemory, PARAMETER.maxShards, PARAMETER.extraTargetArns],
  },
  { label: 'Monitoring', parameters: [PARAMETER.perPollerMetrics, PARAMETER.alarmEmail] },
] as const;
/** Labels only where the name says too little (each costs template bytes). */
export const PARAMETER_LABELS: Record<string, string> = {
  [PARAMETER.waitSeconds]: 'Seconds between ticks',
  [PARAMETER.controllerMemory]: 'Controller memory (MB)',
  [PARAMETER.extraTargetArns]: 'Other target functions',
};

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
  /**
   * The fleet variant (README "Fleet"): shards serve the pollers, a MaxShards parameter bounds them, the controller
   * memory defaults to 320 MB, and the fleet starts with the input `{}`.
   * @default false
   */
  readonly fleet?: boolean;
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
 * The project's own stack: the SubMinuteScheduler construct fed by parameters (the default poller's seed, the
 * controller's memory, further targets), and outputs for operators and `npm run ctl`. Deployable from the generated
 * template alone: inline code, no assets, no bootstrap.
 */
export class SubMinuteExecutorStack extends Stack {
  readonly scheduler: SubMinuteScheduler;

  constructor(scope: Construct, id: string, props?: SubMinuteExecutorStackProps) {
    super(scope, id, props);

    const running = new CfnParameter(this, PARAMETER.running, {
      type: 'String',
      allowedValues: ['true', 'false'],
      default: 'true',
      description: `Seeds '${FIELD.running}' of the '${DEFAULT_POLLER_ID}' control item`,
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
      description: 'ARNs of further Lambda functions items may name as target',
    });
    // The allowed sizes are the ones the cost model knows: the controller reads its size at run time.
    const fleet = props?.fleet === true;
    const controllerMemory = new CfnParameter(this, PARAMETER.controllerMemory, {
      type: 'Number',
      allowedValues: CONTROLLER_MEMORY_SIZES_MB.map(String),
      default:
        props?.controllerMemoryMb ?? (fleet ? FLEET_CONTROLLER_MEMORY_MB : DEFAULT_CONTROLLER_MEMORY_MB),
      description: 'Memory (MB) of the control plane: its CPU share grows with it',
    });
    const maxShards = fleet
      ? new CfnParameter(this, PARAMETER.maxShards, {
          type: 'Number',
          minValue: 1,
          maxValue: MAX_SHARDS_LIMIT,
          default: DEFAULT_MAX_SHARDS,
          description: 'The most shards (shared controllers) the pollers are laid on',
        })
      : undefined;
    const perPollerMetrics = new CfnParameter(this, PARAMETER.perPollerMetrics, {
      type: 'String',
      allowedValues: ['false', 'true'],
      default: 'false',
      description: 'true: metrics per poller too ($0.30/month each)',
    });
    const monitoring = props?.monitoring !== false;
    const alarmEmail = monitoring ? alarmEmailParameter(this) : undefined;
    // The console's parameter form: groups and labels. Not in the fleet variant, whose inline template needs the
    // bytes (README "Fleet"): the console then lists its parameters by name, each with its description.
    if (!fleet)
      this.templateOptions.metadata = {
        'AWS::CloudFormation::Interface': {
          // AlarmEmail exists only where the alarms are (the CDK stack, not the inline template).
          ParameterGroups: PARAMETER_GROUPS.map(({ label, parameters }) => ({
            Label: { default: label },
            Parameters: parameters.filter((name) => this.node.tryFindChild(name) !== undefined),
          })),
          ParameterLabels: Object.fromEntries(
            Object.entries(PARAMETER_LABELS).map(([name, label]) => [name, { default: label }]),
          ),
        },
      };

    // 'Default' leaves the construct out of logical ids: the resources keep the ids they had before it existed.
    this.scheduler = new SubMinuteScheduler(this, 'Default', {
      extraTargetArns: extraTargetArns.valueAsList,
      controllerMemoryMb: controllerMemory.valueAsNumber,
      perPollerMetrics: perPollerMetrics.valueAsString,
      monitoring: alarmEmail === undefined ? false : { alarmEmail: alarmEmail.valueAsString },
      ...(maxShards === undefined ? {} : { fleet: { maxShards: maxShards.valueAsNumber } }),
      pollers: [
        { id: DEFAULT_POLLER_ID, running: running.valueAsString, waitSeconds: waitSeconds.valueAsString },
      ],
    });
    const { table, stateMachine, controlPlane, worker, failedTicks } = this.scheduler;

    new CfnOutput(this, OUTPUT.controlTableName, {
      value: table.tableName,
      description: 'Control table: one item per poller',
    });
    // Not in the fleet's template: its bytes are spent, and a fleet's items are listed by `npm run ctl -- list`.
    if (!fleet) {
      new CfnOutput(this, OUTPUT.controlItemConsoleUrl, {
        value: controlItemConsoleUrl(table.tableName, DEFAULT_POLLER_ID),
        description: `The '${DEFAULT_POLLER_ID}' item in the console (aws partition)`,
      });
    }
    new CfnOutput(this, OUTPUT.stateMachineArn, {
      value: stateMachine.stateMachineArn,
      description: 'Poller loop',
    });
    new CfnOutput(this, OUTPUT.controlPlaneFunctionName, {
      value: controlPlane.functionName,
      description: 'Controller, starter, watchdog',
    });
    new CfnOutput(this, OUTPUT.workerFunctionName, {
      value: worker.functionName,
      description: 'Default worker',
    });
    new CfnOutput(this, OUTPUT.failedTicksQueueUrl, {
      value: failedTicks.queueUrl,
      description: 'Failed ticks and starts',
    });
    // The fleet starts with no poller named: the fleet start places every poller and starts its shards.
    new CfnOutput(this, OUTPUT.startCommand, {
      value: `aws stepfunctions start-execution --state-machine-arn ${stateMachine.stateMachineArn} --input '${JSON.stringify(fleet ? {} : { pollerId: DEFAULT_POLLER_ID })}'`,
      description: fleet ? 'Starts the fleet' : `Starts the '${DEFAULT_POLLER_ID}' loop`,
    });
    shortenStatelessIds(this.scheduler);
  }
}

/**
 * Short logical ids for the stack's role policies and the watchdog's invoke permission, whose generated ids run
 * to 40-95 characters and appear several times each: bytes the inline templates (51,200 at most) need for code.
 * Only resources that hold no data and whose names no one refers to: an update of an older stack replaces them.
 * Here, not in the construct: a stack may hold two schedulers, and logical ids are per stack.
 */
function shortenStatelessIds(scheduler: SubMinuteScheduler): void {
  const rename = (construct: IConstruct | undefined, logicalId: string) => {
    const resource = construct?.node.defaultChild;
    if (resource instanceof CfnResource) resource.overrideLogicalId(logicalId);
  };
  rename(scheduler.controlPlane.role?.node.tryFindChild('DefaultPolicy'), 'ControlPlanePolicy');
  rename(scheduler.stateMachine.role.node.tryFindChild('DefaultPolicy'), 'LoopPolicy');
  rename(scheduler.worker.role?.node.tryFindChild('DefaultPolicy'), 'WorkerPolicy');
  for (const child of scheduler.watchdog.node.children) {
    if (child instanceof CfnPermission) child.overrideLogicalId('WatchdogPermission');
  }
}

/** The DynamoDB console's editor of one item (the aws partition's console), in the stack's region. */
export function controlItemConsoleUrl(tableName: string, pollerId: string): string {
  return Fn.sub(
    `https://\${AWS::Region}.console.aws.amazon.com/dynamodbv2/home?region=\${AWS::Region}#edit-item?itemMode=2&table=\${T}&pk=${encodeURIComponent(pollerId)}`,
    { T: tableName },
  );
}
