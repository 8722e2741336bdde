import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { WorkerEvent } from './contract';
import { WorkerInvokeError } from './errors';

const HOLD_UNTIL_TICK = { step: 'finalizeRequest', priority: 'low', name: 'holdUntilTick' } as const;

/**
 * Fires the worker asynchronously (InvocationType Event): the controller never waits for the work itself, so a
 * slow worker cannot delay the next tick. Lambda queues the event and runs it at least once.
 *
 * `releaseAt` holds the request until the tick: the SDK serializes and signs it at once, and only sending it
 * waits. A 128 MB Lambda gets about 7% of a core, throttled in ~20 ms periods, so the few milliseconds of CPU that
 * building and signing a request take would otherwise stretch to tens of milliseconds of wall time after the tick
 * is due. (A signature stays valid for minutes; the hold is well under a second.) `releaseAt` answers false to
 * withhold the request instead (the tick is too late to send): nothing goes out and 'withheld' is returned.
 */
export async function fireWorker(
  lambda: LambdaClient,
  target: string,
  event: WorkerEvent,
  releaseAt: () => Promise<boolean> = async () => true,
): Promise<'sent' | 'withheld'> {
  const command = new InvokeCommand({
    FunctionName: target,
    InvocationType: 'Event',
    Payload: new TextEncoder().encode(JSON.stringify(event)),
  });
  // After every finalizeRequest middleware (retries, signing), before the request goes out; a retry re-signs
  // and passes at once.
  command.middlewareStack.add(
    (next) => async (args) => {
      if (!(await releaseAt())) throw new TickWithheld();
      return next(args);
    },
    HOLD_UNTIL_TICK,
  );
  try {
    const result = await lambda.send(command);
    if (result.StatusCode !== 202)
      throw new Error(`unexpected status ${result.StatusCode} for an async invoke`);
    return 'sent';
  } catch (error) {
    if (error instanceof TickWithheld) return 'withheld';
    throw new WorkerInvokeError(event.pollerId, target, event.seq, error);
  }
}

/**
 * Thrown from the hold to abandon a request that was signed but must not go out; never leaves fireWorker. An Error
 * (the SDK wraps anything else), and not one its retry strategy counts as retryable.
 */
class TickWithheld extends Error {
  override readonly name = 'TickWithheld';
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
