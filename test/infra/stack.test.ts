import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CONTROLLER_MEMORY_SIZES_MB,
  DEFAULT_CONTROLLER_MEMORY_MB,
} from '../../functions/scheduling/cost-model';
import { RESPONSE_TIMEOUT_MS } from '../../functions/seeder/cfn-response';
import {
  DEFAULT_START_TIMEOUT_MS,
  DEFAULT_STOP_TIMEOUT_MS,
  DEFAULT_WRITE_TIMEOUT_MS,
} from '../../functions/seeder/seed-control-item';
import {
  SEED_PROPERTY,
  SEED_RESOURCE_TYPE,
  SEED_SERVICE_TIMEOUT_SECONDS,
} from '../../functions/seeder/seed-properties';
import {
  CONTROLLER_TIMEOUT_SECONDS,
  DEFAULT_POLLER_ID,
  ENV,
  FIELD,
  OUTCOME_FIELD,
  WAIT_SECONDS_LIMITS,
} from '../../functions/shared/contract';
import { PER_POLLER_METRICS_VARIABLE } from '../../functions/shared/metrics';
import { createApp } from '../../infra/app';
import { WORKER_OUTCOME_ATTRIBUTE_PATTERNS } from '../../infra/constructs/poller-functions';
import {
  buildPollerDefinition,
  CONTROLLER_ARN_SUBSTITUTION,
  PARTITION_SUBSTITUTION,
} from '../../infra/state-machine/poller-definition';
import { OUTPUT, PARAMETER, SubMinuteExecutorStack } from '../../infra/sub-minute-executor-stack';
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
  controlPlane: string;
  controlPlaneRole: string;
  worker: string;
  workerRole: string;
  queue: string;
  stateMachine: string;
  stateMachineRole: string;
  streamStart: string;
};

/** Pseudo parameters for evaluating ARNs the template builds with Fn::Join. */
const REFS = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '123456789012',
  'AWS::StackName': 'SubMinute',
};
const LOOP_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:SubMinute-loop';

function roleOf(functionId: string): string {
  return getAttId(propertiesOf(functionId).Role);
}

/** The Properties of a resource that must be there. */
function propertiesOf(logicalId: string): Record<string, unknown> {
  const resource = resources[logicalId];
  if (resource === undefined) throw new Error(`no resource ${logicalId}`);
  return resource.Properties;
}

beforeAll(() => {
  template = Template.fromStack(createApp().stack);
  resources = template.toJSON().Resources as Resources;
  const [table] = onlyResource(resources, 'AWS::DynamoDB::Table');
  const [controlPlane, controlPlaneResource] = onlyResource(resources, 'AWS::Lambda::Function', (fn) =>
    JSON.stringify(fn.Properties.Environment ?? {}).includes(ENV.stateMachineArn),
  );
  const defaultTarget = (
    controlPlaneResource.Properties.Environment as { Variables: Record<string, { Ref: string }> }
  ).Variables[ENV.defaultTarget];
  const worker = defaultTarget?.Ref ?? 'missing';
  const [queue] = onlyResource(resources, 'AWS::SQS::Queue');
  const [stateMachine, stateMachineResource] = onlyResource(resources, 'AWS::StepFunctions::StateMachine');
  const [streamStart] = onlyResource(resources, 'AWS::Lambda::EventSourceMapping');
  ids = {
    table,
    controlPlane,
    controlPlaneRole: roleOf(controlPlane),
    worker,
    workerRole: roleOf(worker),
    queue,
    stateMachine,
    stateMachineRole: getAttId(stateMachineResource.Properties.RoleArn),
    streamStart,
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

describe('logical ids', () => {
  it('gives the role policies and the watchdog permission short ids (bytes of the inline template), the rest their own', () => {
    // act
    const resources = template.toJSON().Resources as Record<string, { Type: string }>;
    const idsOf = (type: string) =>
      Object.entries(resources)
        .filter(([, resource]) => resource.Type === type)
        .map(([id]) => id)
        .sort();

    // assess
    expect(idsOf('AWS::IAM::Policy')).toEqual([
      'ControlPlanePolicy',
      'LoopPolicy',
      'PollerExtraTargetsPolicy5AE145E1',
      'WorkerPolicy',
    ]);
    expect(idsOf('AWS::Lambda::Permission')).toEqual(['WatchdogPermission']);
    expect(idsOf('AWS::DynamoDB::Table')).toEqual([ids.table]);
    expect(ids.table).toMatch(/^ControlTable[0-9A-F]{8}$/);
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

  it('streams both images of every change, so a start can tell running turning true from other edits', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
  });

  it('is deleted with the stack (control items are configuration)', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });
});

describe('functions', () => {
  it('deploys two functions: the control plane and the worker', () => {
    // act
    const functions = resourcesOfType(resources, 'AWS::Lambda::Function').map(([id]) => id);

    // assess
    expect(functions.sort()).toEqual([ids.controlPlane, ids.worker].sort());
  });

  it('runs every function on nodejs24.x, arm64, with inline code', () => {
    for (const [, fn] of resourcesOfType(resources, 'AWS::Lambda::Function')) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Code: { ZipFile: expect.stringMatching(/^const Z=require\('zlib'\),P='/) },
      });
    }
  });

  it('gives the worker 128 MB and the control plane the ControllerMemory parameter', () => {
    expect(propertiesOf(ids.worker).MemorySize).toBe(128);
    expect(propertiesOf(ids.controlPlane).MemorySize).toEqual({ Ref: PARAMETER.controllerMemory });
  });

  it('reserves no concurrency: a reservation fails the deploy on accounts with a low concurrency quota', () => {
    for (const [, fn] of resourcesOfType(resources, 'AWS::Lambda::Function')) {
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
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

  it('configures the control plane with the table, the worker as default target and its own timeout', () => {
    expect(propertiesOf(ids.controlPlane)).toMatchObject({
      Timeout: CONTROLLER_TIMEOUT_SECONDS,
      Environment: {
        Variables: { [ENV.controlTableName]: { Ref: ids.table }, [ENV.defaultTarget]: { Ref: ids.worker } },
      },
    });
  });

  it("tells the control plane the loop's ARN, built from the stack name and equal to the state machine's", () => {
    // prepare
    const variables = (propertiesOf(ids.controlPlane).Environment as { Variables: Record<string, unknown> })
      .Variables;
    const name = propertiesOf(ids.stateMachine).StateMachineName;

    // act
    const stateMachineArn = resolve(variables[ENV.stateMachineArn], REFS);

    // assess
    expect(stateMachineArn).toBe(LOOP_ARN);
    expect(stateMachineArn).toBe(`arn:aws:states:eu-west-1:123456789012:stateMachine:${resolve(name, REFS)}`);
  });
});

describe('control plane permissions', () => {
  it('reads, updates and scans the control table, and nothing else on it', () => {
    // act
    const statements = statementsOfRole(resources, ids.controlPlaneRole);

    // assess
    expect(statements).toContainEqual({
      Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Scan'],
      Effect: 'Allow',
      Resource: getAtt(ids.table, 'Arn'),
    });
  });

  it("reads the table's stream, on the stream's ARN only", () => {
    // act
    const statements = statementsOfRole(resources, ids.controlPlaneRole);

    // assess
    expect(statements).toContainEqual({
      Action: [
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
      ],
      Effect: 'Allow',
      Resource: getAtt(ids.table, 'StreamArn'),
    });
  });

  it('invokes the worker (unqualified), and starts and lists executions of the loop only', () => {
    // act
    const statements = statementsOfRole(resources, ids.controlPlaneRole);
    const onStateMachine = statements.find((statement) =>
      asList(statement.Action).includes('states:StartExecution'),
    );

    // assess
    expect(statements).toContainEqual({
      Action: 'lambda:InvokeFunction',
      Effect: 'Allow',
      Resource: getAtt(ids.worker, 'Arn'),
    });
    expect(onStateMachine?.Action).toEqual(['states:StartExecution', 'states:ListExecutions']);
    expect(resolve(onStateMachine?.Resource, REFS)).toBe(LOOP_ARN);
  });

  it("stops the loop's executions only (the seed's delete), not those of any other state machine", () => {
    // act
    const statements = statementsOfRole(resources, ids.controlPlaneRole);
    const stopExecution = statements.filter((statement) =>
      asList(statement.Action).includes('states:StopExecution'),
    );

    // assess
    expect(stopExecution).toHaveLength(1);
    expect(stopExecution[0]?.Action).toBe('states:StopExecution');
    expect(resolve(stopExecution[0]?.Resource, REFS)).toBe(
      'arn:aws:states:eu-west-1:123456789012:execution:SubMinute-loop:*',
    );
  });

  it('writes to its own log group and the failed-ticks queue, and has no other statement', () => {
    // prepare
    const logGroup = (propertiesOf(ids.controlPlane).LoggingConfig as { LogGroup: { Ref: string } }).LogGroup
      .Ref;

    // act
    const statements = statementsOfRole(resources, ids.controlPlaneRole);

    // assess
    expect(statements).toContainEqual({
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Effect: 'Allow',
      Resource: getAtt(logGroup, 'Arn'),
    });
    expect(statements).toContainEqual({
      Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
      Effect: 'Allow',
      Resource: getAtt(ids.queue, 'Arn'),
    });
    expect(statements).toHaveLength(7);
  });

  it('invokes the ExtraTargetArns only when that list is not empty', () => {
    // act
    const [, policy] = onlyResource(
      resources,
      'AWS::IAM::Policy',
      (candidate) => candidate.Condition !== undefined,
    );
    const condition = template.toJSON().Conditions?.[policy.Condition ?? 'none'];

    // assess
    expect(policy.Properties).toMatchObject({
      Roles: [{ Ref: ids.controlPlaneRole }],
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

  it('is created only after its policy, so every entry point finds its permissions in place', () => {
    // prepare
    const [policyId] = onlyResource(
      resources,
      'AWS::IAM::Policy',
      (policy) =>
        policy.Condition === undefined &&
        (policy.Properties.Roles as unknown[]).some(
          (role) => JSON.stringify(role) === JSON.stringify({ Ref: ids.controlPlaneRole }),
        ),
    );

    // act
    const dependsOn = asList(resources[ids.controlPlane]?.DependsOn ?? []);

    // assess
    expect(dependsOn).toContain(policyId);
  });
});

describe('other permissions', () => {
  it('lets the worker write its logs, record tick outcomes and send failed ticks to the queue, and nothing else', () => {
    // act
    const actions = statementsOfRole(resources, ids.workerRole).map((statement) => statement.Action);

    // assess
    expect(actions).toEqual([
      ['logs:CreateLogStream', 'logs:PutLogEvents'],
      'dynamodb:UpdateItem',
      ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
    ]);
  });

  it('lets the worker update only the outcome fields of control items, returning only what it updated', () => {
    // act
    const statement = statementsOfRole(resources, ids.workerRole).find(
      (candidate) => candidate.Action === 'dynamodb:UpdateItem',
    );

    // assess
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Resource: getAtt(ids.table, 'Arn'),
      Condition: {
        'ForAllValues:StringLike': { 'dynamodb:Attributes': [...WORKER_OUTCOME_ATTRIBUTE_PATTERNS] },
        StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'UPDATED_NEW'] },
      },
    });
  });

  it('allows the worker exactly the outcome fields and the claim its conditions read: every one the kit names, no other field', () => {
    // prepare
    const patterns = WORKER_OUTCOME_ATTRIBUTE_PATTERNS.map(
      (pattern) => new RegExp(`^${pattern.replace('*', '.*')}$`),
    );
    const allowed = (field: string) => patterns.some((pattern) => pattern.test(field));

    // act
    const allowedFields = Object.values(FIELD).filter(allowed);

    // assess
    expect(allowedFields.sort()).toEqual(
      [FIELD.id, ...Object.values(OUTCOME_FIELD), FIELD.claimedSeq].sort(),
    );
  });

  it('tells the worker the control table, where it records tick outcomes, and whether metrics are per poller', () => {
    expect(propertiesOf(ids.worker).Environment).toEqual({
      Variables: {
        [ENV.controlTableName]: { Ref: ids.table },
        [PER_POLLER_METRICS_VARIABLE]: { Ref: PARAMETER.perPollerMetrics },
      },
    });
  });

  it('lets the state machine invoke the control plane (unqualified) and start executions of itself only', () => {
    // act
    const statements = statementsOfRole(resources, ids.stateMachineRole);

    // assess
    expect(statements).toEqual([
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: getAtt(ids.controlPlane, 'Arn') },
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: expect.anything() },
    ]);
    expect(resolve(statements[1]?.Resource, REFS)).toBe(LOOP_ARN);
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

describe('starts from the control table stream', () => {
  it('maps the stream to the control plane from its trim horizon, so records written while it starts are read', () => {
    expect(propertiesOf(ids.streamStart)).toMatchObject({
      EventSourceArn: getAtt(ids.table, 'StreamArn'),
      FunctionName: { Ref: ids.controlPlane },
      StartingPosition: 'TRIM_HORIZON',
    });
  });

  it('discards no record for its age: an unserved start request is still worth serving', () => {
    expect(propertiesOf(ids.streamStart).MaximumRecordAgeInSeconds).toBeUndefined();
  });

  it('passes items created with running=true, whose running turns true, or running without a live loop', () => {
    // act
    const filters = (propertiesOf(ids.streamStart).FilterCriteria as { Filters: { Pattern: string }[] })
      .Filters;

    // assess
    expect(filters.map((filter) => JSON.parse(filter.Pattern))).toEqual([
      { eventName: ['INSERT'], dynamodb: { NewImage: { running: { BOOL: [true] } } } },
      {
        eventName: ['MODIFY'],
        dynamodb: { NewImage: { running: { BOOL: [true] } }, OldImage: { running: { BOOL: [false] } } },
      },
      {
        eventName: ['MODIFY'],
        dynamodb: {
          NewImage: { running: { BOOL: [true] } },
          OldImage: { running: { BOOL: [{ exists: false }] } },
        },
      },
      {
        eventName: ['MODIFY'],
        dynamodb: { NewImage: { running: { BOOL: [true] }, generation: { N: [{ exists: false }] } } },
      },
      {
        eventName: ['MODIFY'],
        dynamodb: { NewImage: { running: { BOOL: [true] }, stoppedReason: { S: [{ exists: true }] } } },
      },
    ]);
  });

  it('retries a failing batch a bounded number of times, split in halves, reporting the records that failed', () => {
    expect(propertiesOf(ids.streamStart)).toMatchObject({
      BatchSize: 10,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 3,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('describes a batch that kept failing in the failed-ticks queue', () => {
    expect(propertiesOf(ids.streamStart).DestinationConfig).toEqual({
      OnFailure: { Destination: getAtt(ids.queue, 'Arn') },
    });
  });
});

describe('watchdog', () => {
  it('runs the control plane every minute', () => {
    // act
    const [, rule] = onlyResource(resources, 'AWS::Events::Rule');

    // assess
    expect(rule.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [{ Arn: getAtt(ids.controlPlane, 'Arn') }],
    });
  });

  it('lets EventBridge invoke the control plane for that rule only', () => {
    // prepare
    const [ruleId] = onlyResource(resources, 'AWS::Events::Rule');

    // act
    const [, permission] = onlyResource(resources, 'AWS::Lambda::Permission');

    // assess
    expect(permission.Properties).toEqual({
      Action: 'lambda:InvokeFunction',
      FunctionName: getAtt(ids.controlPlane, 'Arn'),
      Principal: 'events.amazonaws.com',
      SourceArn: getAtt(ruleId, 'Arn'),
    });
  });
});

describe('failed ticks', () => {
  it('sends a failed worker invocation to the queue at once (no retry), and one not started within a minute', () => {
    // act
    const [, config] = onlyResource(resources, 'AWS::Lambda::EventInvokeConfig');

    // assess
    expect(config.Properties).toEqual({
      FunctionName: { Ref: ids.worker },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
      DestinationConfig: { OnFailure: { Destination: getAtt(ids.queue, 'Arn') } },
    });
  });

  it('keeps messages 14 days, encrypted with SQS-managed keys', () => {
    expect(propertiesOf(ids.queue)).toEqual({
      MessageRetentionPeriod: 14 * 24 * 3600,
      SqsManagedSseEnabled: true,
    });
  });

  it('refuses every request that is not over TLS', () => {
    // act
    const [, policy] = onlyResource(resources, 'AWS::SQS::QueuePolicy');

    // assess
    expect(policy.Properties).toMatchObject({
      Queues: [{ Ref: ids.queue }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Deny',
            Action: 'sqs:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: getAtt(ids.queue, 'Arn'),
          },
        ],
      },
    });
  });
});

describe('state machine', () => {
  it('is a Standard workflow with the control plane ARN substituted into the definition', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      DefinitionSubstitutions: { [CONTROLLER_ARN_SUBSTITUTION]: getAtt(ids.controlPlane, 'Arn') },
    });
  });

  it("substitutes the stack's partition into the service integration ARNs", () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      DefinitionSubstitutions: { [PARTITION_SUBSTITUTION]: { Ref: 'AWS::Partition' } },
    });
  });

  // Parsed rather than Match.serializedJson: that matcher throws on the definition's `ResultPath: null`.
  it('runs the shared poller definition, exactly as the builder serializes it', () => {
    // act
    const definition = propertiesOf(ids.stateMachine).DefinitionString as string;

    // assess
    expect(JSON.parse(definition)).toEqual(buildPollerDefinition());
    expect(definition).toBe(JSON.stringify(buildPollerDefinition()));
  });

  it('is named after the stack', () => {
    expect(propertiesOf(ids.stateMachine).StateMachineName).toEqual({
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

  it('takes ControllerMemory as one of the sizes the cost model knows, 128 MB by default', () => {
    template.hasParameter(PARAMETER.controllerMemory, {
      Type: 'Number',
      AllowedValues: CONTROLLER_MEMORY_SIZES_MB.map(String),
      Default: DEFAULT_CONTROLLER_MEMORY_MB,
    });
    expect(CONTROLLER_MEMORY_SIZES_MB.map(String)).toEqual(['128', '256', '320', '512', '1024']);
  });

  it("takes the ControllerMemory default from the stack's controllerMemoryMb prop", () => {
    // prepare
    const app = new App();

    // act
    const stack = new SubMinuteExecutorStack(app, 'Sized', { controllerMemoryMb: 512 });

    // assess
    Template.fromStack(stack).hasParameter(PARAMETER.controllerMemory, { Default: 512 });
  });

  it('seeds the default control item of the table from the parameters through the control plane', () => {
    template.hasResourceProperties(SEED_RESOURCE_TYPE, {
      ServiceToken: getAtt(ids.controlPlane, 'Arn'),
      [SEED_PROPERTY.tableName]: { Ref: ids.table },
      [SEED_PROPERTY.pollerId]: DEFAULT_POLLER_ID,
      [SEED_PROPERTY.running]: { Ref: PARAMETER.running },
      [SEED_PROPERTY.waitSeconds]: { Ref: PARAMETER.waitSeconds },
    });
  });

  it('seeds only once the state machine and the stream mapping exist, so seeding running=true starts the loop', () => {
    // act
    const [, seed] = onlyResource(resources, SEED_RESOURCE_TYPE);

    // assess
    expect(asList(seed.DependsOn ?? [])).toEqual(expect.arrayContaining([ids.stateMachine, ids.streamStart]));
  });

  it('is deleted before the state machine and the functions, so its delete can stop the loops first', () => {
    // act
    const [, seed] = onlyResource(resources, SEED_RESOURCE_TYPE);
    const controlPlaneDependsOnWorker = JSON.stringify(propertiesOf(ids.controlPlane)).includes(
      JSON.stringify({ Ref: ids.worker }),
    );

    // assess: CloudFormation deletes a resource before whatever it depends on
    expect(asList(seed.DependsOn ?? [])).toContain(ids.stateMachine);
    expect(seed.Properties.ServiceToken).toEqual(getAtt(ids.controlPlane, 'Arn'));
    expect(controlPlaneDependsOnWorker).toBe(true);
  });

  it('gives CloudFormation a ServiceTimeout longer than any answer of the seeder takes', () => {
    // prepare
    const longestAnswerSeconds =
      Math.max(DEFAULT_WRITE_TIMEOUT_MS + DEFAULT_START_TIMEOUT_MS, DEFAULT_STOP_TIMEOUT_MS) / 1_000 +
      RESPONSE_TIMEOUT_MS / 1_000;
    // A cold start and Lambda's queueing of the asynchronous invoke come on top.
    const marginSeconds = 60;

    // act
    const [, seed] = onlyResource(resources, SEED_RESOURCE_TYPE);
    const serviceTimeout = Number(seed.Properties.ServiceTimeout);

    // assess
    expect(seed.Properties.ServiceTimeout).toBe(String(SEED_SERVICE_TIMEOUT_SECONDS));
    expect(serviceTimeout).toBeGreaterThanOrEqual(longestAnswerSeconds + marginSeconds);
    expect(serviceTimeout).toBeLessThanOrEqual(3_600);
  });
});

describe('outputs', () => {
  it.each([
    [OUTPUT.controlTableName, () => ({ Ref: ids.table })],
    [OUTPUT.stateMachineArn, () => ({ Ref: ids.stateMachine })],
    [OUTPUT.controlPlaneFunctionName, () => ({ Ref: ids.controlPlane })],
    [OUTPUT.workerFunctionName, () => ({ Ref: ids.worker })],
    [OUTPUT.failedTicksQueueUrl, () => ({ Ref: ids.queue })],
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
