import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { SHARD_INDEX_NAME, SHARD_INDEX_PROJECTION } from '../../functions/fleet/shard-store';
import { FIELD } from '../../functions/shared/contract';

/**
 * The control table: one item per poller, keyed by `id`, edited live by operators. On-demand billing (a few
 * reads per tick), point-in-time recovery for fat-fingered edits, AWS-managed encryption. Its stream carries
 * both images of every change, so the control plane can tell an item that turned `running` on from one that
 * merely changed. Control items are configuration, not data worth keeping past the stack, so the table goes
 * with it.
 */
export interface ControlTableProps {
  /** @default RemovalPolicy.DESTROY (control items are configuration) */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The fleet variant's global secondary index `shard-index` (key `shard`, projecting SHARD_INDEX_PROJECTION), which a shard queries
   * its pollers with. Sparse: only items naming a shard are in it, so the single-loop variant neither needs nor gets it.
   * @default false
   */
  readonly shardIndex?: boolean;
}

export class ControlTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ControlTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: FIELD.id, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    if (props.shardIndex === true) {
      this.table.addGlobalSecondaryIndex({
        indexName: SHARD_INDEX_NAME,
        partitionKey: { name: FIELD.shard, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.INCLUDE,
        nonKeyAttributes: [...SHARD_INDEX_PROJECTION],
      });
    }
  }
}
