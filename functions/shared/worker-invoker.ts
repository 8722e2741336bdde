import { Readable } from 'node:stream';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { WorkerEvent } from './contract';
import { SubMinuteError, UnexpectedInvokeStatusError, WorkerInvokeError } from './errors';

const HOLD_UNTIL_TICK = { step: 'finalizeRequest', priority: 'low', name: 'holdUntilTick' } as const;

/** When a held invoke is opened and when it goes out (or is withheld). */
export interface SendHold {
  /**
   * Resolves shortly before the tick: the request is opened then (a connection taken, the request handed to
   * Node's HTTP client), all but its body. Not earlier: an open request counts against the client's timeouts.
   */
  readonly openAt: () => Promise<void>;
  /** Resolves at the tick: true sends the body, false withholds the request (the tick is too late to send). */
  readonly releaseAt: () => Promise<boolean>;
}

/**
 * How the controller reaches its workers: the one Lambda call of a tick, held until the tick, and the warm-up
 * ahead of it. LambdaWorkerInvoker is the production implementation; the controller's unit tests use one in memory.
 */
export interface WorkerInvoker {
  /** As fireWorker: 'sent' or 'withheld' by the hold; a WorkerInvokeError when the invoke failed. */
  fire(target: string, event: WorkerEvent, hold: SendHold): Promise<'sent' | 'withheld'>;
  /** As warmConnection: never throws. */
  warm(target: string): Promise<void>;
  /** Closes its connections (the local stack shuts its controller down). */
  destroy(): void;
}

/** The worker invoker on a Lambda client: fireWorker and warmConnection. */
export class LambdaWorkerInvoker implements WorkerInvoker {
  constructor(private readonly lambda: LambdaClient) {}

  fire(target: string, event: WorkerEvent, hold: SendHold): Promise<'sent' | 'withheld'> {
    return fireWorker(this.lambda, target, event, hold);
  }

  warm(target: string): Promise<void> {
    return warmConnection(this.lambda, target);
  }

  destroy(): void {
    this.lambda.destroy();
  }
}

const SEND_AT_ONCE: SendHold = { openAt: async () => {}, releaseAt: async () => true };

/**
 * Fires the worker asynchronously (InvocationType Event): the controller never waits for the work itself, so a
 * slow worker cannot delay the next tick. Lambda queues the event and runs it at least once.
 *
 * The hold moves all the work of a request off the tick: a 128 MB Lambda gets about 7% of a core, throttled in
 * ~20 ms periods (1.4 ms of CPU each), so work done after the tick is due stretches to tens of milliseconds of
 * wall time as soon as it needs more than what is left of one period. The SDK serializes and signs the request at
 * once; at `openAt` the request goes through the rest of the SDK and into Node's HTTP client with its body held
 * back; at `releaseAt` only the body (a few hundred bytes, one write) is left to send. Lambda accepts the invoke
 * when the whole request has arrived. A signature stays valid for minutes; the hold is well under a second.
 * Withheld, the request is aborted before any of it was written: 'withheld' is returned and nothing was sent;
 * a retry withheld after a failed attempt leaves the tick undelivered, a failure (WorkerInvokeError, that cause).
 */
export async function fireWorker(
  lambda: LambdaClient,
  target: string,
  event: WorkerEvent,
  hold: SendHold = SEND_AT_ONCE,
): Promise<'sent' | 'withheld'> {
  const command = new InvokeCommand({
    FunctionName: target,
    InvocationType: 'Event',
    Payload: new TextEncoder().encode(JSON.stringify(event)),
  });
  const abort = new AbortController();
  let withheld = false;
  /** Why the last attempt failed: a retry withheld after it leaves the tick undelivered for that reason. */
  let failedAttempt: unknown;
  /** The signed body; a retry passes through the hold again and needs it anew. */
  let payload: Uint8Array | undefined;
  // After every finalizeRequest middleware (retries, signing), before the request goes out.
  command.middlewareStack.add(
    (next) => async (args) => {
      await hold.openAt();
      const request = args.request;
      const bytes =
        payload ?? (hasBody(request) && request.body instanceof Uint8Array ? request.body : undefined);
      if (!hasBody(request) || bytes === undefined) {
        if (!(await hold.releaseAt())) throw new TickWithheld();
        return noteFailure(next(args));
      }
      payload = bytes;
      const body = new Readable({ read() {} });
      request.body = body;
      void hold.releaseAt().then((send) => {
        if (send) {
          body.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          body.push(null);
        } else {
          withheld = true;
          abort.abort(new TickWithheld());
        }
      });
      return noteFailure(next(args));
    },
    HOLD_UNTIL_TICK,
  );
  const noteFailure = async <T>(attempt: Promise<T>): Promise<T> => {
    try {
      return await attempt;
    } catch (error) {
      if (!withheld) failedAttempt = error;
      throw error;
    }
  };
  try {
    const result = await lambda.send(command, { abortSignal: abort.signal });
    if (result.StatusCode !== 202) throw new UnexpectedInvokeStatusError(event.pollerId, result.StatusCode);
    return 'sent';
  } catch (error) {
    const cause = failedAttempt ?? error;
    if ((withheld || error instanceof TickWithheld) && failedAttempt === undefined) return 'withheld';
    throw new WorkerInvokeError(event.pollerId, target, event.seq, cause);
  }
}

/** An HTTP request (its body is the bytes the SDK serialized and signed, or the stream a retry left). */
function hasBody(request: unknown): request is { body: unknown } {
  return typeof request === 'object' && request !== null && 'body' in request;
}

/**
 * Abandons a request that was signed but must not go out; never leaves fireWorker. An Error (the SDK wraps
 * anything else), and not one its retry strategy counts as retryable.
 */
class TickWithheld extends SubMinuteError {
  override readonly name = 'TickWithheld';

  constructor() {
    super('the tick is too late to send: its request was withheld');
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
