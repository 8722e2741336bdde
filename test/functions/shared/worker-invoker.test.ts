import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { fireWorker } from '../../../functions/shared/worker-invoker';

/** What the Lambda endpoint saw of each invoke: when it arrived and when the SDK signed it. */
interface Arrival {
  readonly at: number;
  readonly signedAt: number;
  readonly body: string;
}

describe('fireWorker', () => {
  let server: Server;
  let endpoint: string;
  const arrivals: Arrival[] = [];

  beforeAll(async () => {
    server = createServer((request: IncomingMessage, response) => {
      const at = Date.now();
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        // X-Amz-Date is the signing time, to the second: 20261122T213000Z.
        const amzDate = String(request.headers['x-amz-date'] ?? '');
        const signedAt = Date.parse(
          amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'),
        );
        arrivals.push({ at, signedAt, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('signs the invoke at once and sends it only when released (the tick), with the tick as payload', async () => {
    // prepare: a hold of 2.2 s, so the signing time (whole seconds) is visibly before the release
    const lambda = createLambdaClient(localClientOptions(endpoint));
    const calledAt = Date.now();
    let releasedAt = 0;
    const tick = { pollerId: 'p', seq: 3, scheduledAt: new Date(calledAt + 2_200).toISOString() };

    // act
    const sent = await fireWorker(lambda, 'worker', tick, async () => {
      await new Promise((resolve) => setTimeout(resolve, 2_200));
      releasedAt = Date.now();
      return true;
    });
    lambda.destroy();

    // assess
    expect(sent).toBe('sent');
    const arrival = arrivals.at(-1);
    expect(arrival?.at).toBeGreaterThanOrEqual(releasedAt);
    // Signed when called (X-Amz-Date has whole seconds): signing at the release would put it within 1 s of it.
    expect(arrival?.signedAt).toBeLessThanOrEqual(calledAt + 1_000);
    expect(releasedAt - (arrival?.signedAt ?? 0)).toBeGreaterThan(1_100);
    expect(JSON.parse(arrival?.body ?? '{}')).toEqual(tick);
  });

  it('sends nothing when the hold withholds the request (a tick too late to go out)', async () => {
    // prepare
    const lambda = createLambdaClient(localClientOptions(endpoint));
    const arrivalsBefore = arrivals.length;
    const tick = { pollerId: 'p', seq: 4, scheduledAt: new Date().toISOString() };

    // act
    const sent = await fireWorker(lambda, 'worker', tick, async () => false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    lambda.destroy();

    // assess
    expect(sent).toBe('withheld');
    expect(arrivals).toHaveLength(arrivalsBefore);
  });
});
