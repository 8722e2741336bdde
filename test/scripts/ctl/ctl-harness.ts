import { type AttributeValue, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DEFAULT_POLLER_ID, FIELD } from '../../../functions/shared/contract';
import type { RawItem } from '../../../functions/shared/control-item';
import { runCtl } from '../../../scripts/ctl/run';
import { localTarget, type ResolvedTarget } from '../../../scripts/ctl/target';
import type { TargetSpec } from '../../../scripts/ctl/target-spec';
import type { LocalStack } from '../../../scripts/local-stack/local-stack';

export interface CtlRun {
  readonly exitCode: number;
  readonly stdout: string[];
  readonly stderr: string[];
  /** The target specs the CLI asked to resolve: empty means it made no AWS call. */
  readonly resolved: TargetSpec[];
}

/** The CLI's target for a local stack on whatever (ephemeral) ports it listens on. */
export const targetOf = (stack: LocalStack): ResolvedTarget =>
  localTarget({ dynamoDbEndpoint: stack.endpoint, servicesEndpoint: stack.servicesEndpoint });

/** Runs the CLI in-process; `--local` in argv is pointed at `stack` (or at nothing, for argument tests). */
export async function ctl(
  argv: readonly string[],
  stack?: LocalStack,
  nowMs?: () => number,
): Promise<CtlRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const resolved: TargetSpec[] = [];
  const exitCode = await runCtl(argv, {
    stdout: (text) => stdout.push(text),
    stderr: (text) => stderr.push(text),
    resolveTarget: async (spec) => {
      resolved.push(spec);
      if (!stack) throw new Error('this test run has no local stack');
      return targetOf(stack);
    },
    ...(nowMs ? { nowMs } : {}),
  });
  return { exitCode, stdout, stderr, resolved };
}

export async function readItem(
  stack: LocalStack,
  pollerId = DEFAULT_POLLER_ID,
): Promise<RawItem | undefined> {
  const result = await stack.dynamoDb.send(
    new GetItemCommand({
      TableName: stack.tableName,
      Key: { [FIELD.id]: { S: pollerId } },
      ConsistentRead: true,
    }),
  );
  return result.Item;
}

/** Sets fields the way an operator or the controller would, creating the item if needed. */
export async function setFields(
  stack: LocalStack,
  fields: Record<string, AttributeValue>,
  pollerId = DEFAULT_POLLER_ID,
) {
  const names = Object.keys(fields);
  await stack.dynamoDb.send(
    new UpdateItemCommand({
      TableName: stack.tableName,
      Key: { [FIELD.id]: { S: pollerId } },
      UpdateExpression: `SET ${names.map((_, index) => `#f${index} = :v${index}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(names.map((name, index) => [`#f${index}`, name])),
      ExpressionAttributeValues: Object.fromEntries(
        Object.values(fields).map((value, index) => [`:v${index}`, value]),
      ),
    }),
  );
}
