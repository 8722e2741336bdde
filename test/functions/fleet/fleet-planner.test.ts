import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FleetControlPlaneDeps,
  placeFromStream,
  runFleetRound,
  runFleetWatchdog,
} from '../../../functions/fleet/fleet-control-plane';
import {
  type FleetPlannerDeps,
  type FleetPlannerReport,
  listFleetIn,
  pollersToPlace,
  runFleetPlanner,
} from '../../../functions/fleet/fleet-planner';
import type { ShardLease } from '../../../functions/fleet/shard-lease';
import { shardItemKey } from '../../../functions/fleet/shard-store';
import { SHARD_ITEM_FIELD, ShardTable } from '../../../functions/fleet/shard-table';
import { localClientOptions } from '../../../functions/shared/aws-clients';
import { FIELD } from '../../../functions/shared/contract';
import type { PollerItem } from '../../../functions/shared/control-item';
import { ControlTable } from '../../../functions/shared/control-table';
import { PollerStoppedSignal } from '../../../functions/shared/errors';
import { createLogger, type LogLine } from '../../../functions/shared/logger';
import { createSfnClient } from '../../../functions/shared/sfn-client';
import { ensureControlTable } from '../../../scripts/local-stack/control-table-definition';
import { pollerOf } from '../../support/fault-probes';
import { type Harness, startHarness } from '../../support/local-stack-harness';
import { insertRecordOf } from '../../support/stream-records';

/**
 * The fleet planner on the real DynamoDB API (dynalite: Scan, conditional UpdateItem) and the local stack's Step
 * Functions (StartExecution, names kept). Time is the planner's argument: a simulated clock, so a lease "runs out"
 * by passing a later nowMs, with no waiting.
 */

/** Deliberately not on a whole second. */
const T0 = Date.parse('2030-01-01T00:00:00.250Z');
/** A small capacity, so 30 pollers at 1 s need several shards. */
const CAPACITY = 10;

let harness: Harness;
let sfn: SFNClient;
let tables = 0;

interface Fleet {
  readonly table: ControlTable;
  readonly store: ShardTable;
  readonly deps: FleetPlannerDeps;
  readonly logs: LogLine[];
}

/** A fresh control table for each test, on the harness's DynamoDB, with the planner pointed at it. */
async function newFleet(maxShards = 4): Promise<Fleet> {
  tables += 1;
  const tableName = `fleet-planner-${tables}`;
  await ensureControlTable(harness.stack.dynamoDb, tableName);
  const table = new ControlTable(harness.stack.dynamoDb, tableName);
  const store = new ShardTable(harness.stack.dynamoDb, tableName);
  const logs: LogLine[] = [];
  const deps: FleetPlannerDeps = {
    listFleet: listFleetIn(table),
    store,
    sfn,
    stateMachineArn: harness.stack.stateMachineArn,
    log: createLogger((level, message, fields) => logs.push({ level, message, ...fields })),
    maxShards,
    capacityFiresPerSecond: CAPACITY,
  };
  return { table, store, deps, logs };
}

/** The fleet control plane's entries over this fleet; a shard round is not expected here. */
function controlPlane(fleet: Fleet): FleetControlPlaneDeps {
  return {
    planner: () => fleet.deps,
    shard: () => {
      throw new Error('no shard round in these tests');
    },
    log: fleet.deps.log,
  };
}

async function createPollers(fleet: Fleet, ids: readonly string[], waitSeconds = 1): Promise<void> {
  for (const id of ids) await fleet.table.createPoller(id, { running: true, waitSeconds });
}

const ids = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}${index}`);

async function pollersOf(fleet: Fleet): Promise<PollerItem[]> {
  return (await fleet.table.listAll()).filter((item) => !item.pollerId.startsWith('~'));
}

/** The executions the planner's report says it started, as Step Functions holds them. */
function executionsNamed(report: FleetPlannerReport) {
  const names = new Set(report.starts.map((start) => start.executionName));
  return harness.stack.stepFunctions.listExecutions().filter((execution) => names.has(execution.name));
}

/** A shard item whose lease `lease` holds (taken at its epoch), then released to sleep until `sleepUntilMs`. */
async function shardItem(
  fleet: Fleet,
  shard: string,
  lease: ShardLease,
  sleepUntilMs?: number,
): Promise<void> {
  expect((await fleet.store.takeLease(shard, lease, undefined)).kind).toBe('written');
  if (sleepUntilMs !== undefined) {
    expect((await fleet.store.releaseLease(shard, lease, sleepUntilMs)).kind).toBe('written');
  }
}

async function place(fleet: Fleet, pollerIds: readonly string[], shard: string): Promise<void> {
  for (const pollerId of pollerIds) {
    expect(await fleet.store.place(pollerId, { kind: 'place', to: shard })).toBe('written');
  }
}

beforeAll(async () => {
  harness = await startHarness({ startLoops: false });
  sfn = createSfnClient(localClientOptions(harness.stack.servicesEndpoint));
});

afterAll(async () => {
  sfn.destroy();
  await harness.stack.stop();
});

describe('runFleetPlanner', () => {
  it('the fleet start places 30 pollers on ceil(load / capacity) shards and starts exactly those', async () => {
    const fleet = await newFleet();
    await createPollers(fleet, ids('p', 30));

    const report = await runFleetPlanner(fleet.deps, T0, { kind: 'fleet-start' });

    const pollers = await pollersOf(fleet);
    const shards = new Set(pollers.map((item) => item.shard));
    expect([...shards].sort()).toEqual(['s0', 's1', 's2']);
    expect(report.writes).toEqual({ written: 30, changed: 0, missing: 0, failed: 0 });
    const started = executionsNamed(report);
    expect(started.map((execution) => execution.name).sort()).toEqual([
      `shard-s0-1-${T0}`,
      `shard-s1-1-${T0}`,
      `shard-s2-1-${T0}`,
    ]);
    expect(started.map(pollerOf).sort()).toEqual(['~shard/s0', '~shard/s1', '~shard/s2']);
    expect(fleet.logs.filter((line) => line.message.startsWith('fleet planner'))).toHaveLength(1);
  });

  it('two planners racing place each poller once', async () => {
    const fleet = await newFleet();
    await createPollers(fleet, ids('r', 30));

    const [first, second] = await Promise.all([
      runFleetPlanner(fleet.deps, T0 + 1, { kind: 'watchdog' }),
      runFleetPlanner(fleet.deps, T0 + 1, { kind: 'watchdog' }),
    ]);

    // Every poller was written by one of them; the other found it placed ('changed').
    expect(first.writes.written + second.writes.written).toBe(30);
    expect(first.writes.failed + second.writes.failed).toBe(0);
    const pollers = await pollersOf(fleet);
    expect(pollers.every((item) => item.shard !== undefined && item.moveTo === undefined)).toBe(true);
    // Both asked for the same names: Step Functions kept each to one execution.
    const names = [...executionsNamed(first), ...executionsNamed(second)].map((execution) => execution.name);
    expect(new Set(names).size).toBe(3);
  });

  it("a new poller's INSERT places it and wakes its sleeping shard", async () => {
    const fleet = await newFleet();
    await createPollers(fleet, ['old']);
    await place(fleet, ['old'], 's0');
    // s0's execution handed back at T0 and sleeps until T0 + 40 s.
    const lease = { owner: 'arn:sleeper', epoch: 2, validUntilMs: T0 + 30_000 };
    await shardItem(fleet, 's0', lease);
    await fleet.store.releaseLease('s0', { ...lease, validUntilMs: T0 }, T0 + 40_000);
    await createPollers(fleet, ['newcomer']);
    const insert = await insertRecordOf(harness.stack.dynamoDb, fleet.store.tableName, 'newcomer', '100');

    expect(pollersToPlace([insert])).toEqual(['newcomer']);

    const response = await placeFromStream([insert], controlPlane(fleet), T0 + 1_000);

    expect(response).toEqual({ batchItemFailures: [] });
    expect((await fleet.table.read('newcomer'))?.shard).toBe('s0');
    const woken = harness.stack.stepFunctions
      .listExecutions()
      .filter((execution) => execution.name === `shard-s0-3-${T0 + 1_000}`);
    expect(woken.map(pollerOf)).toEqual([shardItemKey('s0')]);
  });

  it('the watchdog starts a new execution for a shard whose lease ran out, and none for a live one', async () => {
    const fleet = await newFleet();
    await createPollers(fleet, ids('w', 12));
    await place(fleet, ids('w', 6), 's0');
    await place(fleet, ids('w', 12).slice(6), 's1');
    await shardItem(fleet, 's0', { owner: 'arn:crashed', epoch: 4, validUntilMs: T0 + 30_000 });
    await shardItem(fleet, 's1', { owner: 'arn:alive', epoch: 1, validUntilMs: T0 + 90_000 });

    const whileLive = await runFleetPlanner(fleet.deps, T0 + 29_999, { kind: 'watchdog' });
    expect(whileLive.starts).toEqual([]);
    expect(whileLive.counts).toEqual({ active: 12, stale: 0, unplaced: 0 });

    const lines: string[] = [];
    const ranOut = await runFleetWatchdog(
      {
        ...controlPlane(fleet),
        sweepMetrics: () => ({ sink: (line) => lines.push(line), table: 'fleet', perPoller: false }),
      },
      T0 + 30_000,
    );
    expect(ranOut.starts).toEqual([
      { shard: 's0', executionName: `shard-s0-5-${T0 + 30_000}`, why: 'no-owner', outcome: 'started' },
    ]);
    expect(ranOut.counts).toEqual({ active: 6, stale: 6, unplaced: 0 });
    expect(ranOut.writes).toEqual({ written: 0, changed: 0, missing: 0, failed: 0 });
    expect(executionsNamed(ranOut)).toHaveLength(1);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      ActivePollers: 6,
      StalePollers: 6,
      WatchdogRestarts: 1,
    });
  });

  it('leaves a sleeping shard alone until sleepUntil + slack', async () => {
    const fleet = await newFleet();
    await createPollers(fleet, ['slow'], 60);
    await place(fleet, ['slow'], 's0');
    await shardItem(fleet, 's0', { owner: 'arn:sleeper', epoch: 1, validUntilMs: T0 }, T0 + 50_000);

    for (const nowMs of [T0 + 1_000, T0 + 50_000, T0 + 54_999]) {
      expect((await runFleetPlanner(fleet.deps, nowMs, { kind: 'watchdog' })).starts).toEqual([]);
    }
    const late = await runFleetPlanner(fleet.deps, T0 + 55_000, { kind: 'watchdog' });
    expect(late.starts.map((start) => start.executionName)).toEqual([`shard-s0-2-${T0 + 55_000}`]);
  });

  it('plans the rest of the fleet around a shard item it cannot read, and names it in the log line', async () => {
    const fleet = await newFleet();
    await createPollers(fleet, ['p']);
    await harness.stack.dynamoDb.send(
      new PutItemCommand({
        TableName: fleet.store.tableName,
        Item: { [FIELD.id]: { S: shardItemKey('s1') }, [SHARD_ITEM_FIELD.leaseEpoch]: { S: 'seven' } },
      }),
    );

    const report = await runFleetPlanner(fleet.deps, T0, { kind: 'watchdog' });

    expect(report.writes.written).toBe(1);
    expect(report.starts.map((start) => start.shard)).toEqual(['s0']);
    const line = fleet.logs.at(-1);
    expect(line).toMatchObject({ level: 'error', message: 'fleet planner' });
    expect(JSON.stringify(line?.problems)).toContain('~shard/s1');
  });

  it('counts a refused start and a refused write, logs them, and carries on', async () => {
    const fleet = await newFleet();
    await createPollers(fleet, ids('f', 3));
    harness.stack.services.injectFault = (service, target) =>
      service === 'stepfunctions' && target === 'StartExecution'
        ? { status: 400, errorType: 'ThrottlingException', message: 'Rate exceeded' }
        : undefined;
    try {
      const report = await runFleetPlanner(
        { ...fleet.deps, store: { place: async () => Promise.reject(new Error('table unavailable')) } },
        T0,
        { kind: 'watchdog' },
      );
      expect(report.writes.failed).toBe(3);
      expect(report.starts.map((start) => start.outcome)).toEqual(['failed']);
      expect(fleet.logs.at(-1)).toMatchObject({ level: 'error', message: 'fleet planner' });
    } finally {
      harness.stack.services.injectFault = () => undefined;
    }
  });
});

describe('runFleetRound', () => {
  it('a fleet start (no input) runs the planner once and ends, naming the shards it started', async () => {
    const fleet = await newFleet();
    await createPollers(fleet, ids('start', 15));

    const ended = await runFleetRound({}, controlPlane(fleet), () => Date.now() + 60_000).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(ended).toBeInstanceOf(PollerStoppedSignal);
    expect(ended instanceof PollerStoppedSignal ? ended.reason : undefined).toBe('fleet started: s0, s1');
    expect(new Set((await pollersOf(fleet)).map((item) => item.shard))).toEqual(new Set(['s0', 's1']));
  });

  it('routes a round whose state names a shard to the shard controller, and never plans for it', async () => {
    const fleet = await newFleet();
    await createPollers(fleet, ['quiet']);
    const routed = new Error('routed to the shard controller');

    const ended = await runFleetRound(
      { state: { pollerId: shardItemKey('s0') }, executionId: 'arn:exec:s0' },
      {
        ...controlPlane(fleet),
        shard: () => {
          throw routed;
        },
      },
      () => Date.now() + 60_000,
    ).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(ended).toBe(routed);
    expect((await fleet.table.read('quiet'))?.shard).toBeUndefined();
  });

  it("ends a fleet start named with a poller's input by that poller's id", async () => {
    const fleet = await newFleet();
    const ended = await runFleetRound(
      { state: { pollerId: 'orders' }, executionId: 'arn:exec:console' },
      controlPlane(fleet),
      () => Date.now() + 60_000,
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(ended).toBeInstanceOf(PollerStoppedSignal);
    expect(ended instanceof PollerStoppedSignal ? [ended.pollerId, ended.reason] : []).toEqual([
      'orders',
      'fleet started: no shard needed a start (0 running pollers served)',
    ]);
  });
});
