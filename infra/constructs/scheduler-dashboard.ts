import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { MetricKey } from '../../functions/shared/metrics';
import { failedTicksDepthMetric, schedulerMetric } from './scheduler-alarms';

export interface SchedulerDashboardProps {
  /** The control table whose metrics (the ControlTable dimension) the dashboard shows. */
  readonly tableName: string;
  /** The failed-ticks queue's name. */
  readonly failedTicksQueueName: string;
  /**
   * The alarms to show with their state.
   * @default - none
   */
  readonly alarms?: readonly cloudwatch.IAlarm[];
}

/** A minute is the finest period EMF metrics of standard resolution have. */
const PERIOD = Duration.minutes(1);
const WIDTH = 8;
const HEIGHT = 6;

/**
 * One CloudWatch dashboard for a control table's pollers: fires, how exactly they went out (controller precision,
 * worker lateness: p50 and p99), what failed or was skipped, live and stale pollers, the failed-ticks queue, and the
 * alarms' states. Every metric comes from the one catalogue (functions/shared/metrics.ts).
 */
export class SchedulerDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: SchedulerDashboardProps) {
    super(scope, id);
    const metric = (key: MetricKey, statistic: string, label?: string) =>
      schedulerMetric(key, props.tableName, { statistic, period: PERIOD }).with(label ? { label } : {});
    const graph = (title: string, left: cloudwatch.IMetric[], unit?: string) =>
      new cloudwatch.GraphWidget({
        title,
        left,
        width: WIDTH,
        height: HEIGHT,
        ...(unit ? { leftYAxis: { label: unit, showUnits: false, min: 0 } } : { leftYAxis: { min: 0 } }),
      });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          graph('Fires a minute', [metric('fires', 'Sum', 'Fires')]),
          graph(
            'Controller precision: fire sent after its due time',
            [
              metric('controllerPrecisionMs', 'p50', 'p50'),
              metric('controllerPrecisionMs', 'p99', 'p99'),
              metric('controllerPrecisionMs', 'Maximum', 'max'),
            ],
            'ms',
          ),
          graph(
            'Worker lateness: worker started after the due time',
            [metric('workerLatenessMs', 'p50', 'p50'), metric('workerLatenessMs', 'p99', 'p99')],
            'ms',
          ),
        ],
        [
          graph('Failed and skipped ticks', [
            metric('failedFires', 'Sum', 'Failed fires (invoke refused)'),
            metric('tickFailed', 'Sum', 'Ticks failed (worker)'),
            metric('skippedTicks', 'Sum', 'Skipped (too late)'),
            metric('overlapSkips', 'Sum', 'Overlap skips'),
          ]),
          graph('Pollers', [
            metric('activePollers', 'Maximum', 'Active'),
            metric('stalePollers', 'Maximum', 'Stale (not ticking)'),
            metric('loopStarts', 'Sum', 'Loop starts'),
            metric('watchdogRestarts', 'Sum', 'Watchdog restarts'),
          ]),
          graph('Failed-ticks queue', [
            failedTicksDepthMetric(props.failedTicksQueueName, PERIOD).with({ label: 'Messages visible' }),
          ]),
        ],
        ...(props.alarms !== undefined && props.alarms.length > 0
          ? [
              [
                new cloudwatch.AlarmStatusWidget({
                  title: 'Alarms',
                  alarms: [...props.alarms],
                  width: 3 * WIDTH,
                  height: 3,
                }),
              ],
            ]
          : []),
      ],
    });
  }
}
