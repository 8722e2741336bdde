import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { createApp, createMonitoringApp } from '../../infra/app';

/** Rules acknowledged anywhere in the stack, by construct path (the justification sits next to each). */
function acknowledgedRules(
  scope: ReturnType<typeof createApp>['stack'],
): Record<string, Record<string, string>> {
  const found: Record<string, Record<string, string>> = {};
  for (const construct of scope.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      const path = construct.node.path.replace(`${scope.node.path}/`, '');
      found[path] = { ...found[path], ...(entry.data as Record<string, string>) };
    }
  }
  return found;
}

describe('cdk-nag AwsSolutions checks', () => {
  it('reports no unacknowledged error and no unacknowledged warning', () => {
    // prepare
    const { stack } = createApp();

    // act
    const report = new AwsSolutionsChecks().validateScope(stack);

    // assess
    expect(report.violations.map(({ ruleName, severity }) => `${severity} ${ruleName}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('reports nothing unacknowledged on the monitoring stack either', () => {
    const report = new AwsSolutionsChecks().validateScope(createMonitoringApp().stack);

    expect(report.violations.map(({ ruleName, severity }) => `${severity} ${ruleName}`)).toEqual([]);
  });

  it('acknowledges SQS3 on the failed-ticks queue, SF1, SF2 on the state machine, IAM5 on the loop executions ARN, and nothing else', () => {
    // prepare
    const { stack } = createApp();

    // act
    const rules = acknowledgedRules(stack);

    // assess
    expect(Object.keys(rules).sort()).toEqual([
      'Default/FailedTicks/Queue',
      'Default/Loop/StateMachine',
      'Default/Poller/ControlPlane/Role/DefaultPolicy',
    ]);
    expect(Object.keys(rules['Default/Poller/ControlPlane/Role/DefaultPolicy'] ?? {})).toEqual([
      'Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<AWS::StackName>-loop:*]',
    ]);
    expect(Object.keys(rules['Default/FailedTicks/Queue'] ?? {})).toEqual(['Annotation::AwsSolutions-SQS3']);
    expect(Object.keys(rules['Default/Loop/StateMachine'] ?? {}).sort()).toEqual([
      'Annotation::AwsSolutions-SF1',
      'Annotation::AwsSolutions-SF2',
    ]);
  });

  it('gives every acknowledgement a reason', () => {
    // prepare
    const { stack } = createApp();

    // act
    const reasons = Object.values(acknowledgedRules(stack)).flatMap((rules) => Object.values(rules));

    // assess
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) expect(reason.length).toBeGreaterThan(40);
  });

  it('leaves the synthesized template as it was (acknowledgements are construct metadata, not template)', () => {
    // prepare
    const { stack } = createApp();
    const before = JSON.stringify(Template.fromStack(createApp().stack).toJSON());

    // act
    new AwsSolutionsChecks().validateScope(stack);

    // assess
    expect(JSON.stringify(Template.fromStack(stack).toJSON())).toBe(before);
    expect(before).not.toMatch(/cdk_nag|AwsSolutions/);
  });
});
