import { ArnFormat, CfnCondition, type CfnResource, Fn, type RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../functions/shared/contract';
import { SubMinuteError } from '../functions/shared/errors';
import { PER_POLLER_METRICS_VARIABLE } from '../functions/shared/metrics';
import { TRIGGER_WRITE_ATTRIBUTES, TRIGGER_WRITE_RETURN_VALUES } from '../functions/shared/trigger-write';
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
import {
  checkSchedulerProps,
  type FleetProps,
  maxShardsOf,
  type PollerDeclaration,
  seededPoller,
} from './scheduler-props';

export type { FleetProps, PollerDeclaration } from './scheduler-props';

/**
 * What a role that steers pollers does to the control table (`ctl set`, `create`, `stop`, `delete`, `pause`, and
 * with grantStart `start`, `resume`): read one item or all (`--all`), edit operator fields (`running`,
 * `waitseconds`, `target`, …; `create` too is a conditional UpdateItem), and delete an item that is not running
 * (`ctl delete`, conditional). Never PutItem: a write must not replace the system fields the loop keeps on the item.
 */
export const STEER_POLLER_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:Scan',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
] as const;
/** What a role that watches pollers does to the control table: read one item, or scan for all (`ctl list`, `watch`). */
export const READ_POLLER_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Scan'] as const;
/**
 * What `ctl trigger` does to the control table: read the item (refusals come before any write) and record the
 * request on it (conditional UpdateItems of the trigger fields, and `lastError` for a refused invoke).
 */
export const TRIGGER_POLLER_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'] as const;
/** What `ctl trigger` does to the functions a poller fires: one asynchronous invoke. */
export const TRIGGER_INVOKE_ACTIONS = ['lambda:InvokeFunction'] as const;
/** What `ctl status` and `ctl start` ask of the loop's executions: whether the one an item names has ended. */
export const READ_EXECUTION_ACTIONS = ['states:DescribeExecution'] as const;

export interface SubMinuteSchedulerProps {
  /**
   * The function fired on every tick of a poller whose control item names no `target`. Its failed asynchronous
   * invocations go to the failed-ticks queue (see `configureWorkerAsyncInvoke`).
   * @default - the example worker (functions/worker/: fetches `payload.url`), inline
   */
  readonly worker?: lambda.IFunction;
  /**
   * Configure the worker's asynchronous invocations: 2 retries, events older than an hour dropped, failures to
   * the failed-ticks queue. Set false for a worker that already has its own EventInvokeConfig (a function has at
   * most one).
   * @default true
   */
  readonly configureWorkerAsyncInvoke?: boolean;
  /**
   * ARNs of further Lambda functions a control item may name as its `target` (the controller may invoke these
   * and no other).
   * @default - only the worker
   */
  readonly extraTargetArns?: string[];
  /**
   * Memory of the control plane in MB (its CPU share grows with it): 128, 256, 320, 512 or 1024, or a parameter's token.
   * @default 128; 320 with `fleet`
   */
  readonly controllerMemoryMb?: number;
  /**
   * How long the functions' logs are kept (the default worker's and the control plane's).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the control table when it leaves the stack.
   * @default RemovalPolicy.DESTROY (control items are configuration; the stack recreates the declared ones)
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /**
   * Pollers written to the control table at deployment, with any operator field `ctl create` sets (`target`,
   * `payload`, `timezone`, `windows`, `overlap`). The seed writes every declared field on create, and on update
   * only the fields whose declared value changed; between deployments operators steer the items live. A field
   * dropped from a declaration is removed from the item (the seed wrote it); a field never declared is left to the
   * operators. A poller removed from the list is switched off (`running`=false) and keeps its item. Each is checked
   * at synth by the decoder the seed runs (the validators of `ctl create`); a `target` must be one of
   * `extraTargetArns`.
   * @default - none: create items with `npm run ctl -- create` or in the console
   */
  readonly pollers?: readonly PollerDeclaration[];
  /**
   * Metrics per poller as well as per table (one billed custom metric per poller and metric name: README "Metrics
   * and alarms"). A boolean, or the text 'true'/'false' (e.g. a CfnParameter's value).
   * @default false
   */
  readonly perPollerMetrics?: boolean | string;
  /**
   * Alarms (with an SNS topic) and a dashboard for the control table; `false` leaves them out (the project's inline
   * template does: its 51,200 bytes have no room, SubMinuteLambdaExecutor-monitoring.yaml brings them).
   * `alarmEmail` subscribes an address to the topic.
   * @default {} (alarms and dashboard, no subscription)
   */
  readonly monitoring?: false | { readonly alarmEmail?: string };
  /**
   * The fleet variant: the pollers are served by shards, shared controllers each looping over many pollers
   * (functions/control-plane/fleet-handler.ts, README "Fleet"), instead of one loop per poller. Adds the control
   * table's `shard-index` (and the control plane's Query on it) and sets the controller's memory default to 320 MB.
   * Start the fleet by starting the state machine with the input `{}`.
   * @default - one loop per poller
   */
  readonly fleet?: FleetProps;
}

/**
 * The sub-minute scheduler, for a CDK app of your own: the control table, the control plane (loop rounds, starts
 * on table changes, the watchdog, the seed of declared pollers), the worker, the self-restarting loop state
 * machine and the failed-ticks queue. One per stack: the loop is named after the stack (`<stack name>-loop`).
 * Code is inline (no assets), so a stack holding only this deploys without a bootstrap.
 */
export class SubMinuteScheduler extends Construct {
  readonly table: dynamodb.Table;
  readonly stateMachine: sfn.StateMachine;
  readonly controlPlane: lambda.Function;
  readonly worker: lambda.IFunction;
  readonly failedTicks: sqs.Queue;
  readonly watchdog: events.Rule;
  /** The alarms, their topic and the dashboard (undefined when `monitoring: false`). */
  readonly monitoring: SchedulerMonitoring | undefined;
  /** The functions besides the worker an item may name as its `target` (props.extraTargetArns). */
  private readonly extraTargetArns: readonly string[];

  constructor(scope: Construct, id: string, props: SubMinuteSchedulerProps = {}) {
    super(scope, id);
    this.extraTargetArns = props.extraTargetArns ?? [];
    const stack = Stack.of(this);
    this.node.addValidation({
      validate: () => [
        ...checkSchedulerProps(props, stack.stackName),
        ...(schedulersIn(stack) > 1
          ? [
              `stack '${stack.stackName}' holds ${schedulersIn(stack)} SubMinuteSchedulers: each names its loop '<stack name>-loop', so put one per stack (one scheduler serves many pollers)`,
            ]
          : []),
      ],
    });

    // Construct ids below are the project's stack's own (SubMinuteExecutorStack adds this construct as 'Default',
    // which logical ids leave out): renaming one would replace the resource on update, the table with its items.
    this.table = new ControlTable(this, 'Control', {
      removalPolicy: props.tableRemovalPolicy,
      shardIndex: props.fleet !== undefined,
    }).table;
    this.failedTicks = new FailedTicksQueue(this, 'FailedTicks').queue;
    const functions = new PollerFunctions(this, 'Poller', {
      table: this.table,
      stateMachineArn: loopStateMachineArn(),
      executionsArn: loopExecutionsArn(),
      failedTicks: this.failedTicks,
      extraTargetArns: props.extraTargetArns,
      controllerMemoryMb: props.controllerMemoryMb,
      worker: props.worker,
      configureWorkerAsyncInvoke: props.configureWorkerAsyncInvoke,
      logRetention: props.logRetention,
      ...(props.fleet === undefined ? {} : { fleet: { maxShards: maxShardsOf(props.fleet) } }),
    });
    this.controlPlane = functions.controlPlane;
    this.worker = functions.worker;
    // The controller and the worker write metrics; the worker's carry the table's name as their ControlTable
    // dimension, which the TicksFailed alarm watches.
    const perPollerMetrics = String(props.perPollerMetrics ?? false);
    this.controlPlane.addEnvironment(PER_POLLER_METRICS_VARIABLE, perPollerMetrics);
    if (functions.worker instanceof lambda.Function) {
      functions.worker.addEnvironment(PER_POLLER_METRICS_VARIABLE, perPollerMetrics);
      // A worker of the user's built on the worker kit records its outcomes like the example worker does.
      if (props.worker !== undefined) {
        functions.worker.addEnvironment(ENV.controlTableName, this.table.tableName);
        functions.grantOutcomeRecording(functions.worker);
      }
    }
    this.stateMachine = new PollerStateMachine(this, 'Loop', { controller: this.controlPlane }).stateMachine;
    const triggers = new ControlPlaneTriggers(this, 'Triggers', {
      table: this.table,
      controlPlane: this.controlPlane,
      failures: this.failedTicks,
      fleet: props.fleet !== undefined,
    });
    this.watchdog = triggers.watchdog;
    // Always a seed, even of no poller: its Delete stops every loop, or a loop waiting in its Wait state would
    // hold the state machine in DELETING.
    const seed = new ControlItemSeed(this, 'Seed', {
      table: this.table,
      provider: this.controlPlane,
      pollers: (props.pollers ?? []).map((poller) => seededPoller(poller, stack)),
    });
    // The seed starts the loops it turns on, so the state machine must exist first; and on delete it stops every
    // loop, so it must go before the state machine and the functions (the ServiceToken orders the control plane).
    // The stream mapping comes first too: it is the second way a seeded item starts its loop.
    seed.resource.node.addDependency(
      this.stateMachine.node.defaultChild as CfnResource,
      triggers.streamStart,
    );
    const monitoring = props.monitoring ?? {};
    this.monitoring =
      monitoring === false
        ? undefined
        : new SchedulerMonitoring(this, 'Monitoring', {
            tableName: this.table.tableName,
            failedTicksQueueName: this.failedTicks.queueName,
            ...(monitoring.alarmEmail !== undefined ? { alarmEmail: monitoring.alarmEmail } : {}),
          });
  }

  /**
   * Lets `grantee` steer pollers: read control items, edit their operator fields, delete one that is not running
   * (never replace an item by Put). `ctl start`/`resume` need grantStart as well.
   */
  grantSteerPollers(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnTable(grantee, STEER_POLLER_ACTIONS);
  }

  /**
   * Lets `grantee` read control items, one (`ctl status`) or all (`ctl list`, `watch`), and the status of the
   * loop's executions (`ctl status` shows whether the loop an item names has ended).
   */
  grantReadPollers(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnTable(grantee, READ_POLLER_ACTIONS).combine(this.grantDescribeExecutions(grantee));
  }

  /**
   * Lets `grantee` start executions of this scheduler's loop state machine and read their status, and nothing
   * else: a console start, or with grantSteerPollers what `ctl start` does (it takes the loop on the item, asks
   * whether the loop the item names has ended, then starts it).
   */
  grantStart(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee).combine(this.grantDescribeExecutions(grantee));
  }

  /**
   * Lets `grantee` fire a poller once (`ctl trigger`): read its item (GetItem), record the request on it (UpdateItem
   * naming only the attributes trigger-write.ts names, TRIGGER_WRITE_ATTRIBUTES, and asking back at most what it
   * updated), and invoke the functions the controller may fire (the worker and `extraTargetArns`, unqualified, as
   * ticks fire them), and nothing else. `extraTargetArns` given as a token (the project stack's parameter, which
   * may be empty) go in a policy of their own, created only when the list is not empty (IAM refuses an empty
   * Resource), attached to the grantee's role or user.
   */
  grantTrigger(grantee: iam.IGrantable): iam.Grant {
    const [getItem, updateItem] = TRIGGER_POLLER_ACTIONS;
    // A parameter's list is one list token (`#{Token[…]}`), which Token.isUnresolved sees only on the whole array.
    const literalTargets =
      !Token.isUnresolved([...this.extraTargetArns]) &&
      this.extraTargetArns.every((arn) => !Token.isUnresolved(arn));
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: [getItem],
      resourceArns: [this.table.tableArn],
    })
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: [updateItem],
          resourceArns: [this.table.tableArn],
          conditions: {
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...TRIGGER_WRITE_ATTRIBUTES] },
            StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', TRIGGER_WRITE_RETURN_VALUES] },
          },
        }),
      )
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: [...TRIGGER_INVOKE_ACTIONS],
          resourceArns: [this.worker.functionArn, ...(literalTargets ? this.extraTargetArns : [])],
        }),
      );
    if (!literalTargets) this.grantExtraTargetsIfAny(grantee);
    return grant;
  }

  /** InvokeFunction on `extraTargetArns` given as a token: a policy that exists only when the list is not empty. */
  private grantExtraTargetsIfAny(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    const role = principal instanceof iam.Role ? principal : undefined;
    const user = principal instanceof iam.User ? principal : undefined;
    if (role === undefined && user === undefined) {
      throw new TriggerGrantError(
        this.extraTargetArns.join(','),
        'grantTrigger with extraTargetArns given as a token needs an iam.Role or iam.User grantee (the invoke policy on them exists only when the list is not empty)',
      );
    }
    // In the grantee's stack (a CfnCondition belongs to one template): under the grantee, one per scheduler.
    const scope: Construct = role ?? user ?? this;
    const hasTargets = new CfnCondition(scope, `HasTriggerTargets${this.node.addr}`, {
      expression: Fn.conditionNot(Fn.conditionEquals(Fn.join('', [...this.extraTargetArns]), '')),
    });
    const policy = new iam.Policy(scope, `TriggerTargets${this.node.addr}`, {
      statements: [
        new iam.PolicyStatement({
          actions: [...TRIGGER_INVOKE_ACTIONS],
          resources: [...this.extraTargetArns],
        }),
      ],
    });
    if (role !== undefined) policy.attachToRole(role);
    if (user !== undefined) policy.attachToUser(user);
    (policy.node.defaultChild as iam.CfnPolicy).cfnOptions.condition = hasTargets;
  }

  /** `actions` on the table itself: table.grant() would add `index/*` to them once the table has the shard index. */
  private grantOnTable(grantee: iam.IGrantable, actions: readonly string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [this.table.tableArn] });
  }

  /**
   * DescribeExecution on this loop's executions only (`…:execution:<loop name>:*`). Built from the state
   * machine's own name rather than `loopExecutionsArn()`, whose `AWS::StackName` would name the grantee's stack
   * when the grantee lives in another one.
   */
  private grantDescribeExecutions(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...READ_EXECUTION_ACTIONS],
      resourceArns: [
        Stack.of(this).formatArn({
          service: 'states',
          resource: 'execution',
          resourceName: `${this.stateMachine.stateMachineName}:*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    });
  }
}

/** grantTrigger cannot grant what was asked without widening it: the value is the offending `extraTargetArns`. */
export class TriggerGrantError extends SubMinuteError {
  override readonly name = 'TriggerGrantError';

  constructor(value: string, message: string) {
    super(`${message} (extraTargetArns: ${value})`, { value });
  }
}

function schedulersIn(stack: Stack): number {
  return stack.node.findAll().filter((construct) => construct instanceof SubMinuteScheduler).length;
}
