import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FIELD } from '../../functions/shared/contract';

/**
 * The stream records that start a loop: an item created with running=true, an item whose running turns true
 * (from false, or from absent or not a boolean), and any change of an item with running=true that has no loop
 * yet (no generation) or whose loop recorded a stop (an operator fixing the configuration it stopped on). The
 * handler checks the same (functions/starter/on-item-changes) and the start itself decides (a live loop is left
 * alone, an invalid configuration is recorded instead). Filters are OR-ed; within one, every field must match.
 * `exists` applies to leaf values, hence `BOOL`, `N` and `S`.
 */
/** An item created with running=true, or whose running turns true (from false, or from absent or not a boolean). */
const TURNS_ON_FILTERS = [
  lambda.FilterCriteria.filter({
    eventName: lambda.FilterRule.isEqual('INSERT'),
    dynamodb: { NewImage: { [FIELD.running]: { BOOL: lambda.FilterRule.isEqual(true) } } },
  }),
  lambda.FilterCriteria.filter({
    eventName: lambda.FilterRule.isEqual('MODIFY'),
    dynamodb: {
      NewImage: { [FIELD.running]: { BOOL: lambda.FilterRule.isEqual(true) } },
      OldImage: { [FIELD.running]: { BOOL: lambda.FilterRule.isEqual(false) } },
    },
  }),
  lambda.FilterCriteria.filter({
    eventName: lambda.FilterRule.isEqual('MODIFY'),
    dynamodb: {
      NewImage: { [FIELD.running]: { BOOL: lambda.FilterRule.isEqual(true) } },
      OldImage: { [FIELD.running]: { BOOL: lambda.FilterRule.notExists() } },
    },
  }),
];

export const START_FILTERS = [
  ...TURNS_ON_FILTERS,
  lambda.FilterCriteria.filter({
    eventName: lambda.FilterRule.isEqual('MODIFY'),
    dynamodb: {
      NewImage: {
        [FIELD.running]: { BOOL: lambda.FilterRule.isEqual(true) },
        [FIELD.generation]: { N: lambda.FilterRule.notExists() },
      },
    },
  }),
  lambda.FilterCriteria.filter({
    eventName: lambda.FilterRule.isEqual('MODIFY'),
    dynamodb: {
      NewImage: {
        [FIELD.running]: { BOOL: lambda.FilterRule.isEqual(true) },
        [FIELD.stoppedReason]: { S: lambda.FilterRule.exists() },
      },
    },
  }),
];

/**
 * The fleet variant's stream records: a poller created with running=true or turned on (the fleet planner places it
 * and wakes its shard), and the flip of a running poller's pending move (the old image has `moveTo`, the new one
 * none: the old shard handed it over, or the planner reassigned it from a dead shard), so that the planner starts
 * or wakes the destination shard at once (fleet-planner.ts pollersToPlace) instead of at the watchdog's next
 * minute. A shard's claim on a poller with a move pending keeps `moveTo` in both images, and passes no filter. Not "no loop yet" nor "stopped": a fleet's pollers never get a generation, so that filter
 * would pass every write on a running poller (a shard's claims, the worker kit's outcome records, every 10 s); a
 * shard reads all its pollers before every batch, so a fixed configuration applies without a start, and the
 * watchdog re-plans every minute.
 */
export const FLEET_START_FILTERS = [
  ...TURNS_ON_FILTERS,
  lambda.FilterCriteria.filter({
    eventName: lambda.FilterRule.isEqual('MODIFY'),
    dynamodb: {
      NewImage: {
        [FIELD.running]: { BOOL: lambda.FilterRule.isEqual(true) },
        [FIELD.moveTo]: { S: lambda.FilterRule.notExists() },
      },
      OldImage: { [FIELD.moveTo]: { S: lambda.FilterRule.exists() } },
    },
  }),
];

/**
 * Starts from the stream: a few records per batch (each is two GetItems and a StartExecution), a failing batch is
 * split to find the bad record, the handler reports the records to retry (by sequence number), and after three
 * retries the batch's description goes to the failure queue. The watchdog starts a loop the stream missed within
 * minutes anyway.
 *
 * TRIM_HORIZON: a new mapping can take minutes to start polling, and LATEST would skip what was written meanwhile
 * (the seeded item's INSERT at deploy). TRIM_HORIZON reads everything the stream still holds (24 h) instead; a
 * stack update that changes StartingPosition replaces the mapping, and the new one replays those records too. A
 * replayed change is harmless: the starter skips a change a later start already served (the item's generation is
 * above the change's), and starts are named after the generation, so a repeated start is refused. Records are not
 * discarded by age: an old start request that was never served is still worth serving.
 */
export const STREAM_START = {
  startingPosition: lambda.StartingPosition.TRIM_HORIZON,
  batchSize: 10,
  bisectBatchOnError: true,
  retryAttempts: 3,
  reportBatchItemFailures: true,
} as const;

/** The watchdog's cadence: a loop is presumed dead after at least 90 s without a heartbeat. */
export const WATCHDOG_SCHEDULE = events.Schedule.rate(Duration.minutes(1));

export interface ControlPlaneTriggersProps {
  readonly table: dynamodb.ITable;
  readonly controlPlane: lambda.IFunction;
  /** Where stream batches that kept failing are described. */
  readonly failures: sqs.IQueue;
  /**
   * The fleet variant: the stream passes FLEET_START_FILTERS.
   * @default false (START_FILTERS)
   */
  readonly fleet?: boolean;
}

/** What wakes the control plane besides Step Functions and CloudFormation: table changes and the watchdog. */
export class ControlPlaneTriggers extends Construct {
  readonly streamStart: lambda.EventSourceMapping;
  readonly watchdog: events.Rule;

  constructor(scope: Construct, id: string, props: ControlPlaneTriggersProps) {
    super(scope, id);
    const streamArn = props.table.tableStreamArn;
    if (streamArn === undefined) throw new Error(`the control table ${props.table.node.path} needs a stream`);
    // A mapping of its own rather than DynamoEventSource: that grants dynamodb:ListStreams on "*"; the
    // control plane's stream permissions (PollerFunctions) name this stream only.
    this.streamStart = new lambda.EventSourceMapping(this, 'StreamStart', {
      target: props.controlPlane,
      eventSourceArn: streamArn,
      filters: props.fleet === true ? FLEET_START_FILTERS : START_FILTERS,
      onFailure: new SqsDlq(props.failures),
      ...STREAM_START,
    });
    this.watchdog = new events.Rule(this, 'Watchdog', {
      schedule: WATCHDOG_SCHEDULE,
      targets: [new targets.LambdaFunction(props.controlPlane)],
    });
  }
}
