import { CreateTableCommand, DescribeTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SHARD_INDEX_NAME,
  SHARD_INDEX_PROJECTION,
  type ShardItem,
  shardItemKey,
} from '../../../functions/fleet/shard-store';
import { DEFAULT_POLLER_ID, FIELD } from '../../../functions/shared/contract';
import {
  ensureControlTable,
  MissingShardIndexError,
} from '../../../scripts/local-stack/control-table-definition';
import { loopLabel } from '../../../scripts/local-stack/local-stack';
import { formatLoopLife, LoopLife } from '../../../scripts/local-stack/loop-life';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';
import { type Harness, startHarness } from '../../support/local-stack-harness';
import { ctl } from '../ctl/ctl-harness';

describe('the local stack, fleet variant (npm start -- --fleet)', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('creates the control table with the shard index, and runs the controller at the fleet size', async () => {
    // act
    harness = await startHarness({ fleetVariant: {}, startLoops: false });
    const { Table } = await harness.stack.dynamoDb.send(
      new DescribeTableCommand({ TableName: harness.stack.tableName }),
    );

    // assess
    expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName)).toEqual([SHARD_INDEX_NAME]);
    const [index] = Table?.GlobalSecondaryIndexes ?? [];
    expect(index?.KeySchema).toEqual([{ AttributeName: FIELD.shard, KeyType: 'HASH' }]);
    expect(index?.Projection).toEqual({
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: [...SHARD_INDEX_PROJECTION],
    });
    expect(harness.stack.cpuShare.functions.map((entry) => entry.memoryMb)).toEqual([320, 128]);
  });

  it('starts the fleet (an execution with the input {}), which places the running poller on a shard that fires it', async () => {
    // act
    harness = await startHarness({ fleetVariant: {}, everySeconds: 1 });
    const stopped = await harness.waitFor(
      (event) => event.event === 'stopped' && event.reason.startsWith('fleet started'),
      20_000,
    );
    const fired = await harness.waitFor(
      (event) => event.event === 'fire' && event.poller === DEFAULT_POLLER_ID,
      20_000,
    );

    // assess: the fleet start ran in the fleet bundle and started shard s0, which fired the poller
    expect(stopped).toMatchObject({ reason: 'fleet started: s0' });
    expect(fired).toMatchObject({ seq: 1 });
    const inputs = harness.stack.stepFunctions.listExecutions().map((execution) => execution.input);
    expect(inputs[0]).toBe('{}');
    expect(inputs).toContain(JSON.stringify({ pollerId: shardItemKey('s0') }));
    const item = await harness.readItem(DEFAULT_POLLER_ID);
    expect(item?.[FIELD.shard]).toEqual({ S: 's0' });
    // No single-loop generation: the shard's lease and claims fence it.
    expect(item?.[FIELD.generation]).toBeUndefined();
  });

  it('serves a declared fleet (--pollers) on shards: every running poller fires, none that is off', async () => {
    // act
    harness = await startHarness({
      fleetVariant: { maxShards: 2 },
      fleet: {
        source: 'test',
        pollers: [
          { id: 'feed-a', fields: { running: true, waitSeconds: 1 } },
          { id: 'feed-b', fields: { running: true, waitSeconds: 0.5 } },
          { id: 'feed-off', fields: { running: false, waitSeconds: 1 } },
        ],
      },
    });
    const firedBy = new Set<string>();
    await harness.waitFor((event) => {
      if (event.event === 'fire') firedBy.add(event.poller);
      return firedBy.has('feed-a') && firedBy.has('feed-b');
    }, 30_000);

    // assess
    expect(firedBy.has('feed-off')).toBe(false);
    expect((await harness.readItem('feed-a'))?.[FIELD.shard]?.S).toMatch(/^s[01]$/);
  });

  // The single-loop bundle would end the execution with "poller id '~shard/s0' …" refused by its input parser.
  it('routes the rounds of a ~shard/ execution to the fleet control plane', async () => {
    // prepare
    harness = await startHarness({ fleetVariant: { maxShards: 2 }, startLoops: false });

    // act
    harness.stack.startLoop(shardItemKey('s0'));
    const taken = await harness.waitFor((event) => event.event === 'shard-taken', 20_000);

    // assess: the shard took its lease at epoch 1
    expect(taken).toMatchObject({ shard: 's0', epoch: 1 });
  });

  it('ctl start --local in a fleet table sets running=true and starts the fleet (an execution with the input {})', async () => {
    // prepare: a shard item marks the table as a fleet's; `orders` is off
    harness = await startHarness({ fleetVariant: {}, startLoops: false });
    await harness.stack.dynamoDb.send(
      new PutItemCommand({
        TableName: harness.stack.tableName,
        Item: {
          [FIELD.id]: { S: shardItemKey('s0') },
          leaseOwner: { S: 'arn:aws:states:us-east-1:000000000000:execution:loop:shard-s0-1-x' },
          leaseEpoch: { N: '1' },
          leaseUntil: { N: '0' },
        },
      }),
    );
    await harness.setFields({ [FIELD.running]: { BOOL: false }, [FIELD.waitSeconds]: { N: '1' } }, 'orders');

    // act
    const run = await ctl(['start', 'orders', '--local'], harness.stack);

    // assess
    expect(run.stderr).toEqual([]);
    expect(run.stdout.join('\n')).toContain('started the fleet: ');
    expect(harness.stack.stepFunctions.listExecutions().map((execution) => execution.input)).toEqual(['{}']);
    expect((await harness.readItem('orders'))?.[FIELD.running]).toEqual({ BOOL: true });
  });

  it('runs in-process too: the fleet start places the running poller on s0, whose shard execution fires it', async () => {
    // act
    harness = await startHarness({ fleetVariant: {}, sandbox: 'in-process', everySeconds: 1 });
    const fires = await harness.waitForFires(2, 10_000);

    // assess: no sandbox, the poller served by a shard (no generation: it has no loop of its own).
    expect(harness.stack.cpuShare.applied).toBe(false);
    expect(fires.map((fire) => fire.seq)).toEqual([...fires.map((fire) => fire.seq)].sort((a, b) => a - b));
    const item = await harness.readItem(DEFAULT_POLLER_ID);
    expect(item?.[FIELD.shard]).toEqual({ S: 's0' });
    expect(item?.[FIELD.generation]).toBeUndefined();
    const inputs = harness.stack.stepFunctions.listExecutions().map((execution) => execution.input);
    expect(inputs).toContain('{}');
    expect(inputs.some((input) => input.includes(shardItemKey('s0')))).toBe(true);
  });
});

describe('the fleet variant on a table from --data', () => {
  let local: LocalDynamoDb | undefined;
  afterEach(async () => {
    await local?.close();
    local = undefined;
  });

  it('refuses a persisted single-loop table, which has no shard index, naming the table', async () => {
    // prepare: a table as the local stack created it before the fleet variant (no index)
    local = await startLocalDynamoDb();
    await local.client.send(
      new CreateTableCommand({
        TableName: 'single-loop',
        AttributeDefinitions: [{ AttributeName: FIELD.id, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: FIELD.id, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );

    // act
    const ensured = ensureControlTable(local.client, 'single-loop', { requireShardIndex: true });

    // assess
    await expect(ensured).rejects.toThrow(MissingShardIndexError);
    await expect(ensured).rejects.toThrow('table single-loop has no shard-index');
  });

  it('accepts a persisted fleet table as it is', async () => {
    // prepare
    local = await startLocalDynamoDb();
    await ensureControlTable(local.client, 'fleet', { requireShardIndex: true });

    // act, assess
    await expect(
      ensureControlTable(local.client, 'fleet', { requireShardIndex: true }),
    ).resolves.toBeUndefined();
    await expect(
      local.client.send(
        new CreateTableCommand({
          TableName: 'fleet',
          AttributeDefinitions: [{ AttributeName: FIELD.id, AttributeType: 'S' }],
          KeySchema: [{ AttributeName: FIELD.id, KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      ),
    ).rejects.toThrow();
  });
});

describe('shard loops on the screen', () => {
  it('names a shard execution by its shard', () => {
    expect(loopLabel(shardItemKey('s3'))).toBe('shard s3');
    expect(loopLabel('orders')).toBe('orders');
  });

  it('reports a shard taken when its lease epoch rises, with the execution that took it', () => {
    // prepare
    const life = new LoopLife();
    const shard = (epoch: number, owner: string): ShardItem => ({
      shard: 's0',
      lease: {
        owner: `arn:aws:states:us-east-1:123456789012:execution:loop:${owner}`,
        epoch,
        validUntilMs: 1_000 * epoch,
      },
      sleepUntilMs: undefined,
    });
    life.onShards([shard(1, 'a')]);

    // act
    const taken = life.onShards([shard(2, 'shard-s0-2-x')]);
    const renewed = life.onShards([{ ...shard(2, 'shard-s0-2-x'), sleepUntilMs: 5_000 }]);

    // assess
    expect(taken).toEqual([
      {
        event: 'shard-taken',
        shard: 's0',
        epoch: 2,
        executionArn: 'arn:aws:states:us-east-1:123456789012:execution:loop:shard-s0-2-x',
      },
    ]);
    expect(renewed).toEqual([]);
    expect(taken.map(formatLoopLife)).toEqual(['loop  shard s0  taken: epoch 2 by shard-s0-2-x']);
  });
});
