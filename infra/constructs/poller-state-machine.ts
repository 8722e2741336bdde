import { Aws, Fn, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  buildPollerDefinition,
  CONTROLLER_ARN_SUBSTITUTION,
  PARTITION_SUBSTITUTION,
} from '../state-machine/poller-definition';

/**
 * The loop's name is fixed from the stack name, so its ARN is known without referring to the resource: the
 * state machine refers to the control plane, and the control plane starts the state machine (a reference both
 * ways would be a circular dependency). Step Functions names are at most 80 characters: keep stack names to 75.
 */
export const LOOP_STATE_MACHINE_NAME = `${Aws.STACK_NAME}-loop`;

/**
 * The loop's ARNs in the form CloudFormation resolves them, built from its fixed name. Fn::Sub rather than
 * `Stack.formatArn` (a Fn::Join of nine parts): the template is inlined with its code and every byte counts.
 */
// biome-ignore lint/suspicious/noTemplateCurlyInString: a Fn::Sub template, resolved by CloudFormation
const LOOP_ARN_PREFIX = 'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}';

/** The ARN the loop will have. */
export function loopStateMachineArn(): string {
  return Fn.sub(`${LOOP_ARN_PREFIX}:stateMachine:\${AWS::StackName}-loop`);
}

/** Every execution of the loop (`…:execution:<loop>:<name>`), for permissions on executions only. */
export function loopExecutionsArn(): string {
  return Fn.sub(`${LOOP_ARN_PREFIX}:execution:\${AWS::StackName}-loop:*`);
}

export interface PollerStateMachineProps {
  /** The function that runs each round (the control plane). */
  readonly controller: lambda.IFunction;
}

/**
 * The self-restarting poller loop (Standard workflow). It hands over to a fresh execution of itself before the
 * history cap, so its role may start executions of this state machine and no other, and invoke the controller
 * and nothing else.
 */
export class PollerStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: PollerStateMachineProps) {
    super(scope, id);
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: LOOP_STATE_MACHINE_NAME,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(buildPollerDefinition())),
      definitionSubstitutions: {
        [CONTROLLER_ARN_SUBSTITUTION]: props.controller.functionArn,
        [PARTITION_SUBSTITUTION]: Aws.PARTITION,
      },
    });
    // The unqualified function only (grantInvoke would add every version and alias, `:*`).
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [props.controller.functionArn],
      }),
    );
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [loopStateMachineArn()] }),
    );

    const acknowledge = (rule: string, reason: string) =>
      Validations.of(this.stateMachine).acknowledge({ id: `AwsSolutions-${rule}`, reason });
    acknowledge(
      'SF1',
      'Logging ALL events would bill a log write for every state of every round, for ever (a loop never ends); each round already logs from the control plane, and the execution history is kept by Step Functions.',
    );
    acknowledge(
      'SF2',
      'X-Ray tracing needs xray:Put* on "*" in the role, and a never-ending loop would trace every round; the control plane logs timings per round instead.',
    );
  }
}
