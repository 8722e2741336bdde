import { CfnOutput, CfnParameter, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { SchedulerMonitoring } from './constructs/scheduler-monitoring';
import { alarmEmailParameter, OUTPUT } from './sub-minute-executor-stack';

export const MONITORING_STACK_NAME = 'SubMinuteLambdaExecutor-monitoring';

/**
 * The alarms, their topic and the dashboard for a stack deployed from the inline template, which has no room for
 * them: the same SchedulerMonitoring the CDK app's stack holds, given the scheduler stack's outputs as parameters.
 */
export class SchedulerMonitoringStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const tableName = new CfnParameter(this, OUTPUT.controlTableName, {
      type: 'String',
      minLength: 3,
      description: "The scheduler stack's ControlTableName output",
    });
    const queueUrl = new CfnParameter(this, OUTPUT.failedTicksQueueUrl, {
      type: 'String',
      allowedPattern: '^https://\\S+/\\d+/\\S+$',
      description: "The scheduler stack's FailedTicksQueueUrl output",
    });
    const monitoring = new SchedulerMonitoring(this, 'Monitoring', {
      tableName: tableName.valueAsString,
      // https://sqs.<region>.amazonaws.com/<account>/<name>: the name is the fifth part.
      failedTicksQueueName: Fn.select(4, Fn.split('/', queueUrl.valueAsString)),
      alarmEmail: alarmEmailParameter(this).valueAsString,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: monitoring.alarms.topic.topicArn,
      description: 'The SNS topic the alarms notify: subscribe more endpoints to it',
    });
    if (monitoring.dashboard !== undefined) {
      new CfnOutput(this, 'DashboardName', {
        value: monitoring.dashboard.dashboard.dashboardName,
        description: 'The CloudWatch dashboard of the control table',
      });
    }
  }
}
