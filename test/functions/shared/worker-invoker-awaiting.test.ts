import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controllerDepsFrom } from '../../../functions/controller/controller-deps';
import {
  CONTROL_PLANE_TIMEOUTS,
  createLambdaClient,
  localClientOptions,
} from '../../../functions/shared/aws-clients';
import type { WorkerEvent } from '../../../functions/shared/contract';
import { ENV } from '../../../functions/shared/contract';
import { WorkerInvokeError } from '../../../functions/shared/errors';
import { InvokeApi } from '../../../functions/shared/lambda-invoke-api';
import { silentLogger } from '../../../functions/shared/logger';
import { fireWorkerAwaitingAnswer, type SendHold } from '../../../functions/shared/worker-invoker';
import { LocalFunctions } from '../../../scripts/local-stack/local-functions';
import { LocalServicesServer } from '../../../scripts/local-stack/local-services-server';

/**
 * The synchronous fire of overlap `skip` against the local Lambda endpoint (the local stack's, with its Invoke API
 * and real SDK client): held to the tick like the async fire, returned as soon as the body is out, answered later.
 */
class OrderRejectedError extends Error {
  override readonly name = 'OrderRejectedError';
}

const RUN_MS = 800;
let server: LocalServicesServer;
let api: InvokeApi;
const ranAt: { seq: number; startedAt: number }[] = [];

beforeAll(async () => {
  const functions = new LocalFunctions();
  functions.register('slow', async (event) => {
    ranAt.push({ seq: (event as WorkerEvent).seq, startedAt: Date.now() });
    await new Promise((resolve) => setTimeout(resolve, RUN_MS));
    return { done: true };
  });
  functions.register('rejects', async () => {
    throw new OrderRejectedError('order 7 rejected');
  });
  server = new LocalServicesServer(
    functions,
    () => {
      throw new Error('no Step Functions here');
    },
    () => {},
  );
  const port = await server.listen('127.0.0.1', 0);
  api = new InvokeApi(createLambdaClient(localClientOptions(`http://127.0.0.1:${port}`, 1)));
});

afterAll(async () => {
  api.destroy();
  await server.close();
});

const tick = (seq: number): WorkerEvent => ({
  pollerId: 'orders',
  seq,
  scheduledAt: new Date().toISOString(),
});

/** Opens at once, releases after `afterMs` (the tick), noting when. */
function holdFor(afterMs: number, send = true): SendHold & { releasedAt: () => number } {
  let releasedAt = Number.NaN;
  return {
    openAt: async () => {},
    releaseAt: async () => {
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      releasedAt = Date.now();
      return send;
    },
    releasedAt: () => releasedAt,
  };
}

describe('fireWorkerAwaitingAnswer', () => {
  it('returns once the body is out at the tick, and the answer when the worker finished', async () => {
    // prepare
    const hold = holdFor(300);

    // act
    const fire = await fireWorkerAwaitingAnswer(api, 'slow', tick(3), hold);
    const returnedAt = Date.now();
    if (fire === 'withheld') throw new Error('expected the fire to go out');
    const answer = await fire.answer;

    // assess: the call returned at the release, long before the worker's answer
    expect(fire.seq).toBe(3);
    expect(returnedAt - hold.releasedAt()).toBeLessThan(RUN_MS / 2);
    expect(ranAt.at(-1)?.seq).toBe(3);
    expect(ranAt.at(-1)?.startedAt).toBeGreaterThanOrEqual(hold.releasedAt());
    expect(answer).toMatchObject({ kind: 'succeeded', seq: 3 });
    expect(answer.answeredAtMs - hold.releasedAt()).toBeGreaterThanOrEqual(RUN_MS);
  });

  it('answers a function error as a failed fire naming the poller, the seq and the worker error', async () => {
    // act
    const fire = await fireWorkerAwaitingAnswer(api, 'rejects', tick(7), holdFor(0));
    if (fire === 'withheld') throw new Error('expected the fire to go out');
    const answer = await fire.answer;

    // assess
    expect(answer.kind).toBe('failed');
    const message = answer.kind === 'failed' ? answer.message : '';
    expect(message).toContain("poller 'orders'");
    expect(message).toContain('tick 7');
    expect(message).toContain('OrderRejectedError: order 7 rejected');
  });

  it('answers a call that fails after its body went out (an unknown function) as a failed fire', async () => {
    // act
    const fire = await fireWorkerAwaitingAnswer(api, 'no-such-function', tick(8), holdFor(0));
    if (fire === 'withheld') throw new Error('expected the fire to go out');
    const answer = await fire.answer;

    // assess
    expect(answer.kind).toBe('failed');
    expect(answer.kind === 'failed' ? answer.message : '').toContain('tick 8');
  });

  it('sends nothing and runs nothing when the hold withholds the tick', async () => {
    // prepare
    const runsBefore = ranAt.length;

    // act
    const fire = await fireWorkerAwaitingAnswer(api, 'slow', tick(9), holdFor(50, false));
    await new Promise((resolve) => setTimeout(resolve, 200));

    // assess
    expect(fire).toBe('withheld');
    expect(ranAt).toHaveLength(runsBefore);
  });
});

/**
 * A Lambda endpoint that counts the connections opened to it: a DryRun answers at once, a call after 1.8 s (longer
 * than the control plane's 1.5 s request timeout). The local stack's server is not used: it keeps no connection alive.
 */
async function countingEndpoint(): Promise<{ url: string; connections: () => number; close: () => void }> {
  let connections = 0;
  const endpoint = createHttpServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.headers['x-amz-invocation-type'] === 'DryRun') {
        response.writeHead(204, { 'content-length': '0' }).end();
        return;
      }
      setTimeout(() => {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"done":true}');
      }, 1_800);
    });
  });
  endpoint.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  const address = endpoint.address();
  if (address === null || typeof address === 'string') throw new Error('no endpoint port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    connections: () => connections,
    close: () => {
      endpoint.closeAllConnections();
      endpoint.close();
    },
  };
}

describe('fireWorkerAwaitingAnswer on a connection that fails before the tick', () => {
  it('reports a call whose connection failed before its release as not sent: a WorkerInvokeError, no fire in flight', async () => {
    // prepare: an endpoint that accepts every connection and resets it at once
    const resetting = createNetServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
    const { port } = resetting.address() as AddressInfo;
    const resetApi = new InvokeApi(createLambdaClient(localClientOptions(`http://127.0.0.1:${port}`, 1)));

    // act: released 100 ms after the open, when the connection has long failed
    const outcome = await fireWorkerAwaitingAnswer(resetApi, 'worker', tick(12), holdFor(100)).catch(
      (error: unknown) => error,
    );
    resetApi.destroy();
    resetting.close();

    // assess
    expect(outcome).toBeInstanceOf(WorkerInvokeError);
  });
});

describe("the controller's worker invoker", () => {
  it('fires a skip tick on the connection warm() opened, with a request timeout outlasting the worker', async () => {
    // prepare: the controller's own invoker (control-plane timeouts), warmed as a thawed round does
    const endpoint = await countingEndpoint();
    const { invoker } = controllerDepsFrom({
      env: { [ENV.controlTableName]: 'Control', [ENV.defaultTarget]: 'long' },
      clients: { ...localClientOptions(endpoint.url, 1), timeouts: CONTROL_PLANE_TIMEOUTS },
      log: silentLogger,
      architecture: 'arm64',
    });
    try {
      await invoker.warm('long');

      // act
      const fire = await invoker.fireAwaitingAnswer('long', tick(11), holdFor(50));
      if (fire === 'withheld') throw new Error('expected the fire to go out');
      const answer = await fire.answer;

      // assess: one connection for the warm-up and the fire; the 1.8 s call was not cut at 1.5 s
      expect(answer.kind).toBe('succeeded');
      expect(endpoint.connections()).toBe(1);
    } finally {
      invoker.destroy();
      endpoint.close();
    }
  });
});
