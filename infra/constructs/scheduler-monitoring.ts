import { Construct } from 'constructs';
import { SchedulerAlarms } from './scheduler-alarms';
import { SchedulerDashboard } from './scheduler-dashboard';

export interface SchedulerMonitoringProps {
  /** The control table whose metrics (the ControlTable dimension) are watched. */
  readonly tableName: string;
  /** The failed-ticks queue's name. */
  readonly failedTicksQueueName: string;
  /**
   * An address the alarm topic notifies (see SchedulerAlarmsProps.alarmEmail).
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * Whether to add the dashboard.
   * @default true
   */
  readonly dashboard?: boolean;
}

/**
 * What an operator watches a control table with: the alarms and their topic, and the dashboard. The same
 * construct serves the CDK app's stack (beside the scheduler) and the monitoring template (beside a stack
 * deployed from the inline template, whose 51,200 bytes have no room for it).
 */
export class SchedulerMonitoring extends Construct {
  readonly alarms: SchedulerAlarms;
  readonly dashboard: SchedulerDashboard | undefined;

  constructor(scope: Construct, id: string, props: SchedulerMonitoringProps) {
    super(scope, id);
    this.alarms = new SchedulerAlarms(this, 'Alarms', {
      tableName: props.tableName,
      failedTicksQueueName: props.failedTicksQueueName,
      ...(props.alarmEmail !== undefined ? { alarmEmail: props.alarmEmail } : {}),
    });
    this.dashboard =
      props.dashboard === false
        ? undefined
        : new SchedulerDashboard(this, 'Dashboard', {
            tableName: props.tableName,
            failedTicksQueueName: props.failedTicksQueueName,
            alarms: Object.values(this.alarms.alarms),
          });
  }
}
