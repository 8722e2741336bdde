import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIELD } from '../../functions/shared/contract';
import { type Harness, scheduleGaps, startHarness } from '../support/local-stack-harness';

/**
 * The overlap policy on the local stack: the example worker GETs `payload.url`, here a local server that answers
 * after 1.5 s, so every fire of a 1 s poller runs into the next tick. `skip` invokes the worker synchronously and
 * holds a tick back while the previous call has not answered; `allow` fires every tick asynchronously.
 */
const WORKER_RUN_MS = 1_500;

let slowServer: Server;
let slowUrl: string;

beforeAll(async () => {
  slowServer = createServer((_request, response) => {
    setTimeout(() => response.writeHead(200).end('ok'), WORKER_RUN_MS);
  });
  await new Promise<void>((resolve) => slowServer.listen(0, '127.0.0.1', resolve));
  slowUrl = `http://127.0.0.1:${(slowServer.address() as AddressInfo).port}/slow`;
});

afterAll(async () => {
  slowServer.closeAllConnections();
  await new Promise<void>((resolve) => slowServer.close(() => resolve()));
});

describe('the overlap policy on the local stack', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  const start = (overlap: 'allow' | 'skip') =>
    startHarness({
      fleet: {
        source: 'overlap.yaml',
        pollers: [
          { id: 'slow', fields: { running: true, waitSeconds: 1, payload: { url: slowUrl }, overlap } },
        ],
      },
    });

  it('skip fires every other tick of a 1 s poller whose worker takes 1.5 s, seqs consecutive', async () => {
    // prepare
    harness = await start('skip');

    // act
    const fires = await harness.waitForFires(5, 11_000, 'slow');

    // assess: the first fire meets a cold worker sandbox (its start-up adds to its run); the ones after do not
    const warm = fires.slice(1, 5);
    expect(fires.slice(0, 5).map((fire) => fire.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(scheduleGaps(warm)).toEqual([2_000, 2_000, 2_000]);
  });

  it('records the skips and the last finished fire on the item', async () => {
    // prepare: a controller that hands back often, so its hand-back writes carry the counts soon
    harness = await startHarness({
      controllerTimeoutMs: 7_000,
      fleet: {
        source: 'overlap.yaml',
        pollers: [
          {
            id: 'slow',
            fields: { running: true, waitSeconds: 1, payload: { url: slowUrl }, overlap: 'skip' },
          },
        ],
      },
    });

    // act
    await harness.waitForFires(4, 9_000, 'slow');
    const deadline = Date.now() + 15_000;
    let item = await harness.readItem('slow');
    // The counts ride on writes the loop makes anyway: the skips and the answers can reach the item on different ones.
    const recorded = () =>
      [FIELD.overlapSkips, FIELD.lastFireMs, FIELD.lastFinishedSeq].every(
        (field) => item?.[field] !== undefined,
      );
    while (!recorded() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      item = await harness.readItem('slow');
    }

    // assess
    expect(Number(item?.[FIELD.overlapSkips]?.N)).toBeGreaterThanOrEqual(1);
    expect(Number(item?.[FIELD.lastFireMs]?.N)).toBeGreaterThanOrEqual(WORKER_RUN_MS);
    expect(Number(item?.[FIELD.lastFinishedSeq]?.N)).toBeGreaterThanOrEqual(1);
    expect(item?.[FIELD.failedFires]).toBeUndefined();
  });

  it('allow fires every tick of the same poller, the fires overlapping', async () => {
    // prepare
    harness = await start('allow');

    // act
    const fires = await harness.waitForFires(4, 6_000, 'slow');

    // assess
    expect(scheduleGaps(fires.slice(0, 4))).toEqual([1_000, 1_000, 1_000]);
    expect((await harness.readItem('slow'))?.[FIELD.overlapSkips]).toBeUndefined();
  });
});
