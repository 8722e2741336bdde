import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION } from '../../../functions/shared/aws-clients';
import { runCtl } from '../../../scripts/ctl/run';
import { localTarget } from '../../../scripts/ctl/target';
import { asyncFailureRecord, streamBatchFailureRecord } from '../../../scripts/local-stack/failure-records';
import {
  LOCAL_FAILED_TICKS_QUEUE_NAME,
  localFunctionArn,
} from '../../../scripts/local-stack/local-endpoints';
import { LocalFunctions } from '../../../scripts/local-stack/local-functions';
import { LocalQueues } from '../../../scripts/local-stack/local-queues';
import { LocalServicesServer } from '../../../scripts/local-stack/local-services-server';

/**
 * `ctl failed` against the local Lambda and SQS endpoints (the real SDK clients underneath): what it leaves in the
 * queue, what it deletes, and what it fires. The queue is filled with the records Lambda would send.
 */
const WORKER = 'worker';
let server: LocalServicesServer;
let servicesEndpoint: string;
const fired: unknown[] = [];
/** The queue's clock runs this far ahead of real time: a test moves it to make holds run out mid-run. */
let queueClockAheadMs = 0;

beforeAll(async () => {
  const functions = new LocalFunctions();
  functions.register(WORKER, async (event) => {
    fired.push(event);
    return { ok: true };
  });
  server = new LocalServicesServer(
    functions,
    () => {
      throw new Error('no Step Functions here');
    },
    () => {},
    new LocalQueues(() => Date.now() + queueClockAheadMs),
  );
  servicesEndpoint = `http://127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
});

afterEach(() => {
  server.injectFault = () => undefined;
  // Each test starts from an empty queue: every hold a test left is made to run out, then everything deleted.
  queueClockAheadMs = 13 * 3_600_000;
  server.queues.create(LOCAL_FAILED_TICKS_QUEUE_NAME);
  const held = server.queues.receive(LOCAL_FAILED_TICKS_QUEUE_NAME, 10, 0);
  for (const message of held) server.queues.delete(LOCAL_FAILED_TICKS_QUEUE_NAME, message.receiptHandle);
  queueClockAheadMs = 0;
  fired.length = 0;
});

afterAll(async () => {
  await server.close();
});

async function run(...argv: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exitCode = await runCtl([...argv, '--local'], {
    stdout: (text) => stdout.push(text),
    stderr: (text) => stderr.push(text),
    // Nothing listens for DynamoDB: `failed` never reads the table.
    resolveTarget: async () => localTarget({ dynamoDbEndpoint: 'http://127.0.0.1:9', servicesEndpoint }),
  });
  return { exitCode, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

function failTick(pollerId: string, seq: number, functionName = WORKER): void {
  server.queues.create(LOCAL_FAILED_TICKS_QUEUE_NAME);
  const record = asyncFailureRecord({
    requestId: randomUUID(),
    functionArn: localFunctionArn(functionName, LOCAL_REGION),
    event: {
      pollerId,
      seq,
      scheduledAt: '2030-01-01T00:00:00.000Z',
      payload: { url: 'https://feed.example' },
    },
    error: { errorType: 'FeedDownError', errorMessage: 'feed answered 503' },
    attempts: 3,
    condition: 'RetriesExhausted',
    atMs: Date.parse('2030-01-01T00:03:00.000Z'),
  });
  server.queues.send(LOCAL_FAILED_TICKS_QUEUE_NAME, JSON.stringify(record));
}

function failStart(): void {
  server.queues.create(LOCAL_FAILED_TICKS_QUEUE_NAME);
  const record = streamBatchFailureRecord({
    functionArn: localFunctionArn('control-plane', LOCAL_REGION),
    streamArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/control/stream/2030-01-01T00:00:00.000',
    shardId: 'shardId-1',
    sequenceNumbers: ['100'],
    attempts: 4,
    atMs: Date.parse('2030-01-01T00:03:00.000Z'),
  });
  server.queues.send(LOCAL_FAILED_TICKS_QUEUE_NAME, JSON.stringify(record));
}

const depth = () => server.queues.depth(LOCAL_FAILED_TICKS_QUEUE_NAME);

describe('ctl failed on the local endpoints', () => {
  it('list shows every message and leaves each visible in the queue', async () => {
    failTick('feed', 1);
    failTick('feed', 2);
    failStart();

    const listed = await run('failed', 'list', '--json');

    expect(listed.exitCode).toBe(0);
    expect((JSON.parse(listed.stdout) as { kind: string }[]).map((entry) => entry.kind).sort()).toEqual([
      'stream-batch',
      'tick',
      'tick',
    ]);
    expect(depth()).toEqual({ visible: 3, inFlight: 0 });
  });

  it('replay --poller fires only that poller’s tick, with replayOf, deletes it and releases the rest', async () => {
    failTick('feed', 1);
    failTick('other', 9);
    failStart();

    const replayed = await run('failed', 'replay', '--poller', 'feed');

    expect(replayed.exitCode).toBe(0);
    expect(replayed.stdout).toMatch(
      /^replayed {2}poller 'feed' seq 1 → worker \(accepted; message deleted\)$/m,
    );
    expect(replayed.stdout).toMatch(/2 messages left in the queue/);
    await expect.poll(() => fired.length).toBe(1);
    expect(fired[0]).toEqual({
      pollerId: 'feed',
      seq: 1,
      scheduledAt: '2030-01-01T00:00:00.000Z',
      payload: { url: 'https://feed.example' },
      replayOf: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(depth()).toEqual({ visible: 2, inFlight: 0 });
  });

  it('keeps the message of a tick Lambda would not accept, says why and exits 1', async () => {
    failTick('feed', 5, 'deleted-function');

    const replayed = await run('failed', 'replay');

    expect(replayed.exitCode).toBe(1);
    expect(replayed.stdout).toMatch(
      /^failed {4}poller 'feed' seq 5 → deleted-function: .*Function not found.* \(message kept\)$/m,
    );
    expect(depth()).toEqual({ visible: 1, inFlight: 0 });
  });

  it('refuses to replay more than one tick without --yes, releasing them all', async () => {
    failTick('feed', 1);
    failTick('feed', 2);

    const refused = await run('failed', 'replay', '--poller', 'feed');

    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/^ctl: 2 failed ticks would be fired again for poller 'feed'; .*--yes/);
    expect(fired).toEqual([]);
    expect(depth()).toEqual({ visible: 2, inFlight: 0 });
  });

  it('keeps replaying after a delete fails, reports that tick as replayed but not deleted, keeps it held, exits 1', async () => {
    failTick('feed', 1);
    failTick('feed', 2);
    let deletes = 0;
    server.injectFault = (service, target) => {
      if (service !== 'sqs' || target !== 'DeleteMessage') return undefined;
      deletes += 1;
      return deletes === 1
        ? { status: 400, errorType: 'AccessDenied', message: 'not authorized to perform sqs:DeleteMessage' }
        : undefined;
    };

    const replayed = await run('failed', 'replay', '--poller', 'feed', '--yes');

    expect(replayed.exitCode).toBe(1);
    expect(replayed.stdout).toMatch(
      /^replayed {2}poller 'feed' seq 1 → worker \(accepted\) but not deleted: deleting message \S+ failed: .*AccessDenied.*\(message kept: a later replay fires it again\)$/m,
    );
    expect(replayed.stdout).toMatch(
      /^replayed {2}poller 'feed' seq 2 → worker \(accepted; message deleted\)$/m,
    );
    expect(replayed.stdout).toMatch(
      /^replayed 2 of 2 failed ticks for poller 'feed'; 1 replayed, not deleted$/m,
    );
    await expect.poll(() => fired.length).toBe(2);
    // Not released: a replay right after this one does not fire seq 1 a second time.
    expect(depth()).toEqual({ visible: 0, inFlight: 1 });
    const again = await run('failed', 'replay', '--poller', 'feed');
    expect(again.stdout).toMatch(/^no failed ticks to replay for poller 'feed'/);
    expect(fired).toHaveLength(2);
  });

  it('fires no tick whose hold ran out during a long run, and still releases the rest', async () => {
    failTick('feed', 1);
    failTick('feed', 2);
    // The first invoke takes longer than the read hold (300 s), as a throttled one retried by the SDK could.
    server.injectFault = (service) => {
      if (service === 'lambda') queueClockAheadMs += 301_000;
      return undefined;
    };

    const replayed = await run('failed', 'replay', '--poller', 'feed', '--yes');

    expect(replayed.exitCode).toBe(1);
    expect(replayed.stderr).toBe('');
    expect(replayed.stdout).toMatch(
      /^replayed {2}poller 'feed' seq 1 → worker \(accepted; message deleted\)$/m,
    );
    expect(replayed.stdout).toMatch(
      /^failed {4}poller 'feed' seq 2 → worker: not fired: its hold on the queue ran out before its turn.* \(message kept\)$/m,
    );
    await expect.poll(() => fired.length).toBe(1);
    expect(fired[0]).toMatchObject({ pollerId: 'feed', seq: 1 });
    // Visible again for the next run (its hold ran out); the release did not fail on it.
    expect(depth()).toEqual({ visible: 1, inFlight: 0 });
  });

  it('list releases messages whose hold ran out without failing', async () => {
    failTick('feed', 1);
    // The release comes after the list's 60 s hold is over (a slow terminal, a stalled connection).
    server.injectFault = (service, target) => {
      if (service === 'sqs' && target === 'ChangeMessageVisibility') queueClockAheadMs += 61_000;
      return undefined;
    };

    const listed = await run('failed', 'list', '--json');

    expect(listed.stderr).toBe('');
    expect(listed.exitCode).toBe(0);
    expect(depth()).toEqual({ visible: 1, inFlight: 0 });
  });
});
