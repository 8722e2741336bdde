import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLoopState } from '../../../functions/controller/parse-input';
import {
  runShardRound,
  type ShardControllerDeps,
  type ShardOutput,
} from '../../../functions/controller/run-shard-round';
import type { LeaseTiming } from '../../../functions/fleet/shard-lease';
import { type ShardMemberRead, type ShardStore, shardItemKey } from '../../../functions/fleet/shard-store';
import { ShardTable } from '../../../functions/fleet/shard-table';
import { DEFAULT_TIMING, type Timing } from '../../../functions/scheduling/plan-round';
import { createLambdaClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { systemClock } from '../../../functions/shared/clock';
import { FIELD, STOP_REASON, type WorkerEvent } from '../../../functions/shared/contract';
import type { RawItem } from '../../../functions/shared/control-item';
import {
  ControlTableUnavailableError,
  HandOverRequestedSignal,
  PollerStoppedSignal,
} from '../../../functions/shared/errors';
import { silentLogger } from '../../../functions/shared/logger';
import { LambdaWorkerInvoker } from '../../../functions/shared/worker-invoker';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';

/**
 * The shard controller end to end on real parts: ShardTable on dynalite (the local stack's table, with its
 * shard-index), LambdaWorkerInvoker on a local stand-in for the Lambda Invoke API, the system clock (several
 * executions run at once here, each on its own timers). Every fire is recorded as the stand-in received it, with
 * the worker endpoint (one per execution) that received it, so "fired twice" is seen where Lambda would see it.
 */
const TABLE_NAME = 'control';
/** Short rounds: hand back 200 ms before the deadline. */
const TIMING: Timing = { ...DEFAULT_TIMING, handBackMarginMs: 200 };
/** A short lease, so a takeover and a move happen within a test: renewed every 0.7 s, 2 s ahead. */
const LEASE: LeaseTiming = { durationMs: 2_000, renewEveryMs: 700, guardMs: 250 };

interface Received {
  readonly event: WorkerEvent;
  readonly receivedAt: number;
  /** The execution whose invoker sent it. */
  readonly by: string;
}

let dynamo: LocalDynamoDb;
let store: ShardTable;
const servers: Server[] = [];
const invokers: LambdaWorkerInvoker[] = [];
const received: Received[] = [];

beforeAll(async () => {
  dynamo = await startLocalDynamoDb({ controlTable: TABLE_NAME });
  store = new ShardTable(dynamo.client, TABLE_NAME);
});

afterAll(async () => {
  for (const invoker of invokers) invoker.destroy();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await dynamo?.close();
});

/** A Lambda Invoke stand-in whose receipts are tagged `by`. */
async function workerFor(by: string): Promise<LambdaWorkerInvoker> {
  const answer = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const type = request.headers['x-amz-invocation-type'];
    if (request.url?.includes('missing-worker')) {
      response.writeHead(404, { 'x-amzn-errortype': 'ResourceNotFoundException' });
      return void response.end(
        JSON.stringify({ Type: 'User', message: 'Function not found: missing-worker' }),
      );
    }
    if (type === 'DryRun') return void response.writeHead(204).end();
    const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WorkerEvent;
    received.push({ event, receivedAt: Date.now(), by });
    if (type === 'Event') return void response.writeHead(202).end();
    // A synchronous fire (overlap `skip`) answers when the worker is done: after `runMs` of the payload, if any.
    const runMs = Number(event.payload?.runMs ?? 0);
    setTimeout(() => response.writeHead(200).end('null'), runMs);
  };
  const server = createServer((request, response) => {
    answer(request, response).catch((error: unknown) => response.writeHead(500).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  servers.push(server);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const invoker = new LambdaWorkerInvoker(createLambdaClient(localClientOptions(url, 1)));
  invokers.push(invoker);
  return invoker;
}

function deps(
  invoker: LambdaWorkerInvoker,
  overrides: Partial<ShardControllerDeps> = {},
): ShardControllerDeps {
  return {
    store,
    invoker,
    defaultTarget: 'worker',
    clock: systemClock,
    log: silentLogger,
    timing: TIMING,
    leaseTiming: LEASE,
    ...overrides,
  };
}

/** One round of execution `executionId` of shard `shard`, handing back by `forMs` from now. */
function round(
  shard: string,
  executionId: string,
  forMs: number,
  depsOf: ShardControllerDeps,
  previous?: ShardOutput,
): Promise<ShardOutput> {
  const deadlineMs = Date.now() + forMs;
  return runShardRound(
    { state: previous ?? { pollerId: shardItemKey(shard) }, executionId },
    depsOf,
    () => deadlineMs,
  );
}

async function putPoller(pollerId: string, shard: string, waitSeconds: string, extra: RawItem = {}) {
  await dynamo.client.send(
    new PutItemCommand({
      TableName: TABLE_NAME,
      Item: {
        [FIELD.id]: { S: pollerId },
        [FIELD.running]: { BOOL: true },
        [FIELD.waitSeconds]: { N: waitSeconds },
        [FIELD.shard]: { S: shard },
        ...extra,
      },
    }),
  );
}

async function setFields(pollerId: string, fields: Record<string, RawItem[string]>): Promise<void> {
  const names = Object.keys(fields);
  await dynamo.client.send(
    new UpdateItemCommand({
      TableName: TABLE_NAME,
      Key: { [FIELD.id]: { S: pollerId } },
      UpdateExpression: `SET ${names.map((_, i) => `#f${i} = :v${i}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(names.map((name, i) => [`#f${i}`, name])),
      ExpressionAttributeValues: Object.fromEntries(
        names.map((name, i) => [`:v${i}`, fields[name] as RawItem[string]]),
      ),
    }),
  );
}

async function raw(id: string): Promise<RawItem | undefined> {
  const result = await dynamo.client.send(
    new GetItemCommand({ TableName: TABLE_NAME, Key: { [FIELD.id]: { S: id } }, ConsistentRead: true }),
  );
  return result.Item;
}

const firesOf = (pollerId: string) => received.filter((fire) => fire.event.pollerId === pollerId);
const seqsOf = (pollerId: string) => firesOf(pollerId).map((fire) => fire.event.seq);
const dueOf = (fire: Received) => Date.parse(fire.event.scheduledAt);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The gaps between consecutive instants. */
const gapsOf = (instants: readonly number[]) =>
  instants.slice(1).map((instant, i) => instant - (instants[i] ?? 0));

/** Seqs strictly rising in the order the worker received them: none twice, none reused, none out of order. */
function expectRisingSeqs(pollerId: string): void {
  const seqs = seqsOf(pollerId);
  expect(seqs, pollerId).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size, pollerId).toBe(seqs.length);
}

describe('runShardRound: 20 pollers at mixed cadences on one shard', () => {
  const cadences = ['0.5', '1', '5'];
  const pollers = Array.from({ length: 20 }, (_, i) => ({
    id: `mix-${i}`,
    waitSeconds: cadences[i % 3] ?? '1',
  }));
  let output: ShardOutput;
  let startedAt: number;
  const metricLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    for (const poller of pollers) await putPoller(poller.id, 's0', poller.waitSeconds);
    startedAt = Date.now();
    const metrics = {
      sink: (line: string) => void metricLines.push(JSON.parse(line) as Record<string, unknown>),
      table: TABLE_NAME,
      perPoller: false,
    };
    output = await round('s0', 'arn:exec:mix', 6_500, deps(await workerFor('mix'), { metrics }));
  }, 20_000);

  it("writes the controller's metrics aggregated for the table, not per poller", () => {
    // assess
    const fired = pollers.reduce((sum, poller) => sum + firesOf(poller.id).length, 0);
    const fires = metricLines.reduce(
      (sum, line) => sum + (typeof line.Fires === 'number' ? line.Fires : 0),
      0,
    );
    expect(fires).toBe(fired);
    expect(metricLines.length).toBeLessThanOrEqual(2 + Math.ceil(fired / 100));
    expect(metricLines.every((line) => line.PollerId === undefined && line.ControlTable === TABLE_NAME)).toBe(
      true,
    );
  });

  it('fires every poller on its grid, on time, in seq order, no seq twice', () => {
    // assess
    for (const poller of pollers) {
      const fires = firesOf(poller.id);
      const intervalMs = Number(poller.waitSeconds) * 1000;
      // First tick 1 s after the start, then every interval until the hand-back (200 ms before 6.5 s).
      expect(fires.length, poller.id).toBeGreaterThanOrEqual(Math.floor(4_500 / intervalMs));
      expectRisingSeqs(poller.id);
      expect(seqsOf(poller.id)).toEqual(fires.map((_, i) => i + 1));
      const dues = fires.map(dueOf);
      expect(new Set(gapsOf(dues)), poller.id).toEqual(new Set(dues.length > 1 ? [intervalMs] : []));
      for (const fire of fires) {
        // Never before its due millisecond; on a loaded test machine, well within the withholding bound.
        expect(fire.receivedAt, poller.id).toBeGreaterThanOrEqual(dueOf(fire));
        expect(fire.receivedAt - dueOf(fire), poller.id).toBeLessThan(intervalMs / 2);
      }
      // Pollers joining together are spread over at most the last half of the first-tick delay (joinOffsetMs).
      expect(dues[0]).toBeGreaterThanOrEqual(startedAt + TIMING.firstTickDelayMs / 2);
      expect(dues[0]).toBeLessThanOrEqual(startedAt + TIMING.firstTickDelayMs + 1_000);
    }
  });

  it('records each poller joining the shard: its grid, the epoch and a claim ahead of every fired seq', async () => {
    // assess
    for (const poller of pollers) {
      const item = await raw(poller.id);
      const loop = parseLoopState(poller.id, JSON.parse(item?.[FIELD.shardLoop]?.S ?? 'null'));
      expect(loop.config.intervalMs).toBe(Number(poller.waitSeconds) * 1000);
      expect(item?.[FIELD.shardEpoch]).toEqual({ N: '1' });
      expect(Number(item?.[FIELD.claimedSeq]?.N)).toBeGreaterThanOrEqual(Math.max(...seqsOf(poller.id)));
    }
  });

  it('hands back with the lease released until the wake-up, and the next round resumes with no seq twice', async () => {
    // assess
    expect(output.pollerId).toBe('~shard/s0');
    expect(output.loop).toMatchObject({ shard: 's0', epoch: 1, executionId: 'arn:exec:mix' });
    const shardItem = await store.readShard('s0');
    expect(shardItem?.lease?.validUntilMs).toBe(output.loop.handedBackAtMs);
    expect(shardItem?.sleepUntilMs).toBe(Date.parse(output.wakeAt));

    // act
    const next = await round('s0', 'arn:exec:mix', 2_500, deps(await workerFor('mix')), output);

    // assess: the released lease ran out, so the later round re-took it at the next epoch (never renewed it).
    expect(next.loop).toMatchObject({ epoch: 2 });
    for (const poller of pollers) expectRisingSeqs(poller.id);
  }, 10_000);
});

describe('runShardRound: PER_POLLER_METRICS', () => {
  it('writes one line per poller with its PollerId dimension when per-poller metrics are on', async () => {
    // arrange
    await putPoller('metered-a', 's11', '0.5');
    await putPoller('metered-b', 's11', '1');
    const lines: Record<string, unknown>[] = [];
    const metrics = {
      sink: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
      table: TABLE_NAME,
      perPoller: true,
    };

    // act
    await round('s11', 'arn:exec:metered', 3_000, deps(await workerFor('metered'), { metrics }));

    // assess
    for (const pollerId of ['metered-a', 'metered-b']) {
      const own = lines.filter((line) => line.PollerId === pollerId);
      const fires = own.reduce((sum, line) => sum + (typeof line.Fires === 'number' ? line.Fires : 0), 0);
      expect(fires, pollerId).toBe(firesOf(pollerId).length);
    }
    expect(lines.every((line) => line.PollerId !== undefined)).toBe(true);
  }, 10_000);
});

describe('runShardRound: operator edits', () => {
  it('applies a cadence edit at the next tick and records the re-anchored grid', async () => {
    // arrange
    await putPoller('edit-cadence', 's1', '1');
    const invoker = await workerFor('edit');
    const running = round('s1', 'arn:exec:edit', 6_000, deps(invoker));
    await sleep(2_600);
    const editedAt = Date.now();
    await setFields('edit-cadence', { [FIELD.waitSeconds]: { N: '0.5' } });

    // act
    await running;

    // assess
    expectRisingSeqs('edit-cadence');
    const dues = firesOf('edit-cadence').map(dueOf);
    const after = dues.filter((due) => due > editedAt + 1_000 + TIMING.readAheadMs);
    expect(after.length).toBeGreaterThanOrEqual(3);
    expect(new Set(gapsOf(after))).toEqual(new Set([500]));
    const loop = parseLoopState(
      'edit-cadence',
      JSON.parse((await raw('edit-cadence'))?.[FIELD.shardLoop]?.S ?? ''),
    );
    expect(loop.config.intervalMs).toBe(500);
  }, 15_000);

  it('stops a poller switched off, recording why, and fires it no more', async () => {
    // arrange
    await putPoller('switch-off', 's2', '0.5');
    await putPoller('keeps-on', 's2', '0.5');
    const running = round('s2', 'arn:exec:off', 5_000, deps(await workerFor('off')));
    await sleep(2_500);
    const offAt = Date.now();
    await setFields('switch-off', { [FIELD.running]: { BOOL: false } });

    // act
    await running;

    // assess
    const item = await raw('switch-off');
    expect(item?.[FIELD.stoppedReason]).toEqual({ S: STOP_REASON.runningFalse });
    const late = firesOf('switch-off').filter((fire) => dueOf(fire) > offAt + 1_000 + TIMING.readAheadMs);
    expect(late).toEqual([]);
    expect(firesOf('keeps-on').filter((fire) => dueOf(fire) > offAt + 1_500).length).toBeGreaterThan(0);
  }, 15_000);
});

describe('runShardRound: a pending move hands the poller over', () => {
  it('the old shard fires before movedAt, the new one from it: no (poller, seq) twice, no seq reused', async () => {
    // arrange
    await putPoller('mover', 's3', '0.5');
    await putPoller('stays-on-s4', 's4', '0.5');
    const old = round('s3', 'arn:exec:old', 7_000, deps(await workerFor('s3')));
    const next = round('s4', 'arn:exec:new', 7_000, deps(await workerFor('s4')));
    await sleep(2_000);
    const lease = (await store.readShard('s3'))?.lease;
    const movedAt = Math.max(Date.now(), lease?.validUntilMs ?? 0) + 300;
    expect(await store.place('mover', { kind: 'move', from: 's3', to: 's4', atMs: movedAt })).toBe('written');

    // act
    await Promise.all([old, next]);

    // assess
    expectRisingSeqs('mover');
    const fires = firesOf('mover');
    expect(fires.filter((fire) => fire.by === 's3').every((fire) => dueOf(fire) < movedAt)).toBe(true);
    const moved = fires.filter((fire) => fire.by === 's4');
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.every((fire) => dueOf(fire) >= movedAt)).toBe(true);
    const item = await raw('mover');
    expect(item?.[FIELD.shard]).toEqual({ S: 's4' });
    expect(item?.[FIELD.moveTo]).toBeUndefined();
    // The new shard continued the old one's grid (the loop recorded at the flip), not a new one above the claim
    // (~5 minutes of seqs ahead): at most one seq an interval since the last old tick (a late tick takes none).
    const lastOld = fires.filter((fire) => fire.by === 's3').at(-1);
    expect(lastOld).toBeDefined();
    if (lastOld !== undefined && moved[0] !== undefined) {
      const seqs = moved[0].event.seq - lastOld.event.seq;
      expect(seqs).toBeGreaterThan(0);
      expect(seqs).toBeLessThanOrEqual((dueOf(moved[0]) - dueOf(lastOld)) / 500);
      expect((dueOf(moved[0]) - dueOf(lastOld)) % 500).toBe(0);
    }
  }, 20_000);
});

describe('runShardRound: a takeover after the owner died', () => {
  it('a start meeting a live lease ends at once; one after it ran out resumes with no seq twice', async () => {
    // arrange: the first owner dies at its hand-back (its release fails), its lease still held.
    await putPoller('orphan', 's5', '0.5');
    const dying: ShardStore = Object.assign(Object.create(store) as ShardTable, {
      releaseLease: () =>
        Promise.reject(new ControlTableUnavailableError('~shard/s5', TABLE_NAME, 'unplugged')),
    });
    await expect(
      round('s5', 'arn:exec:first', 3_000, deps(await workerFor('first'), { store: dying })),
    ).rejects.toThrow(ControlTableUnavailableError);
    const deadLease = (await store.readShard('s5'))?.lease;
    expect(deadLease?.owner).toBe('arn:exec:first');

    // act: a racing start while the lease is live, then a takeover once it ran out.
    const racing = round('s5', 'arn:exec:racing', 2_000, deps(await workerFor('racing')));
    await expect(racing).rejects.toThrow(
      new PollerStoppedSignal('~shard/s5', 'shard already served by arn:exec:first'),
    );
    await sleep(Math.max(0, (deadLease?.validUntilMs ?? 0) - Date.now()) + 50);
    const taken = await round('s5', 'arn:exec:second', 3_000, deps(await workerFor('second')));

    // assess
    expect(taken.loop).toMatchObject({ epoch: (deadLease?.epoch ?? 0) + 1 });
    expectRisingSeqs('orphan');
    const second = firesOf('orphan').filter((fire) => fire.by === 'second');
    expect(second.length).toBeGreaterThan(0);
    expect(second.every((fire) => dueOf(fire) >= (deadLease?.validUntilMs ?? 0))).toBe(true);
    expect(firesOf('orphan').filter((fire) => fire.by === 'racing')).toEqual([]);
  }, 20_000);
});

describe('runShardRound: a stale owner', () => {
  it('whose renewal is refused fires nothing after its lease and ends superseded', async () => {
    // arrange: the owner's renewals fail (the table unreachable for it) until another execution took the shard.
    await putPoller('contested', 's6', '0.5');
    let cutOff = false;
    let lastRenewedUntil = 0;
    const flaky: ShardStore = Object.assign(Object.create(store) as ShardTable, {
      renewLease: async (shard: string, lease: Parameters<ShardStore['renewLease']>[1], nowMs: number) => {
        if (cutOff) throw new ControlTableUnavailableError('~shard/s6', TABLE_NAME, 'partitioned');
        const written = await store.renewLease(shard, lease, nowMs);
        if (written.kind === 'written') lastRenewedUntil = written.lease.validUntilMs;
        return written;
      },
    });
    const stale = round('s6', 'arn:exec:stale', 9_000, deps(await workerFor('stale'), { store: flaky }));
    await sleep(1_500);
    cutOff = true;
    const heldUntil = Math.max(lastRenewedUntil, (await store.readShard('s6'))?.lease?.validUntilMs ?? 0);
    await sleep(heldUntil - Date.now() + 50);
    const taker = round('s6', 'arn:exec:taker', 3_000, deps(await workerFor('taker')));
    await sleep(500);
    cutOff = false;

    // act
    const [staleEnd] = await Promise.allSettled([stale, taker]);

    // assess
    expect(staleEnd.status).toBe('rejected');
    expect(staleEnd.status === 'rejected' && staleEnd.reason).toEqual(
      new PollerStoppedSignal('~shard/s6', 'superseded by epoch 2'),
    );
    const staleFires = firesOf('contested').filter((fire) => fire.by === 'stale');
    expect(staleFires.length).toBeGreaterThan(0);
    expect(staleFires.every((fire) => dueOf(fire) < heldUntil - LEASE.guardMs)).toBe(true);
    expect(staleFires.every((fire) => fire.receivedAt < heldUntil)).toBe(true);
    expect(firesOf('contested').filter((fire) => fire.by === 'taker').length).toBeGreaterThan(0);
    expectRisingSeqs('contested');
  }, 20_000);
});

describe('runShardRound: fencing against a stale index and a lease that ran out', () => {
  it('a new invocation of the same epoch fires a poller only after its own claim write: a stale read does not', async () => {
    // arrange: an attempt takes the shard at epoch 1, records both pollers (claims, grids) and crashes at its
    // hand-back, its lease still live. The planner then reassigns 'gone-by' to s14; the index lags the table and
    // still returns the image that names s13 with epoch 1's claim and grid.
    await putPoller('gone-by', 's13', '0.5');
    await putPoller('still-here', 's13', '0.5');
    const crashing: ShardStore = Object.assign(Object.create(store) as ShardTable, {
      releaseLease: () =>
        Promise.reject(new ControlTableUnavailableError('~shard/s13', TABLE_NAME, 'crashed')),
    });
    const invoker = await workerFor('retry');
    await expect(round('s13', 'arn:exec:retry', 1_500, deps(invoker, { store: crashing }))).rejects.toThrow(
      ControlTableUnavailableError,
    );
    const stale = (await store.queryMembers('s13')).find((read) => read.item.pollerId === 'gone-by');
    expect(stale?.recordedEpoch).toBe(1);
    const lease = (await store.readShard('s13'))?.lease;
    expect(lease).toMatchObject({ owner: 'arn:exec:retry', epoch: 1 });
    expect(
      await store.place('gone-by', {
        kind: 'reassign',
        from: 's13',
        to: 's14',
        atMs: lease?.validUntilMs ?? 0,
      }),
    ).toBe('written');
    const lagging: ShardStore = Object.assign(Object.create(store) as ShardTable, {
      queryMembers: async (shard: string) => {
        const live = await store.queryMembers(shard);
        return stale === undefined || live.some((read) => read.item.pollerId === 'gone-by')
          ? live
          : [...live, stale];
      },
    });
    const firedBefore = firesOf('gone-by').length;

    // act: Step Functions retries the round; the lease is live and its own, so it renews epoch 1.
    const output = await round('s13', 'arn:exec:retry', 3_000, deps(invoker, { store: lagging }));

    // assess
    expect(output.loop).toMatchObject({ epoch: 1 });
    expect(firesOf('gone-by').length).toBe(firedBefore);
    expect((await raw('gone-by'))?.[FIELD.shard]?.S).toBe('s14');
    expect((await raw('gone-by'))?.[FIELD.shardEpoch]).toBeUndefined();
    const late = firesOf('still-here').filter((fire) => dueOf(fire) >= (lease?.validUntilMs ?? 0));
    expect(late.length).toBeGreaterThan(0);
    const claimed = Number((await raw('still-here'))?.[FIELD.claimedSeq]?.N);
    expect(seqsOf('still-here').every((seq) => seq <= claimed)).toBe(true);
    expectRisingSeqs('still-here');
  }, 10_000);

  it('re-takes its own lease that ran out at epoch+1 and fires no poller the planner reassigned meanwhile', async () => {
    // arrange: the owner's renewals fail (frozen, or the table out of its reach) past its lease's end; the planner
    // judges the shard dead and reassigns 'taken-away' to s16; the index still shows it on s15.
    await putPoller('taken-away', 's15', '0.5');
    await putPoller('kept', 's15', '0.5');
    let cutOff = false;
    let lastRenewedUntil = 0;
    let stale: Awaited<ReturnType<ShardTable['queryMembers']>>[number] | undefined;
    const partitioned: ShardStore = Object.assign(Object.create(store) as ShardTable, {
      renewLease: async (shard: string, lease: Parameters<ShardStore['renewLease']>[1], nowMs: number) => {
        if (cutOff) throw new ControlTableUnavailableError('~shard/s15', TABLE_NAME, 'partitioned');
        const written = await store.renewLease(shard, lease, nowMs);
        if (written.kind === 'written') lastRenewedUntil = written.lease.validUntilMs;
        return written;
      },
      queryMembers: async (shard: string) => {
        const live = await store.queryMembers(shard);
        return stale === undefined || live.some((read) => read.item.pollerId === 'taken-away')
          ? live
          : [...live, stale];
      },
    });
    const frozen = round(
      's15',
      'arn:exec:frozen',
      8_000,
      deps(await workerFor('frozen'), { store: partitioned }),
    );
    await sleep(1_500);
    stale = (await store.queryMembers('s15')).find((read) => read.item.pollerId === 'taken-away');
    cutOff = true;
    const ranOutAt = Math.max(lastRenewedUntil, (await store.readShard('s15'))?.lease?.validUntilMs ?? 0);
    await sleep(ranOutAt - Date.now() + 50);
    expect(
      await store.place('taken-away', { kind: 'reassign', from: 's15', to: 's16', atMs: ranOutAt }),
    ).toBe('written');
    await sleep(300);
    cutOff = false;

    // act
    const output = await frozen;

    // assess: the same execution serves the shard on, at the next epoch, and only the pollers still its own.
    expect(output.loop).toMatchObject({ epoch: 2, executionId: 'arn:exec:frozen' });
    expect((await store.readShard('s15'))?.lease?.epoch).toBe(2);
    const takenAway = firesOf('taken-away');
    expect(takenAway.length).toBeGreaterThan(0);
    expect(takenAway.every((fire) => dueOf(fire) < ranOutAt - LEASE.guardMs)).toBe(true);
    expect((await raw('taken-away'))?.[FIELD.shard]?.S).toBe('s16');
    expect(firesOf('kept').some((fire) => dueOf(fire) > ranOutAt + 1_000)).toBe(true);
    expectRisingSeqs('kept');
  }, 15_000);
});

describe('runShardRound: a poller reassigned away and back while its owner was frozen', () => {
  it("is resumed from the other shard's record after the re-take, not from memory: no seq twice", async () => {
    // arrange: s19 serves 'boomerang' and 'steady'; its renewals fail past its lease's end. The planner reassigns
    // 'boomerang' to s20, whose execution fires it and hands back; then back to s19. The index shows s19 the old
    // image of 'boomerang' all along, so its memory of the poller is never dropped.
    await putPoller('boomerang', 's19', '0.5');
    await putPoller('steady', 's19', '0.5');
    let cutOff = false;
    let lastRenewedUntil = 0;
    let stale: ShardMemberRead | undefined;
    const frozenStore: ShardStore = Object.assign(Object.create(store) as ShardTable, {
      renewLease: async (shard: string, lease: Parameters<ShardStore['renewLease']>[1], nowMs: number) => {
        if (cutOff) throw new ControlTableUnavailableError('~shard/s19', TABLE_NAME, 'partitioned');
        const written = await store.renewLease(shard, lease, nowMs);
        if (written.kind === 'written') lastRenewedUntil = written.lease.validUntilMs;
        return written;
      },
      queryMembers: async (shard: string) => {
        const live = await store.queryMembers(shard);
        return stale === undefined || live.some((read) => read.item.pollerId === 'boomerang')
          ? live
          : [...live, stale];
      },
    });
    const frozen = round('s19', 'arn:exec:s19', 11_000, deps(await workerFor('s19'), { store: frozenStore }));
    await sleep(1_500);
    stale = (await store.queryMembers('s19')).find((read) => read.item.pollerId === 'boomerang');
    cutOff = true;
    const ranOutAt = Math.max(lastRenewedUntil, (await store.readShard('s19'))?.lease?.validUntilMs ?? 0);
    await sleep(ranOutAt - Date.now() + 50);
    expect(await store.place('boomerang', { kind: 'reassign', from: 's19', to: 's20', atMs: ranOutAt })).toBe(
      'written',
    );
    await round('s20', 'arn:exec:s20', 2_500, deps(await workerFor('s20')));
    const s20Until = (await store.readShard('s20'))?.lease?.validUntilMs ?? 0;
    expect(await store.place('boomerang', { kind: 'reassign', from: 's20', to: 's19', atMs: s20Until })).toBe(
      'written',
    );
    cutOff = false;

    // act
    const output = await frozen;

    // assess
    expect(output.loop).toMatchObject({ epoch: 2 });
    const by = (who: string) => firesOf('boomerang').filter((fire) => fire.by === who);
    expect(by('s20').length).toBeGreaterThan(0);
    const after = by('s19').filter((fire) => dueOf(fire) >= s20Until);
    expect(after.length).toBeGreaterThan(0);
    expectRisingSeqs('boomerang');
    expectRisingSeqs('steady');
  }, 20_000);
});

describe('runShardRound: a first round that finds no member yet', () => {
  it('reads again each second and serves a poller the index shows only 2 s later', async () => {
    // act: the execution is started for a poller whose placement the index does not show yet.
    const started = Date.now();
    const running = round('s17', 'arn:exec:early', 6_000, deps(await workerFor('early')));
    await sleep(2_000);
    await putPoller('late-in-index', 's17', '0.5');
    const output = await running;

    // assess
    expect(output.loop).toMatchObject({ epoch: 1 });
    const fires = firesOf('late-in-index');
    expect(fires.length).toBeGreaterThan(0);
    expect((fires[0]?.receivedAt ?? Infinity) - started).toBeLessThan(2_000 + 1_000 + 700);
  }, 10_000);

  it('a later round that finds no member ends at once', async () => {
    // arrange
    await putPoller('leaving', 's18', '0.5');
    const first = await round('s18', 'arn:exec:later', 1_500, deps(await workerFor('later')));
    await dynamo.client.send(
      new UpdateItemCommand({
        TableName: TABLE_NAME,
        Key: { [FIELD.id]: { S: 'leaving' } },
        UpdateExpression: 'REMOVE #shard',
        ExpressionAttributeNames: { '#shard': FIELD.shard },
      }),
    );

    // act
    const startedAt = Date.now();
    const next = round('s18', 'arn:exec:later', 6_000, deps(await workerFor('later')), first);

    // assess
    await expect(next).rejects.toEqual(new PollerStoppedSignal('~shard/s18', 'no pollers'));
    expect(Date.now() - startedAt).toBeLessThan(1_000);
  }, 10_000);
});

describe('runShardRound: overlap skip', () => {
  it('fires a poller again only once its previous fire answered, counting the ticks it skipped', async () => {
    // arrange: a worker that runs 1.2 s, ticks every 0.5 s.
    await putPoller('slow-worker', 's9', '0.5', {
      [FIELD.overlap]: { S: 'skip' },
      [FIELD.payload]: { M: { runMs: { N: '1200' } } },
    });

    // act
    await round('s9', 'arn:exec:skip', 6_000, deps(await workerFor('skip')));

    // assess
    const fires = firesOf('slow-worker');
    expect(fires.length).toBeGreaterThanOrEqual(3);
    expectRisingSeqs('slow-worker');
    // Each fire went out only after the previous one's 1.2 s run had answered: never two running at once.
    expect(gapsOf(fires.map((fire) => fire.receivedAt)).every((gap) => gap >= 1_200)).toBe(true);
    const item = await raw('slow-worker');
    expect(Number(item?.[FIELD.overlapSkips]?.N)).toBeGreaterThanOrEqual(fires.length - 1);
  }, 15_000);
});

describe('runShardRound: counts while the round runs', () => {
  it('writes the ticks it skipped within a batch or so, not only at its hand-back (an invocation that fails loses none)', async () => {
    // arrange: a worker that runs 1.5 s, ticks every 0.5 s, overlap skip: two ticks skipped per fire.
    await putPoller('counted-early', 's21', '0.5', {
      [FIELD.overlap]: { S: 'skip' },
      [FIELD.payload]: { M: { runMs: { N: '1500' } } },
    });

    // act
    const running = round('s21', 'arn:exec:counted-early', 8_000, deps(await workerFor('counted-early')));
    await sleep(4_000);
    const midway = await raw('counted-early');
    await running;

    // assess: counted on the item while the round was still awake (it hands back only near its deadline)
    expect(Number(midway?.[FIELD.overlapSkips]?.N ?? 0)).toBeGreaterThanOrEqual(1);
  }, 15_000);
});

describe('runShardRound: a round that wakes past its lease', () => {
  it('counts the ticks it then withholds (due before the lease end, so no later owner fires them)', async () => {
    // arrange: a clock that jumps 2.5 s ahead mid-round, as a starved or frozen sandbox wakes: the batch's ticks
    // due before the lease's end are released after it (withheld, lease ended), and the round goes on.
    await putPoller('woke-late', 's22', '0.2');
    let offsetMs = 0;
    const jumpingClock = { ...systemClock, now: () => Date.now() + offsetMs };
    const running = round(
      's22',
      'arn:exec:woke-late',
      5_000,
      deps(await workerFor('woke-late'), { clock: jumpingClock }),
    );
    await sleep(2_000);
    offsetMs = 2_500;
    await running;

    // assess: every seq between the first and the last fired is either fired or counted as skipped
    const seqs = seqsOf('woke-late');
    const first = Math.min(...seqs);
    const last = Math.max(...seqs);
    const missed = last - first + 1 - new Set(seqs).size;
    expect(missed).toBeGreaterThan(0);
    const item = await raw('woke-late');
    expect(Number(item?.[FIELD.skippedTicks]?.N ?? 0)).toBeGreaterThanOrEqual(missed);
    expectRisingSeqs('woke-late');
  }, 15_000);
});

describe('runShardRound: a slow join claim', () => {
  it("holds the poller's first tick until the claim is confirmed and fires it late, instead of withholding it", async () => {
    // arrange: the table takes 1.3 s to answer the claim an invocation writes on joining the poller, whose first
    // tick is due 0.5 to 1 s after the read (rounds that start in phase with a cadence would lose that tick every
    // time); at 2 s it may go out up to 1 s late.
    await putPoller('slow-join', 's23', '2');
    const slowJoin: ShardStore = Object.assign(Object.create(store) as ShardTable, {
      writePoller: async (...args: Parameters<ShardStore['writePoller']>) => {
        if (args[3].kind === 'claim') await sleep(1_300);
        return store.writePoller(...args);
      },
    });

    // act
    await round('s23', 'arn:exec:slow-join', 4_000, deps(await workerFor('slow-join'), { store: slowJoin }));

    // assess: seq 1 went out, late, within half an interval (before: withheld and counted as skipped)
    const first = firesOf('slow-join')[0];
    expect(first?.event.seq).toBe(1);
    expect((first?.receivedAt ?? 0) - dueOf(first as Received)).toBeLessThan(1_000);
    expectRisingSeqs('slow-join');
  }, 15_000);
});

describe('runShardRound: a slow read', () => {
  it("reads the next batch while the batch before still fires: a read's round trip makes no tick late", async () => {
    // arrange: every read of the table takes 200 ms more; ten pollers at 0.2 s have a tick due every ~20 ms. Read
    // after a batch's last tick, the next batch's first ticks would wait out the read and go out over half an
    // interval late: withheld, their seqs missing. Read 300 ms ahead (readAheadMs), they go out on time.
    const ids = Array.from({ length: 10 }, (_, i) => `slow-read-${i}`);
    for (const id of ids) await putPoller(id, 's24', '0.2');
    let reads = 0;
    const slowRead: ShardStore = Object.assign(Object.create(store) as ShardTable, {
      queryMembers: async (shard: string) => {
        reads += 1;
        await sleep(200);
        return store.queryMembers(shard);
      },
    });

    // act
    await round('s24', 'arn:exec:slow-read', 5_000, deps(await workerFor('slow-read'), { store: slowRead }));

    // assess: batches came and went (a read each), and every seq of every poller went out within half an interval
    expect(reads).toBeGreaterThanOrEqual(3);
    for (const id of ids) {
      expect(seqsOf(id), id).toEqual(firesOf(id).map((_, i) => i + 1));
      expect(firesOf(id).length, id).toBeGreaterThanOrEqual(15);
      for (const fire of firesOf(id)) expect(fire.receivedAt - dueOf(fire), id).toBeLessThan(100);
    }
  }, 15_000);
});

describe('runShardRound: a fire that fails', () => {
  it('counts it and records why in lastError, naming the poller and the target', async () => {
    // arrange
    await putPoller('misdirected', 's12', '0.5', { [FIELD.target]: { S: 'missing-worker' } });

    // act
    await round('s12', 'arn:exec:misdirected', 2_500, deps(await workerFor('misdirected')));

    // assess
    const item = await raw('misdirected');
    expect(Number(item?.[FIELD.failedFires]?.N)).toBeGreaterThanOrEqual(1);
    const message = item?.[FIELD.lastError]?.M?.message?.S ?? '';
    expect(message).toContain("poller 'misdirected'");
    expect(message).toContain("'missing-worker'");
  }, 10_000);
});

describe('runShardRound: how an execution ends', () => {
  it('stops on an input that names no shard, naming the value', async () => {
    // act
    const running = runShardRound(
      { state: { pollerId: 'orders' }, executionId: 'arn:exec:x' },
      deps(await workerFor('x')),
      () => Date.now() + 1_000,
    );

    // assess
    await expect(running).rejects.toBeInstanceOf(PollerStoppedSignal);
    await expect(running).rejects.toThrow(/pollerId must name a shard .*; got "orders"/);
  });

  it('stops when no poller names the shard, leaving the lease released', async () => {
    // act
    const running = round('s7', 'arn:exec:empty', 2_000, deps(await workerFor('empty')));

    // assess
    await expect(running).rejects.toEqual(new PollerStoppedSignal('~shard/s7', 'no pollers'));
    expect((await store.readShard('s7'))?.lease?.validUntilMs).toBeLessThanOrEqual(Date.now());
  });

  it('fails a first read for Step Functions to retry, releasing the lease so the retry fires at once', async () => {
    // arrange: the table refuses the first Query.
    await putPoller('retried', 's10', '0.5');
    let refusals = 1;
    const refusing: ShardStore = Object.assign(Object.create(store) as ShardTable, {
      queryMembers: (shard: string) =>
        refusals-- > 0
          ? Promise.reject(new ControlTableUnavailableError('~shard/s10', TABLE_NAME, 'throttled'))
          : store.queryMembers(shard),
    });
    const invoker = await workerFor('retried');

    // act
    const failed = round('s10', 'arn:exec:retried', 2_000, deps(invoker, { store: refusing }));
    await expect(failed).rejects.toBeInstanceOf(ControlTableUnavailableError);
    const lease = (await store.readShard('s10'))?.lease;
    const retriedAt = Date.now();
    await round('s10', 'arn:exec:retried', 3_000, deps(invoker, { store: refusing }));

    // assess
    expect(lease?.validUntilMs).toBeLessThanOrEqual(retriedAt);
    const fires = firesOf('retried');
    expect(fires[0] && dueOf(fires[0])).toBeLessThan(retriedAt + TIMING.firstTickDelayMs + 600);
    expectRisingSeqs('retried');
  }, 15_000);

  it('hands over to a fresh execution before its history budget is spent, firing nothing', async () => {
    // arrange
    await putPoller('budget', 's8', '0.5');
    const first = await round('s8', 'arn:exec:budget', 2_000, deps(await workerFor('budget')));
    const firedBefore = firesOf('budget').length;
    const spent = { ...first, loop: { ...first.loop, historyEvents: Number(first.loop.historyBudget) - 3 } };
    // An attempt of this round that failed after re-taking the released lease (epoch 2) left it held.
    const released = (await store.readShard('s8'))?.lease;
    const held = { owner: 'arn:exec:budget', epoch: 2, validUntilMs: Date.now() + 30_000 };
    expect((await store.takeLease('s8', held, released)).kind).toBe('written');

    // act
    const next = round('s8', 'arn:exec:budget', 2_000, deps(await workerFor('budget')), spent);

    // assess
    await expect(next).rejects.toBeInstanceOf(HandOverRequestedSignal);
    expect(firesOf('budget').length).toBe(firedBefore);
    expect((await store.readShard('s8'))?.lease?.validUntilMs).toBeLessThanOrEqual(Date.now());
    // The fresh execution takes the released lease at the next epoch and goes on with no seq twice.
    const fresh = await round('s8', 'arn:exec:fresh', 2_000, deps(await workerFor('budget')), {
      pollerId: first.pollerId,
      wakeAt: first.wakeAt,
      loop: first.loop,
    });
    expect(fresh.loop).toMatchObject({ epoch: 3, executionId: 'arn:exec:fresh' });
    expect(firesOf('budget').length).toBeGreaterThan(firedBefore);
    expectRisingSeqs('budget');
  }, 15_000);
});
