import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { localClientOptions } from '../../functions/shared/aws-clients';
import { isRecord } from '../../functions/shared/decode';
import { createSqsClient } from '../../scripts/ctl/sqs-client';
import { loadWorkerRetryPolicy } from '../../scripts/local-stack/failed-ticks-destination';
import { LOCAL_WORKER_NAME } from '../../scripts/local-stack/local-endpoints';
import type { InvocationStart } from '../../scripts/local-stack/local-functions';
import { freePortPair, runCli } from '../scripts/ctl/cli-runner';
import { ctl } from '../scripts/ctl/ctl-harness';
import { type Harness, startHarness, WAIT_PATIENCE } from '../support/local-stack-harness';

/**
 * A worker that fails, end to end on the local stack: the worker's sandbox is killed while it fetches a feed that
 * hangs (a worker process dying mid-tick), Lambda's retries (the CDK stack's WORKER_ASYNC_RETRY) fail the same
 * way, and the tick lands in the failed-ticks queue as Lambda's invocation record. The real CLI, as its own
 * process (`npm run ctl -- … --local --port N`), lists it without deleting it, refuses to replay several without
 * --yes, and with --yes fires each tick again (the worker now healthy) and empties the queue.
 */
const POLLER = 'flaky';
/** The feed hangs longer than the kill comes: every attempt dies mid-fetch while the feed is down. */
const KILL_AFTER_MS = 300;

let feed: Server;
let feedUrl: string;
let feedDown = true;

beforeAll(async () => {
  feed = createServer((_request, response) => {
    if (!feedDown) response.writeHead(200).end('ok');
    // Down: never answers (the worker's own 5 s fetch timeout is longer than the kill).
  });
  await new Promise<void>((resolve) => feed.listen(0, '127.0.0.1', resolve));
  feedUrl = `http://127.0.0.1:${(feed.address() as AddressInfo).port}/feed`;
});

afterAll(async () => {
  feed.closeAllConnections();
  await new Promise<void>((resolve) => feed.close(() => resolve()));
});

describe('failed ticks on the local stack', () => {
  let harness: Harness | undefined;
  let sqs: SQSClient | undefined;
  afterEach(async () => {
    sqs?.destroy();
    await harness?.stack.stop();
    harness = undefined;
  });

  it('land in the queue after the worker’s retries; ctl failed lists them, and replay --yes fires them again and empties it', async () => {
    // prepare: a 2 s poller whose worker dies on every attempt, retries 50 ms apart instead of Lambda's minutes
    const workerStarts: InvocationStart[] = [];
    const port = await freePortPair();
    const cli = (...args: string[]) => runCli([...args, '--local', '--port', String(port)]);
    harness = await startHarness({
      port,
      asyncRetryDelayMs: () => 50,
      onInvocationStart: (start) => {
        if (start.functionName === LOCAL_WORKER_NAME) workerStarts.push(start);
      },
      fleet: {
        source: 'failed-ticks.yaml',
        pollers: [{ id: POLLER, fields: { running: true, waitSeconds: 2, payload: { url: feedUrl } } }],
      },
    });
    const stack = harness.stack;
    const disarm = stack.functions.killAsyncInvocations(
      LOCAL_WORKER_NAME,
      KILL_AFTER_MS,
      (event) => isRecord(event) && event.pollerId === POLLER,
    );
    const client = createSqsClient(localClientOptions(stack.servicesEndpoint, 1));
    sqs = client;
    const policy = await loadWorkerRetryPolicy();
    const depth = async () => {
      const { Attributes = {} } = await client.send(
        new GetQueueAttributesCommand({
          QueueUrl: stack.failedTicksQueueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        Number(Attributes.ApproximateNumberOfMessages) +
        Number(Attributes.ApproximateNumberOfMessagesNotVisible)
      );
    };
    const firedSeqs = () => [...new Set(harness?.fires(POLLER).map((fire) => fire.seq))];
    const eventually = async (what: string, holds: () => Promise<boolean>, timeoutMs: number) => {
      const giveUpAt = Date.now() + timeoutMs * WAIT_PATIENCE;
      while (!(await holds())) {
        if (Date.now() > giveUpAt) throw new Error(`${what}: not within ${timeoutMs * WAIT_PATIENCE} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };

    // act 1: two ticks fail for good; then the poller is stopped and the feed is healthy again
    await eventually('two failed ticks in the queue', async () => (await depth()) >= 2, 12_000);
    expect((await ctl(['stop', POLLER, '--local'], stack)).exitCode).toBe(0);
    await harness.waitFor((event) => event.event === 'stopped' && event.poller === POLLER, 6_000);
    // Every tick fired (each seq) ends in the queue once its last attempt has died.
    await eventually(
      'every fired tick in the queue',
      async () => (await depth()) === firedSeqs().length,
      6_000,
    );
    disarm();
    feedDown = false;
    const seqs = firedSeqs().sort((a, b) => a - b);
    const attemptsPerTick = new Map<number, number>();
    for (const start of workerStarts) {
      const seq = isRecord(start.event) ? Number(start.event.seq) : Number.NaN;
      attemptsPerTick.set(seq, (attemptsPerTick.get(seq) ?? 0) + 1);
    }

    const listed = await cli('failed', 'list', '--json');
    const listedText = await cli('failed', 'list');
    const refused = await cli('failed', 'replay');
    const depthAfterRefusal = await depth();
    const startsBeforeReplay = workerStarts.length;
    const replayed = await cli('failed', 'replay', '--poller', POLLER, '--yes');
    await eventually(
      'the replayed ticks reach the worker',
      async () => workerStarts.length >= startsBeforeReplay + seqs.length,
      3_000,
    );

    // assess: each tick was tried 1 + retryAttempts times, as the CDK stack configures the worker
    expect(seqs.length).toBeGreaterThanOrEqual(2);
    expect(seqs.map((seq) => attemptsPerTick.get(seq))).toEqual(seqs.map(() => 1 + policy.retryAttempts));
    // list: one decoded entry per failed tick, and the messages are all still there
    expect(listed.exitCode, listed.stderr).toBe(0);
    const entries = JSON.parse(listed.stdout) as unknown[];
    expect(entries).toHaveLength(seqs.length);
    for (const seq of seqs) {
      expect(entries).toContainEqual(
        expect.objectContaining({
          kind: 'tick',
          tick: expect.objectContaining({ pollerId: POLLER, seq, payload: { url: feedUrl } }),
          condition: 'RetriesExhausted',
          attempts: 1 + policy.retryAttempts,
          error: expect.stringMatching(/^Runtime\.ExitError: /),
          functionArn: expect.stringMatching(new RegExp(`:function:${LOCAL_WORKER_NAME}:\\$LATEST$`)),
        }),
      );
    }
    expect(listedText.stdout.split('\n').filter((line) => / tick +flaky /.test(line))).toHaveLength(
      seqs.length,
    );
    // replay without --yes: refused, nothing touched
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(`^ctl: ${seqs.length} failed ticks would be fired again \\(all pollers\\).*--yes`),
    );
    expect(depthAfterRefusal).toBe(seqs.length);
    // replay --yes: every tick fired again with its original event and replayOf, and the queue is empty
    expect(replayed.exitCode, replayed.stderr).toBe(0);
    expect(replayed.stdout).toMatch(
      new RegExp(`replayed ${seqs.length} of ${seqs.length} failed ticks for poller '${POLLER}'\n$`),
    );
    const replays = workerStarts.slice(startsBeforeReplay).map((start) => start.event);
    expect(replays).toHaveLength(seqs.length);
    for (const seq of seqs) {
      expect(replays).toContainEqual(
        expect.objectContaining({
          pollerId: POLLER,
          seq,
          payload: { url: feedUrl },
          replayOf: expect.any(String),
        }),
      );
    }
    expect(await depth()).toBe(0);
  });
});
