import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { HttpTimeouts } from './client-config';
import { describeCause, SubMinuteError } from './errors';

/**
 * Lambda's Invoke API as the controller calls it on every tick: one POST built here, signed by the Lambda client's
 * own SigV4 signer, on a kept-alive agent of its own. The SDK's Invoke pipeline (middleware stack, schema serde,
 * retry strategy) cost ~0.53 ms of CPU per call against ~0.19 ms for this (`npx tsx scripts/bench/send-path-probe.ts`),
 * and a shard controller's capacity per GB-s follows its CPU per fire. The SDK client still resolves what it knows
 * best: the region, the credentials (its provider chain, refreshed as they expire), the endpoint (its rules, or the
 * local stack's), the attempts per call; registerClientTimeouts records the time limits the client was built with.
 */

export type InvocationType = 'Event' | 'RequestResponse' | 'DryRun';

/** Lambda's answer: its status, X-Amz-Function-Error (a worker that threw), and the payload (RequestResponse). */
export interface InvokeAnswer {
  readonly status: number;
  readonly functionError: string | undefined;
  readonly payload: Buffer;
}

/** An invoke signed and ready: its body is written by InvokeApi.open's send. */
export interface SignedInvoke {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A request opened (a socket taken, nothing written yet) whose body goes out at `send`. */
export interface OpenedInvoke {
  /**
   * Writes the request (then calls `onWritten`; not when it had already failed): resolves with the answer; rejects
   * with InvokeSentUnanswered once it may have been taken.
   */
  send(onWritten?: () => void): Promise<InvokeAnswer>;
  /** Abandons it before anything was written. */
  abandon(): void;
}

/**
 * An error answer of the Lambda API: `name` from X-Amzn-ErrorType (ResourceNotFoundException,
 * TooManyRequestsException, …), `message` from its body, as the SDK reports them.
 */
export class LambdaApiError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * A request whose body was written and whose answer did not come (a timeout, a reset): Lambda may have taken it,
 * so it is not sent again (a second attempt could run the worker twice for one tick).
 */
export class InvokeSentUnanswered extends SubMinuteError {
  override readonly name = 'InvokeSentUnanswered';

  constructor(attemptError: unknown) {
    super(`invoke sent, no answer (${describeCause(attemptError)}): not retried, it may have run`);
  }
}

/** Time limits each client was built with (aws-clients.ts registers them): the SDK keeps them in private state. */
const timeoutsOfClient = new WeakMap<LambdaClient, HttpTimeouts>();

/** Records the time limits `lambda` was built with, for the InvokeApi built on it. */
export function registerClientTimeouts(lambda: LambdaClient, timeouts: HttpTimeouts | undefined): void {
  if (timeouts) timeoutsOfClient.set(lambda, timeouts);
}

export class InvokeApi {
  readonly #lambda: LambdaClient;
  readonly #timeouts: HttpTimeouts | undefined;
  #endpoint: Promise<URL> | undefined;
  /** Asked once: the client makes a new signer at each ask (kilobytes a tick); its credentials are read at each sign. */
  #signer: ReturnType<LambdaClient['config']['signer']> | undefined;
  #agent: HttpAgent | undefined;

  constructor(lambda: LambdaClient) {
    this.#lambda = lambda;
    this.#timeouts = timeoutsOfClient.get(lambda);
  }

  /** The client's attempts per call (the first included). */
  async maxAttempts(): Promise<number> {
    return this.#lambda.config.maxAttempts();
  }

  /**
   * Signs an invoke of `target` now, with the client's own SigV4 signer (its credentials and region; the host's clock,
   * NTP-kept on Lambda: no skew correction, since this client makes no SDK call that could learn an offset). A
   * signature stays valid for minutes; a tick holds it well under one.
   */
  async sign(target: string, type: InvocationType, body: string): Promise<SignedInvoke> {
    this.#signer ??= this.#lambda.config.signer();
    const [url, signer] = await Promise.all([this.#resolveEndpoint(), this.#signer]);
    const path = `${url.pathname.replace(/\/$/, '')}/2015-03-31/functions/${encodeURIComponent(target)}/invocations`;
    const { headers } = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      path,
      query: {},
      // No content-length: Node sets it when the body is written in one piece (end(body)).
      headers: { host: url.host, 'x-amz-invocation-type': type },
      body,
    });
    return { path, body, headers };
  }

  /**
   * Opens the request (a socket from the pool, connected if it must be) with nothing written; `requestMs`
   * overrides the client's request time limit, which counts from here (a connection that does not come is cut
   * by it too, as an error before anything was sent).
   */
  async open(invoke: SignedInvoke, requestMs = this.#timeouts?.requestMs): Promise<OpenedInvoke> {
    const url = await this.#resolveEndpoint();
    const https = url.protocol === 'https:';
    // No cap on sockets: a synchronous (overlap `skip`) call holds one as long as its worker runs.
    const pool = { keepAlive: true };
    this.#agent ??= https ? new HttpsAgent(pool) : new HttpAgent(pool);
    const request = (https ? httpsRequest : httpRequest)(url, {
      method: 'POST',
      path: invoke.path,
      agent: this.#agent,
      headers: invoke.headers,
    });
    /** Both set once the request was written on a connected socket: from then on Lambda may have taken it. */
    let written = false;
    let connected = false;
    let failure: unknown;
    let fail = (_error: unknown) => {};
    const answer = new Promise<InvokeAnswer>((resolve, reject) => {
      fail = (error) => {
        failure ??= written && connected ? new InvokeSentUnanswered(error) : error;
        reject(failure);
      };
      request
        .on('error', fail)
        .once('socket', (socket) => {
          connected = !socket.connecting;
          if (!connected) socket.once('connect', () => (connected = true));
        })
        .once('response', (response) => {
          const chunks: Buffer[] = [];
          response
            .on('data', (chunk: Buffer) => chunks.push(chunk))
            .once('error', fail)
            .once('end', () => {
              const payload = Buffer.concat(chunks);
              const status = response.statusCode ?? 0;
              const functionError = response.headers['x-amz-function-error'];
              if (status >= 300) reject(apiErrorOf(status, response.headers['x-amzn-errortype'], payload));
              else
                resolve({
                  status,
                  payload,
                  functionError: typeof functionError === 'string' ? functionError : undefined,
                });
            });
        });
    });
    // Failed here, not only by the request's 'error': one still queued for a socket reports its destruction only
    // once a socket frees.
    const timer =
      requestMs === undefined
        ? undefined
        : setTimeout(() => {
            // Named as the SDK names a request that outlived its limit.
            fail(Object.assign(new Error(`no answer within ${requestMs} ms`), { name: 'TimeoutError' }));
            request.destroy();
          }, requestMs);
    const stop = () => clearTimeout(timer);
    answer.then(stop, stop);
    return {
      send: (onWritten) => {
        if (failure === undefined) {
          written = true;
          request.end(invoke.body);
          onWritten?.();
        }
        return answer;
      },
      abandon: () => {
        failure ??= 'abandoned';
        request.destroy();
      },
    };
  }

  /** Closes the pool's connections (the local stack shuts its controller down). */
  destroy(): void {
    this.#agent?.destroy();
    this.#agent = undefined;
  }

  /** The client's endpoint: its rules for the region, or the one it was given (the local stack's). */
  #resolveEndpoint(): Promise<URL> {
    this.#endpoint ??= (async () => {
      const config = this.#lambda.config;
      const custom = config.endpoint ? await config.endpoint() : undefined;
      const { url } = config.endpointProvider({
        Region: await config.region(),
        UseFIPS: await config.useFipsEndpoint(),
        UseDualStack: await config.useDualstackEndpoint(),
        Endpoint: custom
          ? `${custom.protocol}//${custom.hostname}${custom.port === undefined ? '' : `:${custom.port}`}${custom.path}`
          : await config.serviceConfiguredEndpoint?.(),
      });
      return new URL(url.href);
    })();
    return this.#endpoint;
  }
}

/** The error Lambda answered with, named and worded as the SDK reports it. */
function apiErrorOf(status: number, errorType: unknown, payload: Buffer): LambdaApiError {
  const body = payload.toString();
  return new LambdaApiError(
    String(errorType ?? '').split(':')[0] || `HTTP ${status}`,
    textField(body, 'message') ?? body,
    status,
  );
}

/** A string field of a JSON object body; undefined when the body is not JSON or the field is not a string. */
export function textField(body: string, name: string): string | undefined {
  try {
    const field: unknown = Object(JSON.parse(body))[name];
    return typeof field === 'string' ? field : undefined;
  } catch {
    return undefined;
  }
}
