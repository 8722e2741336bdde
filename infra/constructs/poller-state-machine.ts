import { ArnFormat, Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { buildPollerDefinition, CONTROLLER_ARN_SUBSTITUTION } from '../state-machine/poller-definition';

export interface PollerStateMachineProps {
  readonly controller: lambda.IFunction;
}

/**
 * The self-restarting poller loop (Standard workflow). It hands over to a fresh execution of itself before the
 * history cap, so its role may start executions of this state machine and no other. The name is fixed from the
 * stack name so that ARN is known without referring to the resource (which would be a circular dependency).
 * Step Functions names are at most 80 characters: keep stack names to 75.
 */
export class PollerStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: PollerStateMachineProps) {
    super(scope, id);
    const stateMachineName = `${Aws.STACK_NAME}-loop`;
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(buildPollerDefinition())),
      definitionSubstitutions: { [CONTROLLER_ARN_SUBSTITUTION]: props.controller.functionArn },
    });
    props.controller.grantInvoke(this.stateMachine);
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [
          Stack.of(this).formatArn({
            service: 'states',
            resource: 'stateMachine',
            resourceName: stateMachineName,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
  }
}
