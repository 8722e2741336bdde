import { urlToHttpOptions } from 'node:url';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { HttpTimeouts } from './client-config';
import { describeCause, SubMinuteError } from './errors';
import { Http1Pool, readAnswer } from './http1-pool';
import { SigV4Signer } from './sigv4';

/**
 * Lambda's Invoke API as the controller calls it on every tick: one POST built and signed here (sigv4.ts) with
 * the Lambda client's credentials, on kept-alive connections of its own (http1-pool.ts). The SDK's Invoke pipeline
 * (middleware stack, schema serde, retry strategy) costs ~0.49 ms of CPU per call against ~0.08 ms for this
 * (`npx tsx scripts/bench/send-path-probe.ts`), and a shard controller's capacity per GB-s follows its CPU and
 * garbage per fire. The SDK client still resolves what it knows
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

/** Where invokes go (the host, the path every invoke's starts with, the connections) and how they are signed. */
interface Endpoint {
  readonly host: string;
  /** The endpoint's own path (a custom endpoint may have one), then the API's. */
  readonly functionsPath: string;
  readonly pool: Http1Pool;
  readonly signer: SigV4Signer;
}

export class InvokeApi {
  readonly #lambda: LambdaClient;
  readonly #timeouts: HttpTimeouts | undefined;
  #endpoint: Promise<Endpoint> | undefined;
  #pool: Http1Pool | undefined;
  #attempts: Promise<number> | undefined;

  constructor(lambda: LambdaClient) {
    this.#lambda = lambda;
    this.#timeouts = timeoutsOfClient.get(lambda);
  }

  /** The client's attempts per call (the first included): asked once, a tick asks it each time. */
  maxAttempts(): Promise<number> {
    this.#attempts ??= this.#lambda.config.maxAttempts();
    return this.#attempts;
  }

  /**
   * Signs an invoke of `target` now, with the client's credentials (its provider, read at each sign: refreshed as
   * they expire) for its region; the host's clock, NTP-kept on Lambda. A signature stays valid for minutes; a tick
   * holds it well under one.
   */
  async sign(target: string, type: InvocationType, body: string): Promise<SignedInvoke> {
    const [{ host, functionsPath, signer }, credentials] = await Promise.all([
      this.#resolveEndpoint(),
      this.#lambda.config.credentials(),
    ]);
    const path = `${functionsPath}/${encodeURIComponent(target)}/invocations`;
    // No content-length here: send writes it, outside the signed headers (SigV4 checks those it lists).
    const headers = signer.sign(
      { method: 'POST', path, headers: { host, 'x-amz-invocation-type': type }, body },
      credentials,
      Date.now(),
    );
    return { path, body, headers };
  }

  /**
   * Opens the request (a connection from the pool, connecting if it must) with nothing written; `requestMs`
   * overrides the client's request time limit, which counts from here (a connection that does not come is cut
   * by it too, as an error before anything was sent).
   */
  async open(invoke: SignedInvoke, requestMs = this.#timeouts?.requestMs): Promise<OpenedInvoke> {
    const { pool } = await this.#resolveEndpoint();
    // No cap on connections: a synchronous (overlap `skip`) call holds one as long as its worker runs.
    const socket = pool.take();
    /** Both set once the request was written on a connected socket: from then on Lambda may have taken it. */
    let written = false;
    let connected = pool.whenConnected(socket, () => (connected = true));
    let failure: unknown;
    let fail = (_error: unknown) => {};
    const answer = new Promise<InvokeAnswer>((resolve, reject) => {
      fail = (error) => {
        failure ??= written && connected ? new InvokeSentUnanswered(error) : error;
        socket.destroy();
        reject(failure);
      };
      readAnswer(
        socket,
        ({ status, headers, body }, reusable) => {
          // An answer before the request (an idle connection's 408 as the server closes it) is not this call's.
          if (!written) return fail(new Error(`answered ${status} before the request was sent`));
          // Kept only once the request has left whole: an early answer leaves the rest of its body in the socket.
          if (reusable && socket.writableLength === 0) pool.keep(socket);
          else socket.destroy();
          if (status >= 300) reject(apiErrorOf(status, headers['x-amzn-errortype'], body));
          else resolve({ status, payload: body, functionError: headers['x-amz-function-error'] });
        },
        fail,
      );
    });
    const timer =
      requestMs === undefined
        ? undefined
        : setTimeout(
            // Named as the SDK names a request that outlived its limit.
            () =>
              fail(Object.assign(new Error(`no answer within ${requestMs} ms`), { name: 'TimeoutError' })),
            requestMs,
          );
    const stop = () => clearTimeout(timer);
    answer.then(stop, stop);
    return {
      send: (onWritten) => {
        // A connection the server closed while the request waited (its close not yet reported): a write would
        // vanish unreported, and the call fails as not sent, to be retried.
        if (socket.destroyed || !socket.writable)
          fail(new Error('connection closed before the request was sent'));
        if (failure === undefined) {
          written = true;
          let head = `POST ${invoke.path} HTTP/1.1\r\n`;
          for (const [name, value] of Object.entries(invoke.headers)) head += `${name}: ${value}\r\n`;
          socket.write(`${head}content-length: ${Buffer.byteLength(invoke.body)}\r\n\r\n${invoke.body}`);
          onWritten?.();
        }
        return answer;
      },
      abandon: () => fail('abandoned'),
    };
  }

  /** Closes the pool's connections (the local stack shuts its controller down). */
  destroy(): void {
    this.#pool?.destroy();
  }

  /** The client's endpoint (its rules for the region, or the one it was given: the local stack's) and region. */
  #resolveEndpoint(): Promise<Endpoint> {
    this.#endpoint ??= (async () => {
      const config = this.#lambda.config;
      const region = await config.region();
      const custom = config.endpoint ? await config.endpoint() : undefined;
      const { url } = config.endpointProvider({
        Region: region,
        UseFIPS: await config.useFipsEndpoint(),
        UseDualStack: await config.useDualstackEndpoint(),
        Endpoint: custom
          ? `${custom.protocol}//${custom.hostname}${custom.port === undefined ? '' : `:${custom.port}`}${custom.path}`
          : await config.serviceConfiguredEndpoint?.(),
      });
      const resolved = new URL(url.href);
      const https = resolved.protocol === 'https:';
      this.#pool = new Http1Pool({
        https,
        // Without an IPv6 literal's brackets.
        host: urlToHttpOptions(resolved).hostname ?? resolved.hostname,
        port: Number(resolved.port || (https ? 443 : 80)),
      });
      return {
        host: resolved.host,
        functionsPath: `${resolved.pathname.replace(/\/$/, '')}/2015-03-31/functions`,
        pool: this.#pool,
        signer: new SigV4Signer(region, 'lambda'),
      };
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
