import { CfnResource } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  type OptionalSeedProperty,
  SEED_PROPERTY,
  SEED_RESOURCE_TYPE,
  SEED_SERVICE_TIMEOUT_SECONDS,
} from '../../functions/seeder/seed-properties';

/** One poller the seed writes, as the custom resource passes it: text (a parameter's value or a literal). */
export interface SeededPoller {
  readonly pollerId: string;
  /** 'true' or 'false'. */
  readonly running: string;
  /** A number of seconds as text. */
  readonly waitSeconds: string;
  /**
   * The optional operator fields declared, by seed property (`Payload` is the JSON text of an object: CloudFormation
   * would turn a nested object's numbers into strings; `Windows` a list of rule texts).
   */
  readonly optional?: Readonly<Partial<Record<OptionalSeedProperty, string | readonly string[]>>>;
}

export interface ControlItemSeedProps {
  readonly table: dynamodb.ITable;
  /**
   * The function that answers the custom resource (the control plane). It must be allowed to
   * dynamodb:UpdateItem and Scan on the table, and to start, list and stop the loop's executions; its role's
   * policy is in place before the function exists, so before CloudFormation can call it.
   */
  readonly provider: lambda.IFunction;
  /** The pollers to write; none still makes a seed, whose Delete stops every loop. */
  readonly pollers: readonly SeededPoller[];
}

/**
 * Writes the operator fields of control items from stack parameters or pollers declared in code, through
 * a custom resource answered by an inline function (no cfn-response module or provider framework: those bring S3
 * assets). It writes on create and, per field, when its declared value changes (operators steer the items in between),
 * and starts the loop of each poller it seeds with `running` on; on delete it stops every loop. So the stack must create it after
 * the state machine and delete it before the state machine and the functions (a dependency on each). A
 * ServiceTimeout keeps an answer that never comes from holding the stack for an hour.
 *
 * One poller takes the single form (`PollerId`, `Running`, `WaitSeconds`, and the optional fields declared), any
 * other count the `Pollers` list:
 * the seeder reads both (functions/seeder/seed-properties.ts parseSeedPollers).
 */
export class ControlItemSeed extends Construct {
  readonly resource: CfnResource;

  constructor(scope: Construct, id: string, props: ControlItemSeedProps) {
    super(scope, id);
    const [only] = props.pollers;
    this.resource = new CfnResource(this, 'Resource', {
      type: SEED_RESOURCE_TYPE,
      properties: {
        ServiceToken: props.provider.functionArn,
        ServiceTimeout: String(SEED_SERVICE_TIMEOUT_SECONDS),
        [SEED_PROPERTY.tableName]: props.table.tableName,
        ...(props.pollers.length === 1 && only !== undefined
          ? seedPollerProperties(only)
          : { [SEED_PROPERTY.pollers]: props.pollers.map(seedPollerProperties) }),
      },
    });
  }
}

function seedPollerProperties(poller: SeededPoller): Record<string, string | readonly string[]> {
  return {
    [SEED_PROPERTY.pollerId]: poller.pollerId,
    [SEED_PROPERTY.running]: poller.running,
    [SEED_PROPERTY.waitSeconds]: poller.waitSeconds,
    ...poller.optional,
  };
}
