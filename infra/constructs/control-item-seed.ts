import { CfnResource } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  SEED_PROPERTY,
  SEED_RESOURCE_TYPE,
  SEED_SERVICE_TIMEOUT_SECONDS,
} from '../../functions/seeder/seed-properties';

export interface ControlItemSeedProps {
  readonly table: dynamodb.ITable;
  /**
   * The function that answers the custom resource (the control plane). It must be allowed to
   * dynamodb:UpdateItem and Scan on the table, and to start, list and stop the loop's executions; its role's
   * policy is in place before the function exists, so before CloudFormation can call it.
   */
  readonly provider: lambda.IFunction;
  readonly pollerId: string;
  /** 'true' or 'false' (a parameter's value). */
  readonly running: string;
  /** A number of seconds as text (a parameter's value). */
  readonly waitSeconds: string;
}

/**
 * Writes `running` and `waitseconds` of one control item from stack parameters, through a custom resource
 * answered by an inline function (no cfn-response module or provider framework: those bring S3 assets).
 * It writes on create and when the parameters change (operators steer the item in between) and starts the loop
 * when that turns `running` on; on delete it stops every loop. So the stack must create it after the state
 * machine and delete it before the state machine and the functions (a dependency on each). A ServiceTimeout keeps an answer that never comes from holding the stack for an hour.
 */
export class ControlItemSeed extends Construct {
  readonly resource: CfnResource;

  constructor(scope: Construct, id: string, props: ControlItemSeedProps) {
    super(scope, id);
    this.resource = new CfnResource(this, 'Resource', {
      type: SEED_RESOURCE_TYPE,
      properties: {
        ServiceToken: props.provider.functionArn,
        ServiceTimeout: String(SEED_SERVICE_TIMEOUT_SECONDS),
        [SEED_PROPERTY.tableName]: props.table.tableName,
        [SEED_PROPERTY.pollerId]: props.pollerId,
        [SEED_PROPERTY.running]: props.running,
        [SEED_PROPERTY.waitSeconds]: props.waitSeconds,
      },
    });
  }
}
