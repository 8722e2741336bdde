import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardControllerDeps, ShardOutput } from '../../../functions/controller/run-shard-round';
import {
  type FleetControlPlaneDeps,
  placeFromStream,
  runFleetRound,
} from '../../../functions/fleet/fleet-control-plane';
import { listFleetIn } from '../../../functions/fleet/fleet-planner';
import { shardItemKey } from '../../../functions/fleet/shard-store';
import { ShardTable } from '../../../functions/fleet/shard-table';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import { createLambdaClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { systemClock } from '../../../functions/shared/clock';
import type { WorkerEvent } from '../../../functions/shared/contract';
import { ControlTable } from '../../../functions/shared/control-table';
import { PollerStoppedSignal } from '../../../functions/shared/errors';
import { silentLogger } from '../../../functions/shared/logger';
import { createSfnClient } from '../../../functions/shared/sfn-client';
import { LambdaWorkerInvoker } from '../../../functions/shared/worker-invoker';
import { ensureControlTable } from '../../../scripts/local-stack/control-table-definition';
import { type Harness, startHarness } from '../../support/local-stack-harness';
import { insertRecordOf } from '../../support/stream-records';

/**
 * The fleet's control plane end to end on real parts: the planner and the shard controller on one control table
 * (dynalite, with the shard index), shard executions started on the local stack's Step Functions, and the shard
 * rounds those executions would run called here (the local stack runs the single-loop controller), each firing at
 * a local stand-in for the Lambda Invoke API. The system clock: the rounds sleep on real timers.
 */

const TABLE = 'fleet-end-to-end';
let harness: Harness;
let sfn: SFNClient;
let server: Server;
let invoker: LambdaWorkerInvoker;
const received: { readonly event: WorkerEvent; readonly receivedAt: number }[] = [];
let deps: FleetControlPlaneDeps;
let table: ControlTable;

beforeAll(async () => {
  harness = await startHarness({ startLoops: false });
  sfn = createSfnClient(localClientOptions(harness.stack.servicesEndpoint));
  await ensureControlTable(harness.stack.dynamoDb, TABLE);
  table = new ControlTable(harness.stack.dynamoDb, TABLE);
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.headers['x-amz-invocation-type'] === 'DryRun') return void response.writeHead(204).end();
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WorkerEvent;
      received.push({ event, receivedAt: Date.now() });
      response.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  invoker = new LambdaWorkerInvoker(createLambdaClient(localClientOptions(url, 1)));
  const shard: ShardControllerDeps = {
    store: new ShardTable(harness.stack.dynamoDb, TABLE),
    invoker,
    defaultTarget: 'worker',
    clock: systemClock,
    log: silentLogger,
    timing: { ...DEFAULT_TIMING, handBackMarginMs: 200 },
  };
  deps = {
    planner: () => ({
      listFleet: listFleetIn(table),
      store: shard.store,
      sfn,
      stateMachineArn: harness.stack.stateMachineArn,
      log: silentLogger,
      maxShards: 4,
    }),
    shard: () => shard,
    log: silentLogger,
  };
});

afterAll(async () => {
  invoker.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  sfn.destroy();
  await harness.stack.stop();
});

/** The first execution's hand-back, for the test of its next round. */
let woke: { readonly first: ShardOutput } | undefined;

const firesOf = (pollerId: string) => received.filter((fire) => fire.event.pollerId === pollerId);

/** One round of a shard execution, as Step Functions would invoke it, handing back within `forMs`. */
function shardRound(executionId: string, forMs: number, previous?: ShardOutput): Promise<ShardOutput> {
  const deadlineMs = Date.now() + forMs;
  return runFleetRound(
    { state: previous ?? { pollerId: shardItemKey('s0') }, executionId },
    deps,
    () => deadlineMs,
  );
}

async function endOf(run: Promise<unknown>): Promise<unknown> {
  return run.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('the fleet, end to end', () => {
  it('starts, fires a placed poller, and a new poller wakes its sleeping shard within 2 s', async () => {
    // A slow poller: its shard hands back to a Wait state between ticks (lease released, sleepUntil ahead).
    await table.createPoller('slow', { running: true, waitSeconds: 60 });

    const started = await endOf(runFleetRound({}, deps, () => Date.now() + 60_000));
    expect(started).toBeInstanceOf(PollerStoppedSignal);
    expect(started instanceof PollerStoppedSignal ? started.reason : '').toBe('fleet started: s0');
    expect((await table.read('slow'))?.shard).toBe('s0');

    const first = await shardRound('arn:exec:first', 5_000);
    expect(firesOf('slow').map((fire) => fire.event.seq)).toEqual([1]);
    const sleeping = await deps.shard().store.readShard('s0');
    expect(sleeping?.sleepUntilMs).toBeGreaterThan(Date.now() + 2_000);

    // A new poller at 1 s: the stream places it and wakes the shard with a fresh execution.
    await table.createPoller('fast', { running: true, waitSeconds: 1 });
    const insertedAt = Date.now();
    const insert = await insertRecordOf(harness.stack.dynamoDb, TABLE, 'fast', '1');
    expect(await placeFromStream([insert], deps, insertedAt)).toEqual({ batchItemFailures: [] });
    const woken = harness.stack.stepFunctions
      .listExecutions()
      .filter((execution) => execution.name.startsWith('shard-s0-2-'));
    expect(woken).toHaveLength(1);

    // The fresh execution takes the released lease and fires the new poller within 2 s of its INSERT.
    await shardRound('arn:exec:woken', 3_500);
    const fast = firesOf('fast');
    expect(fast.length).toBeGreaterThanOrEqual(2);
    expect((fast[0]?.receivedAt ?? Infinity) - insertedAt).toBeLessThan(2_000 + 500);

    woke = { first };
  }, 30_000);

  /**
   * Decision 3: a later round whose carried epoch another execution has taken ends `superseded by epoch N`, even
   * though that execution has released the lease since (shard-steps.ts decideLeaseStart); it never re-takes the
   * shard at the next epoch, which would have two executions take turns.
   */
  it('the execution that slept ends superseded when it wakes, firing nothing', async () => {
    expect(woke).toBeDefined();
    const before = received.length;
    const old = await endOf(shardRound('arn:exec:first', 3_000, woke?.first));
    expect(old).toBeInstanceOf(PollerStoppedSignal);
    expect(old instanceof PollerStoppedSignal ? old.reason : '').toMatch(/^superseded by epoch 2/);
    expect(received.length).toBe(before);
  }, 10_000);
});
