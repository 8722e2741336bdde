import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { WorkerEvent } from './contract';
import { describeCause, UnexpectedInvokeStatusError, WorkerInvokeError } from './errors';
import {
  type InvokeAnswer,
  InvokeApi,
  InvokeSentUnanswered,
  LambdaApiError,
  textField,
} from './lambda-invoke-api';

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

/** The worker invoker on a Lambda client (its region, credentials, endpoint, attempts and time limits). */
export class LambdaWorkerInvoker implements WorkerInvoker {
  readonly #api: InvokeApi;

  constructor(private readonly lambda: LambdaClient) {
    this.#api = new InvokeApi(lambda);
  }

  fireAwaitingAnswer(target: string, event: WorkerEvent, hold: SendHold): Promise<'withheld' | FireInFlight> {
    return fireWorkerAwaitingAnswer(this.#api, target, event, hold);
  }

  fire(target: string, event: WorkerEvent, hold: SendHold): Promise<'sent' | 'withheld'> {
    return fireWorker(this.#api, target, event, hold);
  }

  warm(target: string): Promise<void> {
    return warmConnection(this.#api, target);
  }

  destroy(): void {
    this.#api.destroy();
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
 * wall time as soon as it needs more than what is left of one period. The request is serialized and signed at
 * once; at `openAt` it is handed to Node's HTTP client (a socket taken) with nothing written; at `releaseAt` only
 * the write of its headers and body (a few hundred bytes, one write) is left. Lambda accepts the invoke
 * when the whole request has arrived. A signature stays valid for minutes; the hold is well under a second.
 * Withheld, the request is aborted before any of it was written: 'withheld' is returned and nothing was sent;
 * a retry withheld after a failed attempt leaves the tick undelivered, a failure (WorkerInvokeError, that cause).
 */
export async function fireWorker(
  api: InvokeApi,
  target: string,
  event: WorkerEvent,
  hold: SendHold = SEND_AT_ONCE,
): Promise<'sent' | 'withheld'> {
  const result = await invokeHeld(api, target, event, hold, 'Event');
  if (result === 'withheld') return result;
  if (result.status !== 202) {
    throw new WorkerInvokeError(
      event.pollerId,
      target,
      event.seq,
      new UnexpectedInvokeStatusError(event.pollerId, result.status),
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
  api: InvokeApi,
  target: string,
  event: WorkerEvent,
  hold: SendHold,
): Promise<'withheld' | FireInFlight> {
  let markSent = () => {};
  const sent = new Promise<'sent'>((resolve) => {
    markSent = () => resolve('sent');
  });
  const call = invokeHeld(api, target, event, hold, 'RequestResponse', MAX_WORKER_RUN_MS, markSent);
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
function answerOf(event: WorkerEvent, target: string, output: InvokeAnswer | 'withheld'): FireAnswer {
  const answeredAtMs = Date.now();
  const failed = (detail: string): FireAnswer => ({
    kind: 'failed',
    seq: event.seq,
    answeredAtMs,
    message: `poller '${event.pollerId}': tick ${event.seq} at '${target}' failed: ${detail}`,
  });
  if (output === 'withheld') return failed('the call was withheld after its body was sent');
  if (output.functionError !== undefined) {
    const reported = workerErrorOf(output.payload);
    return failed(`${output.functionError} error ${reported}`);
  }
  if (output.status !== 200) return failed(`unexpected status ${output.status} for a synchronous invoke`);
  return { kind: 'succeeded', seq: event.seq, answeredAtMs };
}

/** `errorType: errorMessage` from the payload Lambda returns with a FunctionError, else the payload (cut short: it goes on the item). */
function workerErrorOf(payload: Buffer): string {
  const text = payload.toString('utf8');
  const type = textField(text, 'errorType');
  const message = textField(text, 'errorMessage');
  return (type === undefined && message === undefined ? text : `${type ?? 'Error'}: ${message ?? ''}`).slice(
    0,
    300,
  );
}

/**
 * The held invoke both fires share: the answer, or 'withheld' when the hold withheld it with nothing sent. Signed
 * at once; each attempt is opened at `openAt` and written at `releaseAt`. An attempt Lambda answered with a 5xx or
 * a throttle (it did not take the invoke) is made again through the hold, up to the client's attempts (one for a
 * synchronous call: a retried RequestResponse call may run the worker twice); one whose body went out without an
 * answer is not. A failure throws a WorkerInvokeError naming the last attempt's cause.
 */
async function invokeHeld(
  api: InvokeApi,
  target: string,
  event: WorkerEvent,
  hold: SendHold,
  invocationType: 'Event' | 'RequestResponse',
  /** Overrides the client's request timeout for this call only (its connection pool is shared). */
  requestTimeout?: number,
  /** Called when the body is written. */
  onSent?: () => void,
): Promise<InvokeAnswer | 'withheld'> {
  /** Why the last attempt failed: a retry withheld after it leaves the tick undelivered for that reason. */
  let failedAttempt: unknown;
  try {
    const signed = await api.sign(target, invocationType, JSON.stringify(event));
    const attempts = invocationType === 'Event' ? await api.maxAttempts() : 1;
    for (let attempt = 1; ; attempt++) {
      await hold.openAt();
      // A retry is decided before it is opened: one withheld would only take a socket from the pool to close it.
      const opened =
        attempt > 1 && !(await hold.releaseAt()) ? undefined : await api.open(signed, requestTimeout);
      if (opened === undefined || (attempt === 1 && !(await hold.releaseAt()))) {
        opened?.abandon();
        if (failedAttempt === undefined) return 'withheld';
        throw failedAttempt;
      }
      try {
        return await opened.send(onSent);
      } catch (error) {
        failedAttempt = error;
        // Lambda answered 4xx (not throttling): another attempt gets the same answer.
        const refused = error instanceof LambdaApiError && error.status < 500 && error.status !== 429;
        if (refused || error instanceof InvokeSentUnanswered || attempt >= attempts) throw error;
      }
    }
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
export async function warmConnection(api: InvokeApi, target: string): Promise<void> {
  try {
    await (await api.open(await api.sign(target, 'DryRun', ''))).send();
  } catch {
    // Nothing to do here: the fire that follows reports whatever is wrong with the target.
  }
}
