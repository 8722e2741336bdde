import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { WorkerEvent } from './contract';
import { WorkerInvokeError } from './errors';

/**
 * Fires the worker asynchronously (InvocationType Event): the controller never waits for the work itself, so a
 * slow worker cannot delay the next tick. Lambda queues the event and runs it at least once.
 */
export async function fireWorker(lambda: LambdaClient, target: string, event: WorkerEvent): Promise<void> {
  try {
    const result = await lambda.send(
      new InvokeCommand({
        FunctionName: target,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(event)),
      }),
    );
    if (result.StatusCode !== 202)
      throw new Error(`unexpected status ${result.StatusCode} for an async invoke`);
  } catch (error) {
    throw new WorkerInvokeError(event.pollerId, target, event.seq, error);
  }
}
