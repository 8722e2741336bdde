import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The longest SQS keeps a message: an operator back from two weeks off still finds what failed. */
export const FAILED_TICKS_RETENTION = Duration.days(14);

/**
 * Where deliveries that failed for good land, so none is lost without a trace: worker invocations whose retries
 * ran out (or that aged out), and control-table changes the control plane could not turn into a loop start.
 * Each message says what failed (Lambda's destination record, or the stream batch's shard and sequence numbers).
 */
export class FailedTicksQueue extends Construct {
  readonly queue: sqs.Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: FAILED_TICKS_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is the dead-letter destination itself (failed ticks and starts land here): a queue behind it would hold nothing.',
    });
  }
}
