import { CfnCondition, Duration, Fn, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRIC, METRIC_DIMENSION, METRIC_NAMESPACE, type MetricKey } from '../../functions/shared/metrics';

/** What an alarm watches and what it means; the runbook (docs/runbook.md) has a section per id. */
export interface AlarmSpec {
  /** The alarm's id: its construct id (so part of the name CloudFormation gives it) and the runbook's heading. */
  readonly id: string;
  /**
   * The alarm's description, in the notification an operator gets: what happened and the first command to run.
   * Short, since every byte counts against the inline template's 51,200.
   */
  readonly description: string;
  /** What it means when it fires. */
  readonly meaning: string;
  /** What to do first. */
  readonly action: string;
  /** Why missing data is treated as it is. */
  readonly missingData: string;
}

/**
 * Every alarm of the scheduler, in one table: the construct builds one alarm per entry, its description is the
 * meaning and the first step, and docs/runbook.md is checked against the ids.
 */
export const ALARMS = {
  pollerNotTicking: {
    id: 'PollerNotTicking',
    description:
      'A running poller has not ticked for 3 intervals (90 s at least) in 2 sweeps running, or the watchdog is silent. Run: npm run ctl -- list',
    meaning:
      'In two sweeps running (a page comes about 2 minutes after a loop stops): a running poller has no live loop (no heartbeat for 3 intervals of its cadence, at least 90 s, or its loop stopped while running is true), or its loop is alive but has recorded no tick for 3 intervals (at least 90 s) outside pauses; or the watchdog did not report.',
    action:
      'npm run ctl -- list: see lastTickAt, lastError, stoppedReason and lastRestartReason (the watchdog logs "live loops not ticking" with their ids); fix the item, or the watchdog restarts a dead loop within a minute.',
    missingData:
      "breaching: the watchdog writes StalePollers every minute, zeros included, so minutes without a line mean it did not run or could not scan the table, and then nothing restarts dead loops. CloudWatch evaluates the latest data points in its evaluation range, so a line that arrives late does not page. Two breaching minutes of two are needed, so a sweep that lands between a start and its loop's first heartbeat does not page.",
  },
  loopRestarted: {
    id: 'LoopRestarted',
    description: 'The watchdog restarted a dead loop. Run: npm run ctl -- list',
    meaning:
      "A running poller's loop died (no heartbeat for 3 intervals, or it stopped while running is true) and the watchdog started it again (WatchdogRestarts). Pages even while another poller keeps StalePollers at 1 or more (an invalid configuration the watchdog cannot restart), which would otherwise hide it.",
    action:
      "npm run ctl -- list: lastRestartReason and restarts say which poller and why; the controller's logs around lastRestartAt say why its loop ended.",
    missingData:
      "notBreaching: the watchdog writes WatchdogRestarts every sweep, zeros included; a silent watchdog is PollerNotTicking's to report.",
  },
  failedFires: {
    id: 'FailedFires',
    description: 'Lambda refused tick invokes (throttled, missing, denied). Run: npm run ctl -- status ID',
    meaning:
      'The controller could not deliver ticks: Lambda refused the invoke (throttled, missing function, no permission), or a synchronous worker (overlap skip) failed.',
    action: 'npm run ctl -- status ID: lastError names the poller, the seq and the error.',
    missingData: 'notBreaching: no running loop writes no line, and a quiet table has nothing failing.',
  },
  ticksFailed: {
    id: 'TicksFailed',
    description: "Workers reported failed ticks. See the worker's logs; npm run ctl -- failed list",
    meaning: 'Workers reported failed ticks (TickFailed, written by the worker kit).',
    action: "See the worker's logs and the failed-ticks queue: npm run ctl -- failed list.",
    missingData: 'notBreaching: a worker writes TickFailed only when it runs.',
  },
  failedTicksQueue: {
    id: 'FailedTicksQueueNotEmpty',
    description: 'Failed deliveries wait in the failed-ticks queue. Run: npm run ctl -- failed list',
    meaning:
      'Ticks whose async delivery failed after retries, or table changes that could not start a loop, wait in the failed-ticks queue.',
    action: 'npm run ctl -- failed list, then failed replay or purge once understood.',
    missingData:
      'notBreaching: SQS stops sending metrics for a queue that has been empty and untouched for hours.',
  },
} as const satisfies Record<string, AlarmSpec>;

export type AlarmKey = keyof typeof ALARMS;

/** One metric of the catalogue, for the table's dimension set. */
export function schedulerMetric(
  key: MetricKey,
  tableName: string,
  options: { readonly statistic: string; readonly period: Duration },
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName: METRIC[key].name,
    dimensionsMap: { [METRIC_DIMENSION.table]: tableName },
    statistic: options.statistic,
    period: options.period,
  });
}

/** The failed-ticks queue's depth: SQS's own metric, by queue name. */
export function failedTicksDepthMetric(queueName: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/SQS',
    metricName: 'ApproximateNumberOfMessagesVisible',
    dimensionsMap: { QueueName: queueName },
    statistic: 'Maximum',
    period,
  });
}

export interface SchedulerAlarmsProps {
  /** The control table whose metrics (the ControlTable dimension) the alarms watch. */
  readonly tableName: string;
  /** The failed-ticks queue's name (a token of the queue in the same stack, or a parameter). */
  readonly failedTicksQueueName: string;
  /**
   * An address to subscribe to the alarm topic (it must confirm the subscription). A token (a parameter) that may
   * resolve to '' subscribes under a condition; a plain empty string or undefined subscribes nobody.
   * @default - no subscription
   */
  readonly alarmEmail?: string;
}

/**
 * The scheduler's alarms (ALARMS) and the SNS topic they notify. Each alarm's name carries its id and its
 * description says what happened and the first command to run, so the page an operator gets says what to do.
 */
export class SchedulerAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: Readonly<Record<AlarmKey, cloudwatch.Alarm>>;

  constructor(scope: Construct, id: string, props: SchedulerAlarmsProps) {
    super(scope, id);
    // Unencrypted: alarm notifications carry alarm names and states, no data, and CloudWatch cannot publish to a
    // topic under the AWS-managed SNS key (a customer key would cost $1 a month).
    this.topic = new sns.Topic(this, 'Topic', { enforceSSL: true });
    this.subscribe(props.alarmEmail);

    const { tableName } = props;
    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    this.alarms = {
      pollerNotTicking: this.alarm(ALARMS.pollerNotTicking, {
        metric: schedulerMetric('stalePollers', tableName, { statistic: 'Maximum', period: minute }),
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        // 2 of 2: a sweep between a start and its loop's first heartbeat counts the poller once; a dead loop twice.
        periodsInARow: 2,
      }),
      loopRestarted: this.alarm(ALARMS.loopRestarted, {
        metric: schedulerMetric('watchdogRestarts', tableName, { statistic: 'Sum', period: minute }),
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      failedFires: this.alarm(ALARMS.failedFires, {
        metric: schedulerMetric('failedFires', tableName, { statistic: 'Sum', period: fiveMinutes }),
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      ticksFailed: this.alarm(ALARMS.ticksFailed, {
        metric: schedulerMetric('tickFailed', tableName, { statistic: 'Sum', period: fiveMinutes }),
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      failedTicksQueue: this.alarm(ALARMS.failedTicksQueue, {
        metric: failedTicksDepthMetric(props.failedTicksQueueName, fiveMinutes),
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    };
  }

  /**
   * A datapoint at or above 1 fires (`periodsInARow` of them in a row when set): every one of these conditions is
   * worth a look at once.
   */
  private alarm(
    spec: AlarmSpec,
    options: {
      readonly metric: cloudwatch.IMetric;
      readonly treatMissingData: cloudwatch.TreatMissingData;
      readonly periodsInARow?: number;
    },
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, spec.id, {
      // No alarmName: CloudFormation names it <stack>-<logical id with spec.id>-<suffix>, unique per stack.
      alarmDescription: spec.description,
      metric: options.metric,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: options.periodsInARow ?? 1,
      datapointsToAlarm: options.periodsInARow ?? 1,
      treatMissingData: options.treatMissingData,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    return alarm;
  }

  private subscribe(alarmEmail: string | undefined): void {
    if (alarmEmail === undefined || alarmEmail === '') return;
    const subscription = new sns.Subscription(this, 'Email', {
      topic: this.topic,
      protocol: sns.SubscriptionProtocol.EMAIL,
      endpoint: alarmEmail,
    });
    if (!Token.isUnresolved(alarmEmail)) return;
    const hasEmail = new CfnCondition(this, 'HasAlarmEmail', {
      expression: Fn.conditionNot(Fn.conditionEquals(alarmEmail, '')),
    });
    (subscription.node.defaultChild as sns.CfnSubscription).cfnOptions.condition = hasEmail;
  }
}
