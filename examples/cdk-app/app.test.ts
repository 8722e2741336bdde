import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/shared/contract';
import { createExampleApp, EXAMPLE_POLLERS, type ExampleApp } from './app';

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

  it('builds the user worker on the worker kit: its bundle carries the kit, resolved from the package', () => {
    // prepare
    const worker = template.toJSON().Resources[workerId()] as { Properties: { Code: { S3Key: string } } };
    const assetHash = worker.Properties.Code.S3Key.replace(/\.zip$/, '');

    // act
    const bundle = readFileSync(join(outdir, `asset.${assetHash}`, 'index.js'), 'utf8');

    // assess
    expect(bundle).toContain('TickFailedError');
    expect(bundle).toContain('CONTROL_TABLE_NAME');
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

  it('declares its two pollers in code: the seed passes every field, the payload as JSON text', () => {
    template.resourceCountIs('Custom::ControlItemSeed', 1);
    template.hasResourceProperties('Custom::ControlItemSeed', {
      Pollers: [
        {
          PollerId: 'orders-feed',
          Running: 'true',
          WaitSeconds: '2',
          Payload: '{"url":"https://example.com/orders"}',
          TimeZone: 'Europe/Berlin',
          Windows: ['Mon-Fri 06:00-20:00 every 2', 'Sat,Sun 08:00-18:00 every 30'],
          Overlap: 'skip',
        },
        {
          PollerId: 'status-page',
          Running: 'true',
          WaitSeconds: '10',
          Payload: '{"url":"https://example.com/status"}',
          Windows: ['daily 02:00-03:00 pause'],
        },
      ],
    });
    expect(EXAMPLE_POLLERS.map((poller) => poller.id)).toEqual(['orders-feed', 'status-page']);
  });

  it('gives the worker-kit worker what the kit needs: CONTROL_TABLE_NAME and the outcome write, nothing more on the table', () => {
    // prepare
    const id = workerId();
    const tableId = example.stack.getLogicalId(example.scheduler.table.node.defaultChild as CfnTable);
    const resources = template.toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>;
    const worker = resources[id]?.Properties as {
      Environment?: { Variables?: Record<string, unknown> };
      Role?: { 'Fn::GetAtt'?: [string, string] };
    };
    const roleId = worker.Role?.['Fn::GetAtt']?.[0];

    // act
    const tableStatements = Object.values(
      template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
      }),
    )
      .flatMap(
        (policy) =>
          (
            policy as {
              Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } };
            }
          ).Properties.PolicyDocument.Statement,
      )
      .filter((statement) => JSON.stringify(statement.Resource).includes(tableId));

    // assess
    expect(worker.Environment?.Variables?.[ENV.controlTableName]).toEqual({ Ref: tableId });
    expect(tableStatements).toEqual([
      expect.objectContaining({
        Action: 'dynamodb:UpdateItem',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [tableId, 'Arn'] },
        // Only the outcome attributes: the worker can change no operator field and no loop state.
        Condition: expect.objectContaining({
          'ForAllValues:StringLike': { 'dynamodb:Attributes': expect.arrayContaining([expect.any(String)]) },
        }),
      }),
    ]);
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
