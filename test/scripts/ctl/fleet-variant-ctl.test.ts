import { type AttributeValue, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shardItemKey } from '../../../functions/fleet/shard-store';
import { FIELD } from '../../../functions/shared/contract';
import { runCtl } from '../../../scripts/ctl/run';
import { localTarget, type ResolvedTarget } from '../../../scripts/ctl/target';
import { LOCAL_TABLE_NAME } from '../../../scripts/local-stack/local-endpoints';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';

const NOW_MS = Date.parse('2030-01-01T12:00:00.000Z');
const MOVE_AT_MS = NOW_MS + 20_000;

/**
 * `ctl` on a fleet's table (the fleet variant), on dynalite: shard items (`~shard/s0`) are no pollers, a SHARD
 * column says where each poller is served, and a poller lives while its shard's lease runs.
 */
describe('ctl on a fleet table', () => {
  let dynamoDb: LocalDynamoDb;
  let target: ResolvedTarget;
  beforeEach(async () => {
    dynamoDb = await startLocalDynamoDb({ controlTable: LOCAL_TABLE_NAME });
    // Nothing listens on the services endpoint: these commands only read and write the table.
    target = localTarget({ dynamoDbEndpoint: dynamoDb.endpoint, servicesEndpoint: 'http://127.0.0.1:9' });
  });
  afterEach(async () => {
    await dynamoDb.close();
  });

  async function put(id: string, fields: Record<string, AttributeValue>) {
    await dynamoDb.client.send(
      new PutItemCommand({ TableName: LOCAL_TABLE_NAME, Item: { [FIELD.id]: { S: id }, ...fields } }),
    );
  }

  const poller = (shard: string, extra: Record<string, AttributeValue> = {}) => ({
    [FIELD.running]: { BOOL: true },
    [FIELD.waitSeconds]: { N: '1' },
    shard: { S: shard },
    ...extra,
  });

  /** s0 leased for 20 s more; s1's lease ran out a minute ago and nothing sleeps on it. */
  async function putFleet() {
    await put(shardItemKey('s0'), {
      leaseOwner: { S: 'arn:aws:states:us-east-1:123456789012:execution:loop:shard-s0-1-x' },
      leaseEpoch: { N: '1' },
      leaseUntil: { N: String(NOW_MS + 20_000) },
    });
    await put(shardItemKey('s1'), {
      leaseOwner: { S: 'arn:aws:states:us-east-1:123456789012:execution:loop:shard-s1-3-x' },
      leaseEpoch: { N: '3' },
      leaseUntil: { N: String(NOW_MS - 60_000) },
    });
    await put('a', poller('s0'));
    await put('b', poller('s0', { moveTo: { S: 's1' }, movedAt: { N: String(MOVE_AT_MS) } }));
    await put('c', poller('s1'));
  }

  async function ctl(argv: readonly string[], as: ResolvedTarget = target) {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const exitCode = await runCtl([...argv, '--local'], {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stderr.push(text),
      resolveTarget: async () => as,
      nowMs: () => NOW_MS,
    });
    return { exitCode, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
  }

  it('lists the pollers, not the shard items, with their shard and a state judged by the shard lease', async () => {
    // prepare
    await putFleet();

    // act
    const run = await ctl(['list', '--json']);

    // assess
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const lines = JSON.parse(run.stdout) as {
      pollerId: string;
      shard: string | null;
      state: string;
      stateReason: string | null;
    }[];
    expect(
      lines.map(({ pollerId, shard, state, stateReason }) => ({
        pollerId,
        shard,
        state,
        stateReason,
      })),
    ).toEqual([
      { pollerId: 'a', shard: 's0', state: 'running', stateReason: null },
      { pollerId: 'b', shard: 's0 → s1', state: 'running', stateReason: null },
      {
        pollerId: 'c',
        shard: 's1',
        state: 'stale',
        stateReason: 'shard s1 has no live owner (its lease ran out)',
      },
    ]);
  });

  it('shows a SHARD column after STATE only when a poller names a shard', async () => {
    // prepare
    await put('single', { [FIELD.running]: { BOOL: false }, [FIELD.waitSeconds]: { N: '1' } });
    const single = await ctl(['list']);
    await putFleet();

    // act
    const fleet = await ctl(['list']);

    // assess
    expect(single.stdout.split('\n')[0]).not.toContain('SHARD');
    expect(fleet.stdout.split('\n')[0]).toMatch(/^ID\s+STATE\s+SHARD\s+CADENCE/);
    expect(fleet.stdout).not.toContain('~shard/');
    expect(fleet.stdout).toMatch(/\nb\s+running\s+s0 → s1\s/);
  });

  it('prints the shard, and a pending move with its time, in status', async () => {
    // prepare
    await putFleet();

    // act
    const [a, b, c] = [await ctl(['status', 'a']), await ctl(['status', 'b']), await ctl(['status', 'c'])];

    // assess
    expect(a.stdout).toMatch(/\nshard\s+s0\n/);
    expect(b.stdout).toMatch(/\nshard\s+s0\n/);
    expect(b.stdout).toMatch(new RegExp(`\\nmoving to\\s+s1 at ${new Date(MOVE_AT_MS).toISOString()}\\n`));
    expect(c.stdout).toContain('shard s1 has no live owner');
  });

  it('start in a fleet table sets running=true and says how to start the fleet, taking no generation', async () => {
    // prepare
    await putFleet();
    await put('d', poller('s0', { [FIELD.running]: { BOOL: false } }));

    // act
    const run = await ctl(['start', 'd'], { ...target, local: false });

    // assess
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('is served by a fleet of shards');
    expect(run.stdout).toContain(`--input '{}'`);
    const { Item } = await dynamoDb.client.send(
      new GetItemCommand({
        TableName: LOCAL_TABLE_NAME,
        Key: { [FIELD.id]: { S: 'd' } },
        ConsistentRead: true,
      }),
    );
    expect(Item?.[FIELD.running]).toEqual({ BOOL: true });
    expect(Item?.[FIELD.generation]).toBeUndefined();
  });
});
