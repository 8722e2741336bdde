import { App, CfnParameter, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { SEED_PROPERTY, SEED_RESOURCE_TYPE } from '../../functions/seeder/seed-properties';
import { ENV } from '../../functions/shared/contract';
import { WORKER_ASYNC_RETRY } from '../../infra/constructs/poller-functions';
import {
  READ_EXECUTION_ACTIONS,
  READ_POLLER_ACTIONS,
  STEER_POLLER_ACTIONS,
  SubMinuteScheduler,
  type SubMinuteSchedulerProps,
  TRIGGER_INVOKE_ACTIONS,
  TRIGGER_POLLER_ACTIONS,
} from '../../infra/index';
import { TriggerGrantError } from '../../infra/sub-minute-scheduler';
import {
  asList,
  getAttId,
  onlyResource,
  type PolicyStatement,
  type Resources,
  resourcesOfType,
  statementsOfRole,
} from './template-walk';

/** A user's stack holding the scheduler (props may refer to the stack), and a role of theirs to grant to. */
function userStack(
  props: SubMinuteSchedulerProps | ((stack: Stack) => SubMinuteSchedulerProps) = {},
  stackName = 'UserStack',
) {
  const app = new App();
  const stack = new Stack(app, stackName);
  const scheduler = new SubMinuteScheduler(
    stack,
    'Scheduler',
    typeof props === 'function' ? props(stack) : props,
  );
  const operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
  return { app, stack, scheduler, operator };
}

function resourcesOf(stack: Stack): Resources {
  return Template.fromStack(stack).toJSON().Resources as Resources;
}

/** A user's own worker, declared in their app. */
function ownWorker(stack: Stack): lambda.Function {
  return new lambda.Function(stack, 'MyWorker', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
  });
}

/** The message synthesis refuses the app with. */
function synthError(app: App): string {
  try {
    app.synth();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error('expected synthesis to be refused');
}

describe('SubMinuteScheduler props validation', () => {
  it('names the poller, the prop, the value and the range when a waitSeconds is out of range', () => {
    // prepare
    const { app } = userStack({
      pollers: [
        { id: 'a', waitSeconds: 1 },
        { id: 'b', waitSeconds: 2 },
        { id: 'c', waitSeconds: 0.05 },
      ],
    });

    // act
    const message = synthError(app);

    // assess
    expect(message).toContain(
      'pollers[2].waitSeconds is 0.05: it must be a number of seconds from 0.1 to 3600',
    );
  });

  it('lists every problem at once: a bad id, a running that is not a boolean text, a poller declared twice', () => {
    // prepare
    const { app } = userStack({
      pollers: [
        { id: 'orders', waitSeconds: 5 },
        { id: 'has space', waitSeconds: 5 },
        { id: 'feed', waitSeconds: 5, running: 'yes' },
        { id: 'orders', waitSeconds: 10 },
      ],
    });

    // act
    const message = synthError(app);

    // assess
    expect(message).toContain("pollers[1].id is 'has space': it must be 1-64 of A-Z a-z 0-9 . _ -");
    expect(message).toContain("pollers[2].running is 'yes': it must be the text 'true' or 'false'");
    expect(message).toContain("pollers[3].id is 'orders', as is pollers[0].id: declare each poller once");
  });

  it('names the poller, the prop and the value of each optional operator field ctl create would refuse', () => {
    // prepare
    const { app } = userStack({
      pollers: [
        { id: 'a', waitSeconds: 1, target: 'not a function!' },
        { id: 'b', waitSeconds: 1, payload: { huge: 1e200 } },
        { id: 'c', waitSeconds: 1, timezone: 'Mars/Olympus' },
        { id: 'd', waitSeconds: 1, windows: ['Mon-Fri 06:00-20:00 every 2', 'Mon 25:00-26:00 every 1'] },
        { id: 'e', waitSeconds: 1, windows: [] },
        // A value TypeScript refuses still reaches a JavaScript app.
        { id: 'f', waitSeconds: 1, overlap: JSON.parse('"never"') },
      ],
    });

    // act
    const message = synthError(app);

    // assess
    expect(message).toContain(
      "pollers[0].target is 'not a function!': it fails the controller's check (target must be a Lambda function name or ARN",
    );
    expect(message).toContain(
      'pollers[1].payload is {"huge":1e+200}: it fails the controller\'s check (payload holds the number 1e+200, outside what DynamoDB stores',
    );
    expect(message).toContain(
      "pollers[2].timezone is 'Mars/Olympus': it fails the controller's check (timezone must be an IANA time zone name",
    );
    expect(message).toContain(
      'pollers[3].windows is ["Mon-Fri 06:00-20:00 every 2","Mon 25:00-26:00 every 1"]: it fails the controller\'s check (windows[1] "Mon 25:00-26:00 every 1"',
    );
    expect(message).toContain(
      'pollers[4].windows is []: it must be a list of one or more rule texts (leave it out for none)',
    );
    expect(message).toContain(
      "pollers[5].overlap is 'never': it fails the controller's check (overlap must be one of allow, skip",
    );
  });

  it('refuses a declared target the controller may not invoke, naming the fix', () => {
    // prepare
    const listed = 'arn:aws:lambda:eu-west-1:123456789012:function:listed';
    const other = 'arn:aws:lambda:eu-west-1:123456789012:function:other';
    const { app } = userStack({
      extraTargetArns: [listed],
      pollers: [
        { id: 'ok', waitSeconds: 1, target: listed },
        { id: 'not-granted', waitSeconds: 1, target: other },
        { id: 'by-name', waitSeconds: 1, target: 'listed' },
      ],
    });

    // act
    const message = synthError(app);

    // assess
    expect(message).not.toContain('pollers[0]');
    expect(message).toContain(
      `pollers[1].target is '${other}': the controller may invoke only the worker and extraTargetArns (${listed}): add this function's ARN to extraTargetArns`,
    );
    expect(message).toContain("pollers[2].target is 'listed': the controller may invoke only");
  });

  it('names the allowed sizes when controllerMemoryMb is one the cost model does not know', () => {
    // prepare
    const { app } = userStack({ controllerMemoryMb: 100 });

    // act
    const message = synthError(app);

    // assess
    expect(message).toContain('controllerMemoryMb is 100: it must be one of 128, 256, 320, 512, 1024 MB');
  });

  it('names an extra target that is not a Lambda function ARN (IAM grants invoke on ARNs)', () => {
    // prepare
    const { app } = userStack({
      extraTargetArns: [
        'arn:aws:lambda:eu-west-1:123456789012:function:mine',
        'mine',
        'arn:aws:sqs:eu-west-1:1:q',
      ],
    });

    // act
    const message = synthError(app);

    // assess
    expect(message).not.toContain('extraTargetArns[0]');
    expect(message).toContain("extraTargetArns[1] is 'mine': it must be a Lambda function ARN");
    expect(message).toContain(
      "extraTargetArns[2] is 'arn:aws:sqs:eu-west-1:1:q': it must be a Lambda function ARN",
    );
  });

  it('refuses a stack name that would make the loop name longer than Step Functions allows', () => {
    // prepare
    const { app } = userStack({}, 'S'.repeat(76));

    // act
    const message = synthError(app);

    // assess
    expect(message).toContain(
      `the stack name '${'S'.repeat(76)}' has 76 characters: the loop state machine is named '<stack name>-loop'`,
    );
    expect(message).toContain('use a stack name of at most 75 characters');
  });

  it('refuses a second scheduler in the same stack (both would name their loop after the stack)', () => {
    // prepare
    const { app, stack } = userStack();
    new SubMinuteScheduler(stack, 'Another');

    // act
    const message = synthError(app);

    // assess
    expect(message).toContain("stack 'UserStack' holds 2 SubMinuteSchedulers");
  });

  it('accepts the limits of every range and leaves tokens to the seed at deployment', () => {
    // prepare
    const { app } = userStack((stack) => ({
      controllerMemoryMb: new CfnParameter(stack, 'Memory', { type: 'Number' }).valueAsNumber,
      pollers: [
        { id: 'slowest', waitSeconds: 3600, running: false },
        { id: 'fastest', waitSeconds: 0.1 },
        {
          id: new CfnParameter(stack, 'Id').valueAsString,
          waitSeconds: new CfnParameter(stack, 'Wait').valueAsString,
          running: new CfnParameter(stack, 'Running').valueAsString,
        },
      ],
    }));

    // act
    const synth = () => app.synth();

    // assess
    expect(synth).not.toThrow();
  });
  it('takes a Number parameter as waitSeconds, seeding its value and leaving the check to the seed', () => {
    // prepare
    const { app, stack } = userStack((stack) => ({
      pollers: [{ id: 'param', waitSeconds: new CfnParameter(stack, 'W', { type: 'Number' }).valueAsNumber }],
    }));

    // act
    app.synth();
    const [, seed] = onlyResource(resourcesOf(stack), SEED_RESOURCE_TYPE);

    // assess
    expect(seed.Properties).toMatchObject({ PollerId: 'param', WaitSeconds: { Ref: 'W' } });
  });
});

describe('SubMinuteScheduler pollers declared in code', () => {
  it('seeds every declared poller in one seed, as the text CloudFormation passes', () => {
    // prepare
    const { stack } = userStack({
      pollers: [
        { id: 'orders', waitSeconds: 2 },
        { id: 'feed', waitSeconds: 0.5, running: false },
      ],
    });

    // act
    const [, seed] = onlyResource(resourcesOf(stack), SEED_RESOURCE_TYPE);

    // assess
    expect(seed.Properties[SEED_PROPERTY.pollers]).toEqual([
      { PollerId: 'orders', Running: 'true', WaitSeconds: '2' },
      { PollerId: 'feed', Running: 'false', WaitSeconds: '0.5' },
    ]);
    expect(seed.Properties[SEED_PROPERTY.pollerId]).toBeUndefined();
  });

  it('seeds every operator field a poller declares: payload as JSON text, windows as a list', () => {
    // prepare
    const reports = 'arn:aws:lambda:eu-west-1:123456789012:function:reports';
    const { stack } = userStack({
      extraTargetArns: [reports],
      pollers: [
        {
          id: 'orders',
          waitSeconds: 2,
          target: reports,
          payload: { url: 'https://example.com/orders', retries: 3, dryRun: false },
          timezone: 'Europe/Berlin',
          windows: ['Mon-Fri 06:00-20:00 every 2', 'Sun 01:00-05:00 pause'],
          overlap: 'skip',
        },
        { id: 'plain', waitSeconds: 5 },
      ],
    });

    // act
    const [, seed] = onlyResource(resourcesOf(stack), SEED_RESOURCE_TYPE);

    // assess
    expect(seed.Properties[SEED_PROPERTY.pollers]).toEqual([
      {
        PollerId: 'orders',
        Running: 'true',
        WaitSeconds: '2',
        Target: reports,
        Payload: '{"url":"https://example.com/orders","retries":3,"dryRun":false}',
        TimeZone: 'Europe/Berlin',
        Windows: ['Mon-Fri 06:00-20:00 every 2', 'Sun 01:00-05:00 pause'],
        Overlap: 'skip',
      },
      // Fields not declared are not passed: the seed leaves them to the operators.
      { PollerId: 'plain', Running: 'true', WaitSeconds: '5' },
    ]);
  });

  it('renders a payload holding a token as JSON at deployment, and leaves its check to the seed', () => {
    // prepare
    const { stack, scheduler } = userStack((stack) => ({
      pollers: [
        { id: 'tokens', waitSeconds: 2, payload: { queue: new CfnParameter(stack, 'Queue').valueAsString } },
      ],
    }));

    // act
    const [, seed] = onlyResource(resourcesOf(stack), SEED_RESOURCE_TYPE);

    // assess
    expect(scheduler.node.validate()).toEqual([]);
    expect(JSON.stringify(seed.Properties[SEED_PROPERTY.payload])).toContain('{\\"queue\\":\\"');
    expect(JSON.stringify(seed.Properties[SEED_PROPERTY.payload])).toContain('"Ref":"Queue"');
  });

  it('seeds one declared poller in the single form the template parameters use', () => {
    // prepare
    const { stack } = userStack({ pollers: [{ id: 'only', waitSeconds: 2 }] });

    // act
    const [, seed] = onlyResource(resourcesOf(stack), SEED_RESOURCE_TYPE);

    // assess
    expect(seed.Properties).toMatchObject({ PollerId: 'only', Running: 'true', WaitSeconds: '2' });
  });

  it('keeps a seed with no poller, whose delete stops every loop before the state machine goes', () => {
    // prepare
    const { stack } = userStack();

    // act
    const resources = resourcesOf(stack);
    const [, seed] = onlyResource(resources, SEED_RESOURCE_TYPE);
    const [stateMachineId] = onlyResource(resources, 'AWS::StepFunctions::StateMachine');

    // assess
    expect(seed.Properties[SEED_PROPERTY.pollers]).toEqual([]);
    expect(asList(seed.DependsOn ?? [])).toContain(stateMachineId);
  });
});

describe('SubMinuteScheduler worker', () => {
  it('fires the user worker by default: no example worker, invoke allowed on it only, failures to the queue', () => {
    // prepare
    let worker: lambda.Function | undefined;
    const { stack } = userStack((stack) => {
      worker = ownWorker(stack);
      return { worker };
    });

    // act
    const resources = resourcesOf(stack);

    // assess
    const functions = resourcesOfType(resources, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(2); // the control plane and the user's worker
    const [workerId] = onlyResource(
      resources,
      'AWS::Lambda::Function',
      (fn) =>
        fn.Properties.Handler === 'index.handler' &&
        JSON.stringify(fn.Properties.Code).includes('exports.handler'),
    );
    const [, controlPlane] = onlyResource(resources, 'AWS::Lambda::Function', (fn) =>
      JSON.stringify(fn.Properties.Environment ?? {}).includes(ENV.stateMachineArn),
    );
    expect(stack.resolve(worker?.functionName)).toEqual({ Ref: workerId });
    expect(
      (controlPlane.Properties.Environment as { Variables: Record<string, unknown> }).Variables[
        ENV.defaultTarget
      ],
    ).toEqual({ Ref: workerId });
    const invokes = statementsOfRole(resources, getAttId(controlPlane.Properties.Role)).filter((statement) =>
      asList(statement.Action).includes('lambda:InvokeFunction'),
    );
    expect(invokes.map((statement) => statement.Resource)).toEqual([{ 'Fn::GetAtt': [workerId, 'Arn'] }]);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: workerId },
      MaximumRetryAttempts: WORKER_ASYNC_RETRY.retryAttempts,
      MaximumEventAgeInSeconds: WORKER_ASYNC_RETRY.maxEventAge.toSeconds(),
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
  });

  it('leaves the worker async configuration alone when told to (a function has one EventInvokeConfig)', () => {
    // prepare
    const app = new App();
    const stack = new Stack(app, 'UserStack');
    new SubMinuteScheduler(stack, 'Scheduler', {
      worker: ownWorker(stack),
      configureWorkerAsyncInvoke: false,
    });

    // act
    const configs = resourcesOfType(resourcesOf(stack), 'AWS::Lambda::EventInvokeConfig');

    // assess
    expect(configs).toEqual([]);
  });

  it('keeps logs and the table as told', () => {
    // prepare
    const { stack } = userStack({
      logRetention: logs.RetentionDays.ONE_WEEK,
      tableRemovalPolicy: RemovalPolicy.RETAIN,
    });

    // act
    const template = Template.fromStack(stack);

    // assess
    for (const [, group] of resourcesOfType(resourcesOf(stack), 'AWS::Logs::LogGroup')) {
      expect(group.Properties.RetentionInDays).toBe(7);
    }
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('SubMinuteScheduler grants', () => {
  /** The statements of the operator role's policy. */
  function operatorStatements(stack: Stack): PolicyStatement[] {
    const resources = resourcesOf(stack);
    const [roleId] = onlyResource(resources, 'AWS::IAM::Role', (role) =>
      JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes(':root'),
    );
    return statementsOfRole(resources, roleId);
  }

  function tableId(stack: Stack): string {
    return onlyResource(resourcesOf(stack), 'AWS::DynamoDB::Table')[0];
  }

  /** DescribeExecution on the executions of this stack's loop (`execution:<loop name>:*`), nothing wider. */
  function describeExecutionsStatement(stack: Stack): PolicyStatement {
    const [stateMachineId] = onlyResource(resourcesOf(stack), 'AWS::StepFunctions::StateMachine');
    return {
      Action: 'states:DescribeExecution',
      Effect: 'Allow',
      Resource: {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':states:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':execution:',
            { 'Fn::GetAtt': [stateMachineId, 'Name'] },
            ':*',
          ],
        ],
      },
    };
  }

  it('grantSteerPollers: read, UpdateItem and DeleteItem on the control table, no PutItem and nowhere else', () => {
    // prepare
    const { stack, scheduler, operator } = userStack();

    // act
    scheduler.grantSteerPollers(operator);

    // assess
    expect(operatorStatements(stack)).toEqual([
      {
        Action: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [tableId(stack), 'Arn'] },
      },
    ]);
    expect(STEER_POLLER_ACTIONS).not.toContain('dynamodb:PutItem');
  });

  it('grantReadPollers: GetItem and Scan on the control table, DescribeExecution on the loop executions', () => {
    // prepare
    const { stack, scheduler, operator } = userStack();

    // act
    scheduler.grantReadPollers(operator);

    // assess
    expect(operatorStatements(stack)).toEqual([
      {
        Action: ['dynamodb:GetItem', 'dynamodb:Scan'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [tableId(stack), 'Arn'] },
      },
      describeExecutionsStatement(stack),
    ]);
    expect(READ_POLLER_ACTIONS).toEqual(['dynamodb:GetItem', 'dynamodb:Scan']);
    expect(READ_EXECUTION_ACTIONS).toEqual(['states:DescribeExecution']);
  });

  it("grantStart names the scheduler's loop, not the grantee's stack, when the grantee lives in another stack", () => {
    // prepare
    const { app, scheduler } = userStack();
    const other = new Stack(app, 'OperatorsStack');
    const role = new iam.Role(other, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });

    // act
    scheduler.grantStart(role);

    // assess
    const policy = JSON.stringify(Template.fromStack(other).findResources('AWS::IAM::Policy'));
    expect(policy).toContain('states:DescribeExecution');
    expect(policy).toContain(':execution:');
    expect(policy).toContain('Fn::ImportValue'); // the loop's name, exported by the scheduler's stack
    expect(policy).not.toContain('AWS::StackName');
  });

  it('grantTrigger: GetItem and UpdateItem on the control table, InvokeFunction on the worker and the extra targets only', () => {
    // prepare
    const extra = 'arn:aws:lambda:eu-west-1:123456789012:function:other-worker';
    const { stack, scheduler, operator } = userStack({ extraTargetArns: [extra] });

    // act
    scheduler.grantTrigger(operator);

    // assess
    expect(operatorStatements(stack)).toEqual([
      { Action: 'dynamodb:GetItem', Effect: 'Allow', Resource: { 'Fn::GetAtt': [tableId(stack), 'Arn'] } },
      {
        Action: 'dynamodb:UpdateItem',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [tableId(stack), 'Arn'] },
        Condition: {
          'ForAllValues:StringEquals': {
            'dynamodb:Attributes': [
              'id',
              'lastTrigger',
              'triggers',
              'recentTriggers',
              'claim',
              'state',
              'status',
              'error',
              'lastError',
            ],
          },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'UPDATED_NEW'] },
        },
      },
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: [stack.resolve(scheduler.worker.functionArn), extra],
      },
    ]);
    expect([...TRIGGER_POLLER_ACTIONS, ...TRIGGER_INVOKE_ACTIONS]).not.toContain('dynamodb:PutItem');
  });

  it('grantTrigger: extraTargetArns from a parameter (maybe empty) never put "" in a Resource: a conditional policy', () => {
    // prepare
    const { stack, scheduler, operator } = userStack((scope) => ({
      extraTargetArns: new CfnParameter(scope, 'Targets', { type: 'CommaDelimitedList', default: '' })
        .valueAsList,
    }));

    // act
    scheduler.grantTrigger(operator);

    // assess
    const invoke = operatorStatements(stack).find(
      (statement) => statement.Action === 'lambda:InvokeFunction',
    );
    expect(invoke?.Resource).toEqual(stack.resolve(scheduler.worker.functionArn));
    const template = Template.fromStack(stack).toJSON() as {
      Resources: Resources;
      Conditions: Record<string, unknown>;
    };
    const conditional = Object.values(template.Resources).filter(
      (resource) =>
        resource.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(resource.Properties).includes('lambda:InvokeFunction') &&
        JSON.stringify(resource.Properties).includes('"Ref":"Targets"'),
    );
    const controllers = conditional.filter(
      (resource) => !JSON.stringify(resource.Properties.Roles).includes('Operator'),
    );
    const operators = conditional.filter((resource) =>
      JSON.stringify(resource.Properties.Roles).includes('Operator'),
    );
    expect(controllers).toHaveLength(1); // the controller's own ExtraTargetsPolicy
    expect(operators).toHaveLength(1);
    const [policy] = operators;
    const condition = policy?.Condition ?? '';
    expect(template.Conditions[condition]).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ 'Fn::Join': ['', { Ref: 'Targets' }] }, ''] }],
    });
  });

  it('grantTrigger: extraTargetArns from a parameter and a grantee with no role or user to hold the policy: refused', () => {
    // prepare
    const { scheduler } = userStack((scope) => ({
      extraTargetArns: new CfnParameter(scope, 'Targets', { type: 'CommaDelimitedList', default: '' })
        .valueAsList,
    }));
    const principalOnly: iam.IGrantable = { grantPrincipal: new iam.AccountRootPrincipal() };

    // act
    const grant = () => scheduler.grantTrigger(principalOnly);

    // assess
    expect(grant).toThrow(TriggerGrantError);
    expect(grant).toThrow(/needs an iam.Role or iam.User grantee/);
  });

  it('grantStart: StartExecution on the loop state machine, DescribeExecution on its executions only', () => {
    // prepare
    const { stack, scheduler, operator } = userStack();

    // act
    scheduler.grantStart(operator);

    // assess
    const [stateMachineId] = onlyResource(resourcesOf(stack), 'AWS::StepFunctions::StateMachine');
    expect(operatorStatements(stack)).toEqual([
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: stateMachineId } },
      describeExecutionsStatement(stack),
    ]);
  });
});
