import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELD } from '../../functions/shared/contract';
import { LOCAL_WORKER_NAME } from '../../scripts/local-stack/local-endpoints';
import type { LocalStackEvent } from '../../scripts/local-stack/local-stack';
import { ctl } from '../scripts/ctl/ctl-harness';
import { type Harness, startHarness } from '../support/local-stack-harness';

/**
 * Tick outcomes end to end on the local stack: the stack's own worker bundle, in its sandbox, fetches `payload.url`
 * from a server of this test (or a port nobody listens on); what it did reaches the screen's events, the item (read
 * by the real CLI), and its EMF line on the sandbox's stdout.
 */
type OutcomeEvent = Extract<LocalStackEvent, { event: 'outcome' }>;

const SLOW_404_MS = 1_500;

let feed: Server;
let feedUrl: string;
let refusedUrl: string;
let harness: Harness;
const workerLines: string[] = [];

beforeAll(async () => {
  feed = createServer((request, response) => {
    if (request.url === '/missing') response.writeHead(404).end('no');
    else if (request.url === '/slow-missing')
      setTimeout(() => response.writeHead(404).end('no'), SLOW_404_MS);
    else response.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => feed.listen(0, '127.0.0.1', resolve));
  feedUrl = `http://127.0.0.1:${(feed.address() as AddressInfo).port}`;
  // A port that was just free: nobody listens on it, so a connection is refused.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  refusedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/feed`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));

  harness = await startHarness({
    fleet: {
      source: 'outcomes.yaml',
      pollers: [{ id: 'feed', fields: { running: true, waitSeconds: 1, payload: { url: refusedUrl } } }],
    },
    sandboxLog: ({ functionName, line }) => {
      if (functionName === LOCAL_WORKER_NAME) workerLines.push(line);
    },
  });
}, 60_000);

afterAll(async () => {
  await harness?.stack.stop();
  feed?.closeAllConnections();
  await new Promise<void>((resolve) => feed?.close(() => resolve()));
});

const isOutcome = (event: LocalStackEvent): event is OutcomeEvent => event.event === 'outcome';

const outcomeWhere = (predicate: (outcome: OutcomeEvent) => boolean, timeoutMs: number) =>
  harness.waitFor((event): event is OutcomeEvent => isOutcome(event) && predicate(event), timeoutMs);

const usePayloadUrl = (url: string) =>
  harness.setFields({ [FIELD.payload]: { M: { url: { S: url } } } }, 'feed');

async function statusJson(): Promise<Record<string, unknown>> {
  const run = await ctl(['status', 'feed', '--local', '--json'], harness.stack);
  expect(run.stderr).toEqual([]);
  return JSON.parse(run.stdout.join('\n')) as Record<string, unknown>;
}

describe('tick outcomes on the local stack', () => {
  it('shows a refused connection as a failed tick on the screen, in ctl status and as an EMF line', async () => {
    // act
    const failed = await outcomeWhere((outcome) => outcome.result === 'failed', 10_000);

    // assess: the screen's event says what failed, next to the fire of the same seq
    expect(failed.detail).toMatch(/^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    expect(harness.fires('feed').map((fire) => fire.seq)).toContain(failed.seq);
    // said once, with its fire: not again as an error of the worker function
    expect(harness.events.filter((event) => event.event === 'error')).toEqual([]);
    // the item, read by the real CLI
    const status = await statusJson();
    expect(status.failedTicks).toBeGreaterThanOrEqual(1);
    expect(status.lastResult).toMatchObject({
      result: 'failed',
      detail: expect.stringMatching(/ECONNREFUSED/),
    });
    const text = (await ctl(['status', 'feed', '--local'], harness.stack)).stdout.join('\n');
    expect(text).toMatch(/^lastResult +failed: connect ECONNREFUSED/m);
    // the worker's metric line
    const metric = workerLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.TickFailed === 1 && line.seq === failed.seq);
    expect(metric).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'SubMinuteLambdaExecutor', Dimensions: [['ControlTable']] }] },
      ControlTable: harness.stack.tableName,
      pollerId: 'feed',
      result: 'failed',
      detail: failed.detail,
    });
  }, 60_000);

  it('shows a 404 as a failed tick "HTTP 404", then records the first success after the failures', async () => {
    // act
    await usePayloadUrl(`${feedUrl}/missing`);
    const notFound = await outcomeWhere((outcome) => outcome.detail === 'HTTP 404', 10_000);
    await usePayloadUrl(`${feedUrl}/ok`);
    const ok = await outcomeWhere((outcome) => outcome.result === 'ok' && outcome.seq > notFound.seq, 10_000);

    // assess
    expect(notFound.result).toBe('failed');
    expect(ok.detail).toBe('HTTP 200');
    const status = await statusJson();
    expect(status.lastResult).toMatchObject({ result: 'ok', seq: ok.seq, detail: 'HTTP 200' });
    const history = await ctl(['history', 'feed', '--local', '--json'], harness.stack);
    const recorded = (
      JSON.parse(history.stdout.join('\n')) as { outcomes: { seq: number; result: string }[] }
    ).outcomes;
    expect(recorded[0]).toMatchObject({ seq: ok.seq, result: 'ok' });
    expect(recorded.map((outcome) => outcome.seq)).toContain(notFound.seq);
  }, 60_000);

  it('does not re-create a deleted item when a worker reports after the delete', async () => {
    // prepare: a worker that is still fetching when the poller is deleted (two ticks after the switch, the loop
    // has read the new url; the fetch answers 1.5 s later)
    const seqAtSwitch = Math.max(0, ...harness.fires('feed').map((fire) => fire.seq));
    await usePayloadUrl(`${feedUrl}/slow-missing`);
    const [slowFire] = (await harness.waitForFires(seqAtSwitch + 2, 10_000, 'feed')).filter(
      (fire) => fire.seq === seqAtSwitch + 2,
    );
    const seq = slowFire?.seq ?? -1;

    // act
    const deleted = await ctl(['delete', 'feed', '--yes', '--local'], harness.stack);
    const late = await outcomeWhere((outcome) => outcome.seq === seq, 10_000);

    // assess
    expect(deleted.exitCode).toBe(0);
    expect(late).toMatchObject({ result: 'failed', detail: 'HTTP 404' });
    expect(await harness.readItem('feed')).toBeUndefined();
  }, 60_000);
});
