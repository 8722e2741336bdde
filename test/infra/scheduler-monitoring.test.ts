import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/shared/contract';
import { METRIC, METRIC_NAMESPACE, PER_POLLER_METRICS_VARIABLE } from '../../functions/shared/metrics';
import { createApp, createMonitoringApp } from '../../infra/app';
import { ALARMS } from '../../infra/constructs/scheduler-alarms';
import { SchedulerMonitoring } from '../../infra/constructs/scheduler-monitoring';
import { OUTPUT, PARAMETER } from '../../infra/sub-minute-executor-stack';
import {
  MAX_TEMPLATE_BYTES,
  MONITORING_TEMPLATE_PATH,
  renderMonitoringTemplateYaml,
} from '../../scripts/synth';
import { onlyResource, type Resources, resourcesOfType } from './template-walk';

type Alarm = Resources[string];

/** The alarms of a template, by the ALARMS id their logical id carries. */
function alarmsById(resources: Resources): Map<string, Alarm> {
  const byId = new Map<string, Alarm>();
  for (const [logicalId, alarm] of resourcesOfType(resources, 'AWS::CloudWatch::Alarm')) {
    const spec = Object.values(ALARMS).find((candidate) => logicalId.includes(candidate.id));
    if (spec === undefined) throw new Error(`alarm ${logicalId} is not in ALARMS`);
    byId.set(spec.id, alarm);
  }
  return byId;
}

let cdkTemplate: Template;
let cdkResources: Resources;

beforeAll(() => {
  cdkTemplate = Template.fromStack(createApp().stack);
  cdkResources = cdkTemplate.toJSON().Resources as Resources;
});

describe('the CDK app: alarms', () => {
  it('has exactly the alarms of the ALARMS table, each notifying the one topic', () => {
    // act
    const alarms = alarmsById(cdkResources);
    const [topic] = onlyResource(cdkResources, 'AWS::SNS::Topic');

    // assess
    expect([...alarms.keys()].sort()).toEqual(
      Object.values(ALARMS)
        .map((spec) => spec.id)
        .sort(),
    );
    for (const alarm of alarms.values()) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
  });

  it('describes each alarm by what happened and the command to run first', () => {
    const alarms = alarmsById(cdkResources);
    for (const spec of Object.values(ALARMS)) {
      expect(alarms.get(spec.id)?.Properties.AlarmDescription).toBe(spec.description);
      expect(spec.description).toMatch(/npm run ctl -- /);
    }
  });

  it('watches the control table: StalePollers ≥ 1 in 2 minutes of 2, missing minutes breaching', () => {
    const [table] = onlyResource(cdkResources, 'AWS::DynamoDB::Table');

    expect(alarmsById(cdkResources).get(ALARMS.pollerNotTicking.id)?.Properties).toMatchObject({
      Namespace: METRIC_NAMESPACE,
      MetricName: METRIC.stalePollers.name,
      Dimensions: [{ Name: 'ControlTable', Value: { Ref: table } }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      // 2 of 2: one sweep between a start and its loop's first heartbeat does not page
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'breaching',
    });
  });

  it('pages on any restart by the watchdog, even while another poller keeps StalePollers up', () => {
    const [table] = onlyResource(cdkResources, 'AWS::DynamoDB::Table');

    expect(alarmsById(cdkResources).get(ALARMS.loopRestarted.id)?.Properties).toMatchObject({
      Namespace: METRIC_NAMESPACE,
      MetricName: METRIC.watchdogRestarts.name,
      Dimensions: [{ Name: 'ControlTable', Value: { Ref: table } }],
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('alarms on any failed fire and any failed tick in 5 minutes, quiet when nothing was written', () => {
    const alarms = alarmsById(cdkResources);
    for (const [id, metricName] of [
      [ALARMS.failedFires.id, METRIC.failedFires.name],
      [ALARMS.ticksFailed.id, METRIC.tickFailed.name],
    ] as const) {
      expect(alarms.get(id)?.Properties, id).toMatchObject({
        Namespace: METRIC_NAMESPACE,
        MetricName: metricName,
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('alarms when the failed-ticks queue holds a message', () => {
    const [queue] = onlyResource(cdkResources, 'AWS::SQS::Queue');

    expect(alarmsById(cdkResources).get(ALARMS.failedTicksQueue.id)?.Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('subscribes the AlarmEmail parameter by email, only when it is not empty', () => {
    // act
    const json = cdkTemplate.toJSON();
    const [, subscription] = onlyResource(cdkResources, 'AWS::SNS::Subscription');

    // assess
    expect(json.Parameters[PARAMETER.alarmEmail]).toMatchObject({ Type: 'String', Default: '' });
    expect(subscription.Properties).toMatchObject({
      Protocol: 'email',
      Endpoint: { Ref: PARAMETER.alarmEmail },
    });
    expect(json.Conditions[subscription.Condition ?? 'none']).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: PARAMETER.alarmEmail }, ''] }],
    });
  });
});

describe('the CDK app: dashboard', () => {
  it('shows fires, precision and lateness p50/p99, failed and skipped ticks, pollers, queue depth and the alarms', () => {
    // act
    const [, dashboard] = onlyResource(cdkResources, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);

    // assess
    for (const key of [
      'fires',
      'controllerPrecisionMs',
      'workerLatenessMs',
      'failedFires',
      'tickFailed',
      'skippedTicks',
      'overlapSkips',
      'activePollers',
      'stalePollers',
      'loopStarts',
      'watchdogRestarts',
    ] as const) {
      expect(body, key).toContain(`\\"${METRIC[key].name}\\"`);
    }
    expect(body).toContain('ApproximateNumberOfMessagesVisible');
    expect(body).toMatch(/\\"stat\\":\\"p50\\"/);
    expect(body).toMatch(/\\"stat\\":\\"p99\\"/);
    expect(body).toContain('\\"type\\":\\"alarm\\"');
  });
});

describe('per-poller metrics', () => {
  it('gives the worker the table name its metrics carry as ControlTable, and PER_POLLER_METRICS', () => {
    const [table] = onlyResource(cdkResources, 'AWS::DynamoDB::Table');

    cdkTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          [ENV.controlTableName]: { Ref: table },
          [PER_POLLER_METRICS_VARIABLE]: { Ref: PARAMETER.perPollerMetrics },
        },
      },
    });
  });

  it('is a parameter, off by default, passed to the control plane as PER_POLLER_METRICS', () => {
    // act
    const json = cdkTemplate.toJSON();

    // assess
    expect(json.Parameters[PARAMETER.perPollerMetrics]).toMatchObject({
      Type: 'String',
      Default: 'false',
      AllowedValues: ['false', 'true'],
    });
    cdkTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.stateMachineArn]: Match.anyValue(),
          [PER_POLLER_METRICS_VARIABLE]: { Ref: PARAMETER.perPollerMetrics },
        }),
      },
    });
  });
});

describe('SchedulerMonitoring', () => {
  const monitoringIn = (alarmEmail: string | undefined) => {
    const stack = new Stack(new App(), 'Host');
    new SchedulerMonitoring(stack, 'Monitoring', {
      tableName: 'control',
      failedTicksQueueName: 'failed',
      ...(alarmEmail !== undefined ? { alarmEmail } : {}),
    });
    return Template.fromStack(stack);
  };

  it('subscribes a literal address without a condition', () => {
    const template = monitoringIn('ops@example.com');

    template.hasResource('AWS::SNS::Subscription', {
      Properties: { Endpoint: 'ops@example.com', Protocol: 'email' },
      Condition: Match.absent(),
    });
  });

  it('subscribes nobody without an address', () => {
    monitoringIn(undefined).resourceCountIs('AWS::SNS::Subscription', 0);
    monitoringIn('').resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('the inline template and the monitoring template', () => {
  it('leaves alarms, topic and dashboard out of the inline template, which keeps PerPollerMetrics', () => {
    // act
    const inline = Template.fromStack(createApp(undefined, { monitoring: false }).stack);

    // assess
    for (const type of ['AWS::CloudWatch::Alarm', 'AWS::SNS::Topic', 'AWS::CloudWatch::Dashboard'])
      inline.resourceCountIs(type, 0);
    expect(Object.keys(inline.toJSON().Parameters)).not.toContain(PARAMETER.alarmEmail);
    expect(Object.keys(inline.toJSON().Parameters)).toContain(PARAMETER.perPollerMetrics);
  });

  it('gives the monitoring stack the same alarms, on the table and queue its parameters name', () => {
    // act
    const template = Template.fromStack(createMonitoringApp().stack);
    const resources = template.toJSON().Resources as Resources;
    const alarms = alarmsById(resources);

    // assess
    expect(Object.keys(template.toJSON().Parameters).sort()).toEqual(
      [OUTPUT.controlTableName, OUTPUT.failedTicksQueueUrl, PARAMETER.alarmEmail].sort(),
    );
    expect([...alarms.keys()].sort()).toEqual(
      Object.values(ALARMS)
        .map((spec) => spec.id)
        .sort(),
    );
    expect(alarms.get(ALARMS.pollerNotTicking.id)?.Properties.Dimensions).toEqual([
      { Name: 'ControlTable', Value: { Ref: OUTPUT.controlTableName } },
    ]);
    expect(alarms.get(ALARMS.failedTicksQueue.id)?.Properties.Dimensions).toEqual([
      {
        Name: 'QueueName',
        Value: { 'Fn::Select': [4, { 'Fn::Split': ['/', { Ref: OUTPUT.failedTicksQueueUrl }] }] },
      },
    ]);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('commits SubMinuteLambdaExecutor-monitoring.yaml as npm run synth renders it, within the inline limit', () => {
    const committed = readFileSync(MONITORING_TEMPLATE_PATH, 'utf8');

    expect(
      committed === renderMonitoringTemplateYaml(),
      'SubMinuteLambdaExecutor-monitoring.yaml is stale: run `npm run synth` and commit it',
    ).toBe(true);
    expect(Buffer.byteLength(committed)).toBeLessThanOrEqual(MAX_TEMPLATE_BYTES);
  });
});
