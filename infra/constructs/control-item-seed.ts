import { fileURLToPath } from 'node:url';
import { CfnResource, Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { SEED_PROPERTY, SEED_RESOURCE_TYPE } from '../../functions/seeder/seed-properties';
import { ENV } from '../../functions/shared/contract';
import { InlineFunction } from './inline-function';

export const SEEDER_ENTRY = fileURLToPath(new URL('../../functions/seeder/handler.ts', import.meta.url));

/** One UpdateItem and one HTTPS PUT; the seeder gives up on the write after 15 s so it can still answer. */
export const SEEDER_TIMEOUT = Duration.seconds(30);

export interface ControlItemSeedProps {
  readonly table: dynamodb.ITable;
  readonly pollerId: string;
  /** 'true' or 'false' (a parameter's value). */
  readonly running: string;
  /** A number of seconds as text (a parameter's value). */
  readonly waitSeconds: string;
}

/**
 * Writes `running` and `waitseconds` of one control item from stack parameters, through a custom resource
 * backed by an inline function (no cfn-response module or provider framework: those bring S3 assets).
 * It writes on create and when the parameters change; operators steer the item in between.
 */
export class ControlItemSeed extends Construct {
  readonly resource: CfnResource;

  constructor(scope: Construct, id: string, props: ControlItemSeedProps) {
    super(scope, id);
    const seeder = new InlineFunction(this, 'Seeder', {
      entry: SEEDER_ENTRY,
      timeout: SEEDER_TIMEOUT,
      description: 'Sub-minute executor: seeds the control item from the stack parameters',
      environment: { [ENV.controlTableName]: props.table.tableName },
    }).function;
    const permission = props.table.grant(seeder, 'dynamodb:UpdateItem');

    this.resource = new CfnResource(this, 'Resource', {
      type: SEED_RESOURCE_TYPE,
      properties: {
        ServiceToken: seeder.functionArn,
        [SEED_PROPERTY.tableName]: props.table.tableName,
        [SEED_PROPERTY.pollerId]: props.pollerId,
        [SEED_PROPERTY.running]: props.running,
        [SEED_PROPERTY.waitSeconds]: props.waitSeconds,
      },
    });
    // The seeder runs as soon as the resource is created: its write permission must be in place by then.
    permission.applyBefore(this.resource);
  }
}
