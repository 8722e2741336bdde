import { Readable } from 'node:stream';
import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import type { WorkerEvent } from './contract';
import { describeCause, SubMinuteError, UnexpectedInvokeStatusError, WorkerInvokeError } from './errors';

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
  /**
   * As fireWorkerAwaitingAnswer (overlap `skip`): 'withheld', or the call in flight once its body went out at the
   * tick; a WorkerInvokeError when the invoke failed before it was sent.
   */
  fireAwaitingAnswer(target: string, event: WorkerEvent, hold: SendHold): Promise<'withheld' | FireInFlight>;
  /** As warmConnection: never throws. */
  warm(target: string): Promise<void>;
  /** Closes its connections (the local stack shuts its controller down). */
  destroy(): void;
}

/** The worker invoker on a Lambda client: fireWorker and warmConnection. */
export class LambdaWorkerInvoker implements WorkerInvoker {
  /**
   * @param awaitingLambda the client of synchronous fires (default: `lambda`): it should make one attempt (a
   * retried RequestResponse call may run the worker twice) and share `lambda`'s request handler, the connection
   * pool `warm` keeps warm (see awaitingLambdaClient). Its calls set their own request timeout (MAX_WORKER_RUN_MS).
   */
  constructor(
    private readonly lambda: LambdaClient,
    private readonly awaitingLambda: LambdaClient = lambda,
  ) {}

  fireAwaitingAnswer(target: string, event: WorkerEvent, hold: SendHold): Promise<'withheld' | FireInFlight> {
    return fireWorkerAwaitingAnswer(this.awaitingLambda, target, event, hold);
  }

  fire(target: string, event: WorkerEvent, hold: SendHold): Promise<'sent' | 'withheld'> {
    return fireWorker(this.lambda, target, event, hold);
  }

  warm(target: string): Promise<void> {
    return warmConnection(this.lambda, target);
  }

  destroy(): void {
    this.lambda.destroy();
    if (this.awaitingLambda !== this.lambda) this.awaitingLambda.destroy();
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
  const result = await invokeHeld(lambda, target, event, hold, 'Event');
  if (result === 'withheld') return result;
  if (result.StatusCode !== 202) {
    throw new WorkerInvokeError(
      event.pollerId,
      target,
      event.seq,
      new UnexpectedInvokeStatusError(event.pollerId, result.StatusCode),
    );
  }
  return 'sent';
}

/**
 * A synchronous call lasts as long as the worker runs, at most the longest a Lambda runs (900 s): its request
 * timeout, instead of the control plane's 1.5 s.
 */
export const MAX_WORKER_RUN_MS = 900_000;

/** How a synchronous fire ended: the worker's answer, read when it came (never on the tick path). */
export type FireAnswer =
  | { readonly kind: 'succeeded'; readonly seq: number; readonly answeredAtMs: number }
  /** A FunctionError, an unexpected status, or a call that failed after its body was sent; `message` names why. */
  | {
      readonly kind: 'failed';
      readonly seq: number;
      readonly answeredAtMs: number;
      readonly message: string;
    };

/** A synchronous fire whose body went out: its answer comes later and never rejects. */
export interface FireInFlight {
  readonly seq: number;
  readonly answer: Promise<FireAnswer>;
}

/**
 * Fires the worker synchronously (InvocationType RequestResponse) with the same hold as fireWorker: signed ahead,
 * opened at `openAt`, its body written at the tick. Returns as soon as the body is out (the call then runs as long
 * as the worker does) with the answer as a promise the caller keeps off the tick path; 'withheld' when the hold
 * withheld it. A failure before the body went out throws a WorkerInvokeError, as fireWorker does. Lambda makes no
 * retry of a synchronous call and the worker's error comes back in the answer (FunctionError).
 */
export async function fireWorkerAwaitingAnswer(
  lambda: LambdaClient,
  target: string,
  event: WorkerEvent,
  hold: SendHold,
): Promise<'withheld' | FireInFlight> {
  let markSent: () => void = () => {};
  const sent = new Promise<'sent'>((resolve) => {
    markSent = () => resolve('sent');
  });
  const watched: SendHold = {
    openAt: hold.openAt,
    releaseAt: async () => {
      const send = await hold.releaseAt();
      if (send) markSent();
      return send;
    },
  };
  const call = invokeHeld(lambda, target, event, watched, 'RequestResponse', MAX_WORKER_RUN_MS);
  const first = await Promise.race([sent, call]);
  if (first === 'withheld') return first;
  const answer = call.then(
    (output) => answerOf(event, target, output),
    (error: unknown): FireAnswer => ({
      kind: 'failed',
      seq: event.seq,
      answeredAtMs: Date.now(),
      message: describeCause(error),
    }),
  );
  return { seq: event.seq, answer };
}

/** The worker's answer to a synchronous call: a FunctionError names its errorType and errorMessage. */
function answerOf(event: WorkerEvent, target: string, output: InvokeCommandOutput | 'withheld'): FireAnswer {
  const answeredAtMs = Date.now();
  const failed = (detail: string): FireAnswer => ({
    kind: 'failed',
    seq: event.seq,
    answeredAtMs,
    message: `poller '${event.pollerId}': tick ${event.seq} at '${target}' failed: ${detail}`,
  });
  if (output === 'withheld') return failed('the call was withheld after its body was sent');
  if (output.FunctionError !== undefined) {
    const reported = workerErrorOf(output.Payload);
    return failed(`${output.FunctionError} error ${reported}`);
  }
  if (output.StatusCode !== 200)
    return failed(`unexpected status ${output.StatusCode} for a synchronous invoke`);
  return { kind: 'succeeded', seq: event.seq, answeredAtMs };
}

/** `errorType: errorMessage` from the payload Lambda returns with a FunctionError (cut short: it goes on the item). */
function workerErrorOf(payload: Uint8Array | undefined): string {
  const text = payload === undefined ? '' : new TextDecoder().decode(payload);
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) {
      const type = 'errorType' in parsed && typeof parsed.errorType === 'string' ? parsed.errorType : 'Error';
      const message =
        'errorMessage' in parsed && typeof parsed.errorMessage === 'string' ? parsed.errorMessage : '';
      return `${type}: ${message}`.slice(0, 300);
    }
  } catch {
    // Not JSON: shown as it came.
  }
  return text.slice(0, 300);
}

/**
 * The held invoke both fires share: the output, or 'withheld' when the hold withheld it with nothing sent.
 * A failure throws a WorkerInvokeError naming the attempt's cause.
 */
async function invokeHeld(
  lambda: LambdaClient,
  target: string,
  event: WorkerEvent,
  hold: SendHold,
  invocationType: 'Event' | 'RequestResponse',
  /** Overrides the client's request timeout for this call only (its connection pool is shared). */
  requestTimeout?: number,
): Promise<InvokeCommandOutput | 'withheld'> {
  const command = new InvokeCommand({
    FunctionName: target,
    InvocationType: invocationType,
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
      let released = false;
      void hold.releaseAt().then((send) => {
        if (send) {
          released = true;
          body.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          body.push(null);
        } else {
          withheld = true;
          abort.abort(new TickWithheld());
        }
      });
      // Once the body went out with no answer back (a slow 202 past the request timeout, a reset connection),
      // Lambda may have accepted the invoke: a retry could run the worker twice for one tick, so none is made. An
      // error Lambda answered with (a 5xx) says it did not take the invoke, and is retried as the SDK would.
      const attempt = next(args).catch((error: unknown) => {
        throw released && !answeredWithStatus(error) ? new InvokeSentUnanswered(error) : error;
      });
      return noteFailure(attempt);
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
    return await lambda.send(command, {
      abortSignal: abort.signal,
      ...(requestTimeout === undefined ? {} : { requestTimeout }),
    });
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

/** Whether an attempt's error carries the HTTP status Lambda answered with (absent for a timeout or a reset). */
function answeredWithStatus(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return false;
  const metadata: unknown = error.$metadata;
  return typeof metadata === 'object' && metadata !== null && 'httpStatusCode' in metadata
    ? typeof metadata.httpStatusCode === 'number'
    : false;
}

/**
 * An invoke whose body was sent and whose answer did not come: not retried (the SDK's retry strategy counts no
 * error of this name as retryable), reported as the fire's failure with the attempt's own cause.
 */
class InvokeSentUnanswered extends SubMinuteError {
  override readonly name = 'InvokeSentUnanswered';

  constructor(readonly attemptError: unknown) {
    super(`invoke sent, no answer (${describeCause(attemptError)}): not retried, it may have run`);
  }
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
