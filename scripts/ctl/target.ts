import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { type AwsClientOptions, LOCAL_REGION, localClientOptions } from '../../functions/shared/aws-clients';
import {
  LOCAL_TABLE_NAME,
  LOCAL_WORKER_NAME,
  localEndpoint,
  localQueueUrl,
  localStateMachineArn,
  servicesPortFor,
} from '../local-stack/local-endpoints';
import { createCloudFormationClient } from './cloudformation-client';
import { AwsCallError, CtlError } from './errors';
import type { TargetSpec } from './target-spec';

/** Stack output keys the CLI reads (infra/sub-minute-executor-stack.ts OUTPUT; kept literal to not load the CDK). */
export const STACK_OUTPUT = {
  controlTableName: 'ControlTableName',
  stateMachineArn: 'StateMachineArn',
  failedTicksQueueUrl: 'FailedTicksQueueUrl',
  workerFunctionName: 'WorkerFunctionName',
} as const;

/** The failed-ticks queue and how to reach it and the functions a replay fires (`ctl failed`). */
export interface FailedTicksTarget {
  readonly queueUrl: string;
  readonly sqs: AwsClientOptions;
  readonly lambda: AwsClientOptions;
}

/** Where the commands go: the table, the state machine and how to reach both. */
export interface ResolvedTarget {
  readonly tableName: string;
  /** Needed by `start` only. */
  readonly stateMachineArn: string | undefined;
  readonly dynamoDb: AwsClientOptions;
  readonly stepFunctions: AwsClientOptions;
  /** Added to a connection-refused error, e.g. "is `npm start` running?". */
  readonly connectionHint?: string | undefined;
  /** Known for a stack (its output) and the local stack; a bare --table names none. */
  readonly failedTicks?:
    | FailedTicksTarget
    | undefined /** How to reach Lambda (`ctl trigger` fires with it). */;
  readonly lambda?: AwsClientOptions | undefined;
  /** The stack's worker (`ctl trigger` of an item without `target`); a bare --table names none. */
  readonly defaultWorker?: string | undefined;
  /** The local stack (`--local`): `ctl start` in a fleet's table starts the fleet itself there. */
  readonly local?: boolean | undefined;
}

/** The local stack with explicit endpoints: `--local` derives them from one port, tests pass ephemeral ones. */
export function localTarget(endpoints: {
  readonly dynamoDbEndpoint: string;
  readonly servicesEndpoint: string;
}): ResolvedTarget {
  return {
    local: true,
    tableName: LOCAL_TABLE_NAME,
    stateMachineArn: localStateMachineArn(LOCAL_REGION),
    dynamoDb: localClientOptions(endpoints.dynamoDbEndpoint),
    stepFunctions: localClientOptions(endpoints.servicesEndpoint),
    connectionHint: `is \`npm start\` running? ctl expects DynamoDB at ${endpoints.dynamoDbEndpoint} and Step Functions (Lambda, SQS) at ${endpoints.servicesEndpoint}; match its port with --port N`,
    lambda: localClientOptions(endpoints.servicesEndpoint),
    defaultWorker: LOCAL_WORKER_NAME,
    failedTicks: {
      queueUrl: localQueueUrl(endpoints.servicesEndpoint),
      sqs: localClientOptions(endpoints.servicesEndpoint),
      lambda: localClientOptions(endpoints.servicesEndpoint),
    },
  };
}

export async function resolveTarget(
  spec: TargetSpec,
  cloudFormation: (options: AwsClientOptions) => CloudFormationClient = createCloudFormationClient,
): Promise<ResolvedTarget> {
  switch (spec.kind) {
    case 'local':
      return localTarget({
        dynamoDbEndpoint: localEndpoint(spec.port),
        servicesEndpoint: localEndpoint(servicesPortFor(spec.port)),
      });
    case 'table':
      return {
        tableName: spec.tableName,
        stateMachineArn: spec.stateMachineArn,
        dynamoDb: { region: spec.region },
        stepFunctions: { region: spec.region },
        lambda: { region: spec.region },
      };
    case 'stack': {
      const client = cloudFormation({ region: spec.region });
      try {
        return await readStackOutputs(client, spec.stackName, spec.region);
      } finally {
        client.destroy();
      }
    }
  }
}

async function readStackOutputs(
  client: CloudFormationClient,
  stackName: string,
  region: string | undefined,
): Promise<ResolvedTarget> {
  let outputs: ReadonlyMap<string, string>;
  try {
    const result = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = new Map(
      (result.Stacks?.[0]?.Outputs ?? []).flatMap((o) =>
        o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [],
      ),
    );
  } catch (error) {
    throw new AwsCallError(`reading the outputs of stack '${stackName}'`, error);
  }
  const output = (key: string) => {
    const value = outputs.get(key);
    if (value === undefined) {
      throw new CtlError(
        `stack '${stackName}' has no output ${key}: is it a Sub-Minute Lambda Executor stack, fully deployed?`,
      );
    }
    return value;
  };
  // A stack deployed before the queue had an output has none: only `ctl failed` needs it, and says so.
  const queueUrl = outputs.get(STACK_OUTPUT.failedTicksQueueUrl);
  const worker = outputs.get(STACK_OUTPUT.workerFunctionName);
  return {
    lambda: { region },
    ...(worker === undefined ? {} : { defaultWorker: worker }),
    tableName: output(STACK_OUTPUT.controlTableName),
    stateMachineArn: output(STACK_OUTPUT.stateMachineArn),
    dynamoDb: { region },
    stepFunctions: { region },
    ...(queueUrl === undefined ? {} : { failedTicks: { queueUrl, sqs: { region }, lambda: { region } } }),
  };
}
