import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleApp, EXAMPLE_POLLER, type ExampleApp } from './app';

// Synthesized once: bundling the worker runs esbuild on this machine (no Docker, no network).
const outdir = mkdtempSync(join(tmpdir(), 'example-cdk-app-'));
let example: ExampleApp;
let template: Template;

beforeAll(() => {
  example = createExampleApp(outdir);
  template = Template.fromStack(example.stack);
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** The logical id of the user's worker: the function whose code is an asset, not inline. */
function workerId(): string {
  const functions = template.findResources('AWS::Lambda::Function', {
    Properties: { Code: { S3Key: Match.anyValue() } },
  });
  const [id, ...others] = Object.keys(functions);
  if (id === undefined || others.length > 0)
    throw new Error(`expected one bundled worker, found ${Object.keys(functions)}`);
  return id;
}

describe('examples/cdk-app', () => {
  it('bundles the user worker locally with esbuild, for nodejs24.x on arm64', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Code: { S3Key: Match.stringLikeRegexp('\\.zip$') },
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
    });
  });

  it('fires the user worker: it is the control plane default target, and the only function it may invoke', () => {
    // prepare
    const id = workerId();

    // act
    const controlPlaneId = example.stack.getLogicalId(
      example.scheduler.controlPlane.node.defaultChild as lambda.CfnFunction,
    );
    const resources = template.toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>;
    const environment = resources[controlPlaneId]?.Properties.Environment as
      | { Variables: object }
      | undefined;

    // assess
    expect(Object.values(environment?.Variables ?? {})).toContainEqual({ Ref: id });
    expect(Object.keys(template.findResources('AWS::Lambda::Function'))).toHaveLength(2);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [id, 'Arn'] } },
        ]),
      },
    });
  });

  it('sends the user worker failed ticks to the failed-ticks queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: workerId() },
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
  });

  it('declares the poller in code: every 2 s, running', () => {
    template.hasResourceProperties('Custom::ControlItemSeed', {
      PollerId: EXAMPLE_POLLER.id,
      Running: 'true',
      WaitSeconds: '2',
    });
  });

  it('has the whole scheduler: table with a stream, loop state machine, watchdog rule, failed-ticks queue', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    template.resourceCountIs('AWS::SQS::Queue', 1);
  });

  it('reports no cdk-nag AwsSolutions error beyond what the user worker itself brings', () => {
    // act
    const report = new AwsSolutionsChecks().validateScope(example.scheduler);

    // assess
    expect(report.violations.map(({ ruleName, severity }) => `${severity} ${ruleName}`)).toEqual([]);
  });
});
