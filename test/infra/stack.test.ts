import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { SEED_PROPERTY, SEED_RESOURCE_TYPE } from '../../functions/seeder/seed-properties';
import {
  CONTROLLER_TIMEOUT_SECONDS,
  DEFAULT_POLLER_ID,
  ENV,
  FIELD,
  WAIT_SECONDS_LIMITS,
} from '../../functions/shared/contract';
import { createApp } from '../../infra/app';
import {
  buildPollerDefinition,
  CONTROLLER_ARN_SUBSTITUTION,
} from '../../infra/state-machine/poller-definition';
import { OUTPUT, PARAMETER } from '../../infra/sub-minute-executor-stack';
import {
  allPolicyStatements,
  asList,
  getAtt,
  getAttId,
  onlyResource,
  type Resources,
  resolve,
  resourcesOfType,
  statementsOfRole,
} from './template-walk';

let template: Template;
let resources: Resources;

/** Logical ids looked up by role, so the tests do not depend on generated ids. */
let ids: {
  table: string;
  controller: string;
  controllerRole: string;
  worker: string;
  seeder: string;
  seederRole: string;
  stateMachine: string;
  stateMachineRole: string;
};

function roleOf(functionId: string): string {
  return getAttId(resources[functionId]?.Properties.Role);
}

beforeAll(() => {
  template = Template.fromStack(createApp().stack);
  resources = template.toJSON().Resources as Resources;
  const [table] = onlyResource(resources, 'AWS::DynamoDB::Table');
  const [controller, controllerResource] = onlyResource(resources, 'AWS::Lambda::Function', (fn) =>
    JSON.stringify(fn.Properties.Environment ?? {}).includes(ENV.defaultTarget),
  );
  const defaultTarget = (
    controllerResource.Properties.Environment as { Variables: Record<string, { Ref: string }> }
  ).Variables[ENV.defaultTarget];
  const [, seed] = onlyResource(resources, SEED_RESOURCE_TYPE);
  const seeder = getAttId(seed.Properties.ServiceToken);
  const [stateMachine, stateMachineResource] = onlyResource(resources, 'AWS::StepFunctions::StateMachine');
  ids = {
    table,
    controller,
    controllerRole: roleOf(controller),
    worker: defaultTarget?.Ref ?? 'missing',
    seeder,
    seederRole: roleOf(seeder),
    stateMachine,
    stateMachineRole: getAttId(stateMachineResource.Properties.RoleArn),
  };
});

describe('deployable without the CDK toolkit', () => {
  it('has no BootstrapVersion parameter and no bootstrap rule', () => {
    // act
    const json = template.toJSON();

    // assess
    expect(Object.keys(json.Parameters ?? {})).not.toContain('BootstrapVersion');
    expect(json.Rules).toBeUndefined();
  });

  it('has no asset metadata and no CDKMetadata resource', () => {
    // act
    const text = JSON.stringify(template.toJSON());

    // assess
    expect(text).not.toContain('aws:asset');
    expect(text).not.toContain('CDKMetadata');
    expect(text).not.toContain('aws:cdk:path');
  });
});

describe('control table', () => {
  it('is keyed by id (string), on demand, with point-in-time recovery and AWS-managed encryption', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: FIELD.id, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: FIELD.id, AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('is deleted with the stack (control items are configuration)', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });
});

describe('functions', () => {
  it('runs every function on nodejs24.x, arm64, 128 MB, with inline code', () => {
    // act
    const functions = resourcesOfType(resources, 'AWS::Lambda::Function');

    // assess
    expect(functions).toHaveLength(3);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        MemorySize: 128,
        Handler: 'index.handler',
        Code: { ZipFile: expect.stringContaining('handler') },
      });
    }
  });

  it('lets CloudFormation name the functions, so two stacks in one region do not collide', () => {
    for (const [, fn] of resourcesOfType(resources, 'AWS::Lambda::Function')) {
      expect(fn.Properties.FunctionName).toBeUndefined();
    }
  });

  it('gives every function its own log group, retained a month and deleted with the stack', () => {
    for (const [, fn] of resourcesOfType(resources, 'AWS::Lambda::Function')) {
      // prepare
      const { Ref: logGroupId } = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup;

      // act
      const logGroup = resources[logGroupId];

      // assess
      expect(logGroup).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: 30 },
        DeletionPolicy: 'Delete',
      });
    }
  });

  it('configures the controller with the table, the worker as default target and its own timeout', () => {
    expect(resources[ids.controller]?.Properties).toMatchObject({
      Timeout: CONTROLLER_TIMEOUT_SECONDS,
      Environment: {
        Variables: { [ENV.controlTableName]: { Ref: ids.table }, [ENV.defaultTarget]: { Ref: ids.worker } },
      },
    });
  });

  it('configures the seeder with the table', () => {
    expect(resources[ids.seeder]?.Properties).toMatchObject({
      Environment: { Variables: { [ENV.controlTableName]: { Ref: ids.table } } },
    });
  });
});

describe('permissions', () => {
  it('lets the controller read and update the control table and invoke the worker, and nothing else', () => {
    // act
    const statements = statementsOfRole(resources, ids.controllerRole);

    // assess
    expect(statements).toHaveLength(3);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        Resource: [getAtt(ids.table, 'Arn')],
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 'lambda:InvokeFunction',
        Resource: [getAtt(ids.worker, 'Arn'), { 'Fn::Join': ['', [getAtt(ids.worker, 'Arn'), ':*']] }],
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'] }),
    );
  });

  it('lets the controller invoke the ExtraTargetArns only when that list is not empty', () => {
    // act
    const [, policy] = onlyResource(
      resources,
      'AWS::IAM::Policy',
      (candidate) => candidate.Condition !== undefined,
    );
    const condition = template.toJSON().Conditions?.[policy.Condition ?? 'none'];

    // assess
    expect(policy.Properties).toMatchObject({
      Roles: [{ Ref: ids.controllerRole }],
      PolicyDocument: {
        Statement: [
          { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { Ref: PARAMETER.extraTargetArns } },
        ],
      },
    });
    expect(condition).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ 'Fn::Join': ['', { Ref: PARAMETER.extraTargetArns }] }, ''] }],
    });
  });

  it('lets the seeder update the control table and nothing else', () => {
    // act
    const statements = statementsOfRole(resources, ids.seederRole).filter(
      (statement) => !asList(statement.Action).every((action) => action.startsWith('logs:')),
    );

    // assess
    expect(statements).toEqual([
      { Action: 'dynamodb:UpdateItem', Effect: 'Allow', Resource: [getAtt(ids.table, 'Arn')] },
    ]);
  });

  it('lets the state machine invoke the controller and start executions of itself only', () => {
    // act
    const statements = statementsOfRole(resources, ids.stateMachineRole);

    // assess
    expect(statements).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: [
          getAtt(ids.controller, 'Arn'),
          { 'Fn::Join': ['', [getAtt(ids.controller, 'Arn'), ':*']] },
        ],
      },
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: expect.anything() },
    ]);
  });

  it("builds the StartExecution resource from the stack name, equal to the state machine's own ARN", () => {
    // prepare
    const refs = {
      'AWS::Partition': 'aws',
      'AWS::Region': 'eu-west-1',
      'AWS::AccountId': '123456789012',
      'AWS::StackName': 'SubMinute',
    };
    const startExecution = statementsOfRole(resources, ids.stateMachineRole).find(
      (statement) => statement.Action === 'states:StartExecution',
    );
    const name = resources[ids.stateMachine]?.Properties?.StateMachineName;

    // act
    const allowedArn = resolve(startExecution?.Resource, refs);
    const stateMachineArn = `arn:aws:states:eu-west-1:123456789012:stateMachine:${resolve(name, refs)}`;

    // assess
    expect(startExecution?.Resource).not.toBe('*');
    expect(allowedArn).toBe('arn:aws:states:eu-west-1:123456789012:stateMachine:SubMinute-loop');
    expect(allowedArn).toBe(stateMachineArn);
  });

  it('has no IAM statement on every resource ("*") and no NotResource', () => {
    // act
    const wildcard = allPolicyStatements(resources).filter(
      ({ statement }) => statement.NotResource !== undefined || asList(statement.Resource).includes('*'),
    );

    // assess
    expect(wildcard).toEqual([]);
  });

  it('attaches no managed policies (AWSLambdaBasicExecutionRole would allow every log group)', () => {
    for (const [, role] of resourcesOfType(resources, 'AWS::IAM::Role')) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('state machine', () => {
  it('is a Standard workflow with the controller ARN substituted into the definition', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      DefinitionSubstitutions: { [CONTROLLER_ARN_SUBSTITUTION]: getAtt(ids.controller, 'Arn') },
    });
  });

  // Parsed rather than Match.serializedJson: that matcher throws on the definition's `ResultPath: null`.
  it('runs the shared poller definition, exactly as the builder serializes it', () => {
    // act
    const definition = resources[ids.stateMachine]?.Properties?.DefinitionString as string;

    // assess
    expect(JSON.parse(definition)).toEqual(buildPollerDefinition());
    expect(definition).toBe(JSON.stringify(buildPollerDefinition()));
  });

  it('is named after the stack', () => {
    expect(resources[ids.stateMachine]?.Properties?.StateMachineName).toEqual({
      'Fn::Join': ['', [{ Ref: 'AWS::StackName' }, '-loop']],
    });
  });
});

describe('parameters and seed', () => {
  it('takes running as the text true or false, true by default', () => {
    template.hasParameter(PARAMETER.running, {
      Type: 'String',
      AllowedValues: ['true', 'false'],
      Default: 'true',
    });
  });

  it('takes waitseconds as a number within the control item limits, 5 by default', () => {
    template.hasParameter(PARAMETER.waitSeconds, {
      Type: 'Number',
      MinValue: WAIT_SECONDS_LIMITS.min,
      MaxValue: WAIT_SECONDS_LIMITS.max,
      Default: 5,
    });
  });

  it('takes ExtraTargetArns as an optional list', () => {
    template.hasParameter(PARAMETER.extraTargetArns, { Type: 'CommaDelimitedList', Default: '' });
  });

  it('seeds the default control item of the table from the parameters through the seeder', () => {
    template.hasResourceProperties(SEED_RESOURCE_TYPE, {
      ServiceToken: getAtt(ids.seeder, 'Arn'),
      [SEED_PROPERTY.tableName]: { Ref: ids.table },
      [SEED_PROPERTY.pollerId]: DEFAULT_POLLER_ID,
      [SEED_PROPERTY.running]: { Ref: PARAMETER.running },
      [SEED_PROPERTY.waitSeconds]: { Ref: PARAMETER.waitSeconds },
    });
  });

  it("creates the seed only after the seeder's table permission", () => {
    // prepare
    const [seedId, seed] = onlyResource(resources, SEED_RESOURCE_TYPE);
    const [seederPolicyId] = onlyResource(resources, 'AWS::IAM::Policy', (policy) =>
      (policy.Properties.Roles as unknown[]).some(
        (role) => JSON.stringify(role) === JSON.stringify({ Ref: ids.seederRole }),
      ),
    );

    // act
    const dependsOn = asList(seed.DependsOn ?? []);

    // assess
    expect(dependsOn, `${seedId} DependsOn`).toContain(seederPolicyId);
  });
});

describe('outputs', () => {
  it.each([
    [OUTPUT.controlTableName, () => ({ Ref: ids.table })],
    [OUTPUT.stateMachineArn, () => ({ Ref: ids.stateMachine })],
    [OUTPUT.controllerFunctionName, () => ({ Ref: ids.controller })],
    [OUTPUT.workerFunctionName, () => ({ Ref: ids.worker })],
  ])('outputs %s without an export', (name, value) => {
    template.hasOutput(name, { Value: value(), Export: Match.absent() });
  });

  it('outputs the command that starts the default loop', () => {
    // prepare
    const value = template.toJSON().Outputs?.[OUTPUT.startCommand]?.Value;

    // act
    const command = resolve(value, {
      [ids.stateMachine]: 'arn:aws:states:eu-west-1:123456789012:stateMachine:S-loop',
    });

    // assess
    expect(command).toBe(
      `aws stepfunctions start-execution --state-machine-arn arn:aws:states:eu-west-1:123456789012:stateMachine:S-loop --input '{"pollerId":"${DEFAULT_POLLER_ID}"}'`,
    );
  });
});
