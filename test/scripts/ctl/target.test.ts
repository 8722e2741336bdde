import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { describe, expect, it } from 'vitest';
import { LOCAL_REGION } from '../../../functions/shared/aws-clients';
import { executionArnFor } from '../../../functions/shared/loop-ownership';
import { AwsCallError } from '../../../scripts/ctl/errors';
import { resolveTarget } from '../../../scripts/ctl/target';
import { LOCAL_TABLE_NAME, localStateMachineArn } from '../../../scripts/local-stack/local-endpoints';

describe('resolveTarget', () => {
  it('points --local --port N at DynamoDB on N and Step Functions on N+1', async () => {
    const target = await resolveTarget({ kind: 'local', port: 9100 });

    expect(target).toMatchObject({
      tableName: LOCAL_TABLE_NAME,
      stateMachineArn: localStateMachineArn(LOCAL_REGION),
      dynamoDb: { endpoint: 'http://127.0.0.1:9100', region: LOCAL_REGION },
      stepFunctions: { endpoint: 'http://127.0.0.1:9101', region: LOCAL_REGION },
    });
  });

  it('uses --table and --state-machine-arn as given, in the given region', async () => {
    const arn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:loop';

    const target = await resolveTarget({
      kind: 'table',
      tableName: 'control',
      stateMachineArn: arn,
      region: 'eu-west-1',
    });

    expect(target).toEqual({
      tableName: 'control',
      stateMachineArn: arn,
      dynamoDb: { region: 'eu-west-1' },
      stepFunctions: { region: 'eu-west-1' },
      // A bare table names no default worker: `ctl trigger` fires only items with their own target there.
      lambda: { region: 'eu-west-1' },
    });
  });

  it('reports a failed DescribeStacks as an AWS error naming the stack', async () => {
    // A CloudFormation endpoint where nothing listens: the real SDK call fails the way it does offline.
    const cloudFormation = () =>
      new CloudFormationClient({
        region: 'eu-west-1',
        endpoint: 'http://127.0.0.1:9',
        credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
        maxAttempts: 1,
      });

    const resolving = resolveTarget(
      { kind: 'stack', stackName: 'SubMinute', region: 'eu-west-1' },
      cloudFormation,
    );

    await expect(resolving).rejects.toThrow(AwsCallError);
    await expect(resolving).rejects.toThrow(
      /^reading the outputs of stack 'SubMinute' failed: .*ECONNREFUSED/,
    );
  });
});

describe('executionArnFor', () => {
  it('builds the ARN Step Functions gives a named execution of the state machine', () => {
    const arn = executionArnFor('arn:aws:states:eu-west-1:123456789012:stateMachine:loop', 'default-g3');

    expect(arn).toBe('arn:aws:states:eu-west-1:123456789012:execution:loop:default-g3');
  });
});
