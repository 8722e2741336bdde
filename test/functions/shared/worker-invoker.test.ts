import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { WorkerInvokeError } from '../../../functions/shared/errors';
import { InvokeApi } from '../../../functions/shared/lambda-invoke-api';
import { fireWorker } from '../../../functions/shared/worker-invoker';

/** What the Lambda endpoint saw of each invoke: when it arrived and when the SDK signed it. */
interface Arrival {
  readonly at: number;
  readonly signedAt: number;
  readonly body: string;
}

/** The endpoint answers 500 to the tick with this seq. */
const FAILING_SEQ = 99;
const FAILING_SEQ_MARK = `"seq":${FAILING_SEQ},`;

describe('fireWorker', () => {
  let server: Server;
  let endpoint: string;
  const arrivals: Arrival[] = [];
  /** When each TCP connection to the endpoint was accepted. */
  const connections: number[] = [];

  beforeAll(async () => {
    server = createServer((request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        // Lambda accepts an invoke when the whole request has arrived.
        const at = Date.now();
        // X-Amz-Date is the signing time, to the second: 20261122T213000Z.
        const amzDate = String(request.headers['x-amz-date'] ?? '');
        const signedAt = Date.parse(
          amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'),
        );
        const body = Buffer.concat(chunks).toString('utf8');
        arrivals.push({ at, signedAt, body });
        if (body.includes(FAILING_SEQ_MARK)) {
          response
            .writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'ServiceException' })
            .end(JSON.stringify({ Type: 'Service', message: 'Lambda is having a bad day' }));
          return;
        }
        response.writeHead(202).end();
      });
    });
    server.on('connection', () => connections.push(Date.now()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('signs the invoke at once and sends it only when released (the tick), with the tick as payload', async () => {
    // prepare: a hold of 2.2 s, so the signing time (whole seconds) is visibly before the release
    const api = new InvokeApi(createLambdaClient(localClientOptions(endpoint)));
    const calledAt = Date.now();
    let releasedAt = 0;
    const tick = { pollerId: 'p', seq: 3, scheduledAt: new Date(calledAt + 2_200).toISOString() };

    // act
    const sent = await fireWorker(api, 'worker', tick, {
      openAt: async () => {},
      releaseAt: async () => {
        await new Promise((resolve) => setTimeout(resolve, 2_200));
        releasedAt = Date.now();
        return true;
      },
    });
    api.destroy();

    // assess
    expect(sent).toBe('sent');
    const arrival = arrivals.at(-1);
    expect(arrival?.at).toBeGreaterThanOrEqual(releasedAt);
    // Signed when called (X-Amz-Date has whole seconds): signing at the release would put it within 1 s of it.
    expect(arrival?.signedAt).toBeLessThanOrEqual(calledAt + 1_000);
    expect(releasedAt - (arrival?.signedAt ?? 0)).toBeGreaterThan(1_100);
    expect(JSON.parse(arrival?.body ?? '{}')).toEqual(tick);
  });

  it('opens the request (its connection) at openAt and sends only the body at the release', async () => {
    // prepare: a fresh client (no connection yet), opened at once, released 1 s later
    const api = new InvokeApi(createLambdaClient(localClientOptions(endpoint)));
    const connectionsBefore = connections.length;
    let releasedAt = 0;
    const tick = { pollerId: 'p', seq: 5, scheduledAt: new Date(Date.now() + 1_000).toISOString() };

    // act
    const sent = await fireWorker(api, 'worker', tick, {
      openAt: async () => {},
      releaseAt: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        releasedAt = Date.now();
        return true;
      },
    });
    api.destroy();

    // assess: connected well before the release, the request complete only after it
    const connectedAt = connections.slice(connectionsBefore);
    expect(sent).toBe('sent');
    expect(connectedAt).toHaveLength(1);
    expect(connectedAt[0]).toBeLessThan(releasedAt - 500);
    expect(arrivals.at(-1)?.at).toBeGreaterThanOrEqual(releasedAt);
    expect(JSON.parse(arrivals.at(-1)?.body ?? '{}')).toEqual(tick);
  });

  it('reports a tick whose retry is withheld after a failed attempt as not delivered, with that failure', async () => {
    // prepare: the first attempt goes out and gets a 500; the retry comes too late and is withheld
    const api = new InvokeApi(createLambdaClient(localClientOptions(endpoint)));
    const arrivalsBefore = arrivals.length;
    let releases = 0;
    const tick = { pollerId: 'p', seq: FAILING_SEQ, scheduledAt: new Date().toISOString() };

    // act
    const outcome = await fireWorker(api, 'worker', tick, {
      openAt: async () => {},
      releaseAt: async () => ++releases === 1,
    }).catch((error: unknown) => error);
    api.destroy();

    // assess
    expect(releases).toBe(2);
    expect(arrivals).toHaveLength(arrivalsBefore + 1);
    expect(outcome).toBeInstanceOf(WorkerInvokeError);
    expect(String((outcome as Error).message)).toContain('ServiceException');
  });

  it('opens no request for a retry it withholds: the kept-alive connection serves the next tick', async () => {
    // prepare: the first attempt gets a 500 on a fresh connection; the retry comes too late
    const api = new InvokeApi(createLambdaClient(localClientOptions(endpoint)));
    const connectionsBefore = connections.length;
    let releases = 0;
    const failing = { pollerId: 'p', seq: FAILING_SEQ, scheduledAt: new Date().toISOString() };
    await fireWorker(api, 'worker', failing, {
      openAt: async () => {},
      releaseAt: async () => ++releases === 1,
    }).catch(() => 'failed');

    // act: the next tick
    const sent = await fireWorker(api, 'worker', {
      pollerId: 'p',
      seq: 6,
      scheduledAt: new Date().toISOString(),
    });
    api.destroy();

    // assess: both went over the one connection (a retry opened and abandoned would have closed it)
    expect(sent).toBe('sent');
    expect(connections.length - connectionsBefore).toBe(1);
  });

  it('sends nothing when the hold withholds the request (a tick too late to go out)', async () => {
    // prepare
    const api = new InvokeApi(createLambdaClient(localClientOptions(endpoint)));
    const arrivalsBefore = arrivals.length;
    const tick = { pollerId: 'p', seq: 4, scheduledAt: new Date().toISOString() };

    // act
    const sent = await fireWorker(api, 'worker', tick, {
      openAt: async () => {},
      releaseAt: async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return false;
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    api.destroy();

    // assess
    expect(sent).toBe('withheld');
    expect(arrivals).toHaveLength(arrivalsBefore);
  });
});
