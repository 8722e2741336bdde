import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLambdaClient, localClientOptions } from '../../functions/shared/aws-clients';
import { CONTROL_PLANE_MAX_ATTEMPTS, CONTROL_PLANE_TIMEOUTS } from '../../functions/shared/client-config';
import { LambdaWorkerInvoker } from '../../functions/shared/worker-invoker';
import { reportFault } from '../support/fault-probes';

/**
 * The mechanism behind fleet-table-outage.test.ts's doubled (poller, seq), isolated at the boundary: a Lambda
 * endpoint that accepts an async Invoke and answers its 202 slowly (as the local stack's endpoint does on a loaded
 * machine, and as any endpoint can). The controller's client is built as the deployed one is
 * (CONTROL_PLANE_MAX_ATTEMPTS attempts, CONTROL_PLANE_TIMEOUTS), the fire goes through the real SDK and the held
 * request path (LambdaWorkerInvoker.fire). The endpoint counts the invokes whose whole body arrived.
 */

const ANSWER_AFTER_MS = CONTROL_PLANE_TIMEOUTS.requestMs + 500;

describe('fleet fault: the Lambda endpoint answers an async Invoke slowly', () => {
  let server: Server | undefined;
  let invoker: LambdaWorkerInvoker | undefined;
  afterEach(async () => {
    invoker?.destroy();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    invoker = undefined;
  });

  // With the controller's client (CONTROL_PLANE_MAX_ATTEMPTS 2, requestMs 1.5 s): an Invoke accepted but answered
  // after the request timeout was sent again by the SDK's second attempt until invokeHeld stopped retrying an invoke
  // whose body had gone out. It is now reported as the fire's failure, and the worker runs once.
  it('a tick whose 202 comes after the request timeout is invoked once, not twice', async () => {
    const received: string[] = [];
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push(Buffer.concat(chunks).toString('utf8'));
        setTimeout(() => {
          if (!response.destroyed) response.writeHead(202).end();
        }, ANSWER_AFTER_MS);
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    invoker = new LambdaWorkerInvoker(
      createLambdaClient({
        ...localClientOptions(url, CONTROL_PLANE_MAX_ATTEMPTS),
        timeouts: CONTROL_PLANE_TIMEOUTS,
      }),
    );
    const event = { pollerId: 'p000', seq: 7, scheduledAt: new Date().toISOString() };

    const outcome = await invoker
      .fire('worker', event, { openAt: async () => {}, releaseAt: async () => true })
      .then(
        (sent) => sent,
        (error: unknown) => (error instanceof Error ? error.name : String(error)),
      );

    reportFault('fleet slow invoke', {
      'answer after': `${ANSWER_AFTER_MS} ms`,
      'invokes received': received.length,
      outcome,
    });
    expect(received).toHaveLength(1);
    expect(outcome).toBe('WorkerInvokeError');
  }, 20_000);
});
