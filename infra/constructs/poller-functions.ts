import { fileURLToPath } from 'node:url';
import { CfnCondition, Duration, Fn, Tokenization, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_SHARD_SIZE } from '../../functions/fleet/shard-round';
import { SHARD_INDEX_NAME } from '../../functions/fleet/shard-store';
import { CONTROLLER_TIMEOUT_SECONDS, ENV, FIELD } from '../../functions/shared/contract';
import { InlineFunction } from './inline-function';

export const HANDLER_ENTRY = {
  controlPlane: fileURLToPath(new URL('../../functions/control-plane/handler.ts', import.meta.url)),
  /** The fleet variant's control plane: a bundle of its own, so neither variant carries the other's controller. */
  fleetControlPlane: fileURLToPath(
    new URL('../../functions/control-plane/fleet-handler.ts', import.meta.url),
  ),
  worker: fileURLToPath(new URL('../../functions/worker/handler.ts', import.meta.url)),
} as const;

/** The example worker fetches `payload.url` with a 5 s timeout; 10 s leaves room for a cold start. */
export const WORKER_TIMEOUT = Duration.seconds(10);

/**
 * What the control plane does to the control table: read an item (rounds, starts), record ticks, restarts and
 * seeds on it, and scan it for pollers without a live loop (watchdog, a no-input execution's first round). Nothing
 * else.
 */
export const CONTROL_PLANE_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:UpdateItem',
  'dynamodb:Scan',
] as const;

/** What the stream's event source mapping reads, on the table's stream only. */
export const CONTROL_PLANE_STREAM_ACTIONS = [
  'dynamodb:DescribeStream',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:ListStreams',
] as const;

/**
 * Asynchronous worker invocations: a failed tick is not retried and goes straight to the failed-ticks queue (a
 * poller's tick retried up to minutes later, as Lambda's default two retries do, is stale news: the next tick is
 * seconds away), and a tick Lambda could not start within a minute (throttling) goes there instead of running
 * late. 60 s is the shortest event age Lambda allows. `ctl failed replay` can still run a queued tick by hand.
 */
export const WORKER_ASYNC_RETRY = { retryAttempts: 0, maxEventAge: Duration.seconds(60) } as const;

/**
 * The attributes the worker may name in its UpdateItem (the key, the outcome fields the worker kit records, and
 * `claimedSeq`, which its writes only read in their condition: a report of a tick the item never claimed is
 * refused), so a worker's role can touch no operator field and no other loop field (IAM condition key
 * `dynamodb:Attributes` counts every top-level attribute a request names, condition included, and cannot tell a
 * read from a write; matched with StringLike: `lastResult*` is the five lastResult fields, and no other field starts
 * so; a test holds it to FIELD).
 */
export const WORKER_OUTCOME_ATTRIBUTE_PATTERNS = [
  FIELD.id,
  `${FIELD.lastResult}*`,
  FIELD.failedTicks,
  FIELD.recentResults,
  FIELD.claimedSeq,
] as const;

/**
 * What the control plane does to the loop's state machine: start executions (starter, watchdog, seed, a no-input
 * execution's first round) and list
 * them (the seed's delete), on the state machine; stop them (the seed's delete), on its executions only.
 */
export const CONTROL_PLANE_STATE_MACHINE_ACTIONS = [
  'states:StartExecution',
  'states:ListExecutions',
] as const;
export const CONTROL_PLANE_EXECUTION_ACTIONS = ['states:StopExecution'] as const;

/** The fleet variant's one read beyond CONTROL_PLANE_TABLE_ACTIONS: a shard's Query of its pollers, on the index. */
export const FLEET_INDEX_ACTIONS = ['dynamodb:Query'] as const;

/** The fleet's controller size unless the props say otherwise (docs/design/fleet.md: ~58% of a core). */
export const FLEET_CONTROLLER_MEMORY_MB = DEFAULT_SHARD_SIZE.memoryMb;

/** How cdk-nag prints the executions ARN (loopExecutionsArn) in its IAM5 finding. */
const LOOP_EXECUTIONS_NAG_RESOURCE =
  'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<AWS::StackName>-loop:*';

export interface PollerFunctionsProps {
  readonly table: dynamodb.ITable;
  /** The poller loop the control plane starts (built from its fixed name: the state machine refers to us). */
  readonly stateMachineArn: string;
  /** Every execution of that loop (`…:execution:<loop>:*`): the control plane may stop them. */
  readonly executionsArn: string;
  /**
   * The control plane's memory in MB (a parameter's token, usually).
   * @default FUNCTION_DEFAULTS.memorySize
   */
  readonly controllerMemoryMb?: number;

  /** Where the worker's failed asynchronous invocations go. */
  readonly failedTicks: sqs.IQueue;
  /**
   * The function fired on every tick whose control item names no `target`.
   * @default - the example worker (functions/worker/), inline
   */
  readonly worker?: lambda.IFunction;
  /**
   * Whether to configure the worker's asynchronous invocations (retries, the failed-ticks queue). Off for a
   * worker that already has its own EventInvokeConfig (a function has at most one).
   * @default true
   */
  readonly configureWorkerAsyncInvoke?: boolean;
  /** @default FUNCTION_DEFAULTS.logRetention */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Further Lambda function ARNs the control plane may fire (control items name them in `target`); an empty
   * list (a list token from a parameter that resolves to `['']`) attaches no policy.
   * @default - only the stack's worker
   */
  readonly extraTargetArns?: string[];
  /**
   * The fleet variant: pollers served by shared shard controllers (functions/control-plane/fleet-handler.ts), at
   * most `maxShards` of them (a number or a parameter's token); the table must have the shard index.
   * @default - one loop per poller (functions/control-plane/handler.ts)
   */
  readonly fleet?: { readonly maxShards: number };
}

/**
 * The control plane (one function behind four entry points: loop rounds, stream starts, the watchdog schedule,
 * the seed custom resource; one bundle keeps the inline template small) and the example worker it fires by
 * default.
 */
export class PollerFunctions extends Construct {
  readonly controlPlane: lambda.Function;
  readonly worker: lambda.IFunction;
  private readonly tableArn: string;

  constructor(scope: Construct, id: string, props: PollerFunctionsProps) {
    super(scope, id);
    this.tableArn = props.table.tableArn;
    const logRetention = props.logRetention !== undefined ? { logRetention: props.logRetention } : {};
    if (props.worker !== undefined) {
      this.worker = props.worker;
    } else {
      const worker = new InlineFunction(this, 'Worker', {
        entry: HANDLER_ENTRY.worker,
        timeout: WORKER_TIMEOUT,
        description: 'Sub-minute executor: example worker',
        environment: { [ENV.controlTableName]: props.table.tableName },
        ...logRetention,
      }).function;
      this.grantOutcomeRecording(worker);
      this.worker = worker;
    }
    // Only the default worker gets a destination here. The control plane fires user targets the same way: a
    // target named in a control item should configure its own on-failure destination (EventInvokeConfig).
    if (props.configureWorkerAsyncInvoke ?? true) {
      this.worker.configureAsyncInvoke({
        onFailure: new SqsDestination(props.failedTicks),
        ...WORKER_ASYNC_RETRY,
      });
    }

    const { fleet } = props;
    const memorySize =
      props.controllerMemoryMb ?? (fleet === undefined ? undefined : FLEET_CONTROLLER_MEMORY_MB);
    this.controlPlane = new InlineFunction(this, 'ControlPlane', {
      entry: fleet === undefined ? HANDLER_ENTRY.controlPlane : HANDLER_ENTRY.fleetControlPlane,
      timeout: Duration.seconds(CONTROLLER_TIMEOUT_SECONDS),
      ...(memorySize !== undefined ? { memorySize } : {}),
      description:
        fleet === undefined
          ? 'Sub-minute executor: loop rounds, loop starts, watchdog, control item seed'
          : 'Sub-minute executor fleet',
      ...logRetention,
      environment: {
        [ENV.controlTableName]: props.table.tableName,
        [ENV.defaultTarget]: this.worker.functionName,
        [ENV.stateMachineArn]: props.stateMachineArn,
        ...(fleet === undefined ? {} : { [ENV.maxShards]: Tokenization.stringifyNumber(fleet.maxShards) }),
      },
    }).function;

    // On the table alone: table.grant() would add `index/*` once the table has an index (the fleet's).
    this.controlPlane.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [...CONTROL_PLANE_TABLE_ACTIONS],
        resources: [props.table.tableArn],
      }),
    );
    if (fleet !== undefined) {
      // The index by its name (grant() on the table would add `index/*`): the one a shard queries.
      this.controlPlane.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [...FLEET_INDEX_ACTIONS],
          resources: [`${props.table.tableArn}/index/${SHARD_INDEX_NAME}`],
        }),
      );
    }
    // Not grantStreamRead: that adds dynamodb:ListStreams on "*"; the mapping reads this table's stream only.
    props.table.grantStream(this.controlPlane, ...CONTROL_PLANE_STREAM_ACTIONS);
    this.allowInvoke(this.worker.functionArn);
    this.controlPlane.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [...CONTROL_PLANE_STATE_MACHINE_ACTIONS],
        resources: [props.stateMachineArn],
      }),
    );
    this.controlPlane.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [...CONTROL_PLANE_EXECUTION_ACTIONS],
        resources: [props.executionsArn],
      }),
    );
    // The role's policy is created when the first statement is added, so it exists here.
    const policy = this.controlPlane.role?.node.tryFindChild('DefaultPolicy');
    if (policy !== undefined) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${LOOP_EXECUTIONS_NAG_RESOURCE}]`,
        reason:
          "Executions are named per poller and generation at run time: the ARN names this stack's loop state machine and lets only its executions be stopped.",
      });
    }
    if (props.extraTargetArns !== undefined) this.allowExtraTargets(props.extraTargetArns);
  }

  /**
   * Lets a worker record tick outcomes (functions/worker-kit/): UpdateItem on the control table, naming only the key
   * and the outcome attributes, and returning at most what it updated (ALL_NEW would read the whole item).
   */
  grantOutcomeRecording(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [this.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:Attributes': [...WORKER_OUTCOME_ATTRIBUTE_PATTERNS] },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'UPDATED_NEW'] },
        },
      }),
    );
  }

  /** The unqualified function only (grantInvoke would add every version and alias, `:*`): ticks fire $LATEST. */
  private allowInvoke(functionArn: string): void {
    this.controlPlane.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [functionArn] }),
    );
  }

  /** A separate policy, created only when the list is not empty: IAM refuses an empty Resource. */
  private allowExtraTargets(targetArns: string[]): void {
    const hasTargets = new CfnCondition(this, 'HasExtraTargets', {
      expression: Fn.conditionNot(Fn.conditionEquals(Fn.join('', targetArns), '')),
    });
    const policy = new iam.Policy(this, 'ExtraTargetsPolicy', {
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: targetArns })],
    });
    this.controlPlane.role?.attachInlinePolicy(policy);
    (policy.node.defaultChild as iam.CfnPolicy).cfnOptions.condition = hasTargets;
  }
}
