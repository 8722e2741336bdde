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

/**
 * Opens (or re-validates) the connection to Lambda ahead of a tick, so the tick's own invoke does not pay a new
 * TLS handshake after a sandbox was frozen through a Wait state or a long gap: an Invoke with InvocationType
 * DryRun checks the parameters and permissions without running the function. Never throws: a real problem shows
 * on the tick's own invoke, which is recorded.
 */
export async function warmConnection(lambda: LambdaClient, target: string): Promise<void> {
  try {
    await lambda.send(new InvokeCommand({ FunctionName: target, InvocationType: 'DryRun' }));
  } catch {
    // Nothing to do here: the fire that follows reports whatever is wrong with the target.
  }
}
