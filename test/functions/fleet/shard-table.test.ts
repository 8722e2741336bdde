import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeLoopState } from '../../../functions/controller/parse-input';
import type { ShardLease } from '../../../functions/fleet/shard-lease';
import { shardItemKey } from '../../../functions/fleet/shard-store';
import { SHARD_ITEM_FIELD, ShardTable } from '../../../functions/fleet/shard-table';
import { FIELD, type LoopState } from '../../../functions/shared/contract';
import { decodePollerItem, type RawItem } from '../../../functions/shared/control-item';
import { ControlTable } from '../../../functions/shared/control-table';
import { InvalidShardItemError } from '../../../functions/shared/errors';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';

const TABLE_NAME = 'control';
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const AT = '2030-01-01T00:00:00.000Z';

let local: LocalDynamoDb;
let table: ShardTable;
let counter = 0;
let shard: string;
let pollerId: string;

beforeAll(async () => {
  local = await startLocalDynamoDb({ controlTable: TABLE_NAME });
  table = new ShardTable(local.client, TABLE_NAME);
});

afterAll(async () => {
  await local?.close();
});

beforeEach(() => {
  counter += 1;
  shard = `s${counter}`;
  pollerId = `poller-${counter}`;
});

async function put(fields: RawItem, id = pollerId): Promise<void> {
  await local.client.send(
    new PutItemCommand({ TableName: TABLE_NAME, Item: { [FIELD.id]: { S: id }, ...fields } }),
  );
}

async function raw(id = pollerId): Promise<RawItem | undefined> {
  const result = await local.client.send(
    new GetItemCommand({ TableName: TABLE_NAME, Key: { [FIELD.id]: { S: id } }, ConsistentRead: true }),
  );
  return result.Item;
}

function lease(owner: string, epoch: number, validUntilMs: number): ShardLease {
  return { owner, epoch, validUntilMs };
}

function loop(nextSeq: number): LoopState {
  return {
    nextSeq,
    anchorAt: T0,
    anchorSeq: 1,
    claimedThroughSeq: nextSeq - 1,
    generation: 1,
    config: { running: true, intervalMs: 1_000, target: undefined, payload: undefined },
    executionId: 'arn:exec:a',
    historyEvents: 0,
    historyBudget: 20_000,
    skippedTicks: 0,
  };
}

const RUNNING: RawItem = { [FIELD.running]: { BOOL: true }, [FIELD.waitSeconds]: { N: '1' } };

describe('ShardTable: the lease', () => {
  it('takes a shard with no item at epoch 1, and a second taker of the same read loses', async () => {
    // act
    const [first, second] = await Promise.all([
      table.takeLease(shard, lease('arn:a', 1, T0 + 30_000), undefined),
      table.takeLease(shard, lease('arn:b', 1, T0 + 30_000), undefined),
    ]);

    // assess
    const kinds = [first.kind, second.kind].sort();
    expect(kinds).toEqual(['lost', 'written']);
    const winner = first.kind === 'written' ? 'arn:a' : 'arn:b';
    const lost = first.kind === 'lost' ? first : second;
    expect(lost.kind === 'lost' && lost.current?.lease?.owner).toBe(winner);
    expect(await table.readShard(shard)).toEqual({
      shard,
      lease: lease(winner, 1, T0 + 30_000),
      sleepUntilMs: undefined,
    });
  });

  it('two takers of a lease that ran out: exactly one wins epoch+1', async () => {
    // arrange
    const old = lease('arn:dead', 4, T0);
    await table.takeLease(shard, old, undefined);

    // act
    const outcomes = await Promise.all(
      ['arn:a', 'arn:b', 'arn:c'].map((owner) => table.takeLease(shard, lease(owner, 5, T0 + 30_000), old)),
    );

    // assess
    expect(outcomes.filter((outcome) => outcome.kind === 'written')).toHaveLength(1);
    expect((await table.readShard(shard))?.lease?.epoch).toBe(5);
  });

  it('a take of a lease that was renewed after the read loses (the owner is alive)', async () => {
    // arrange
    const read = lease('arn:slow', 2, T0);
    await table.takeLease(shard, read, undefined);
    await table.renewLease(shard, lease('arn:slow', 2, T0 + 30_000), T0 - 1);

    // act
    const take = await table.takeLease(shard, lease('arn:new', 3, T0 + 40_000), read);

    // assess
    expect(take.kind).toBe('lost');
    expect((await table.readShard(shard))?.lease).toEqual(lease('arn:slow', 2, T0 + 30_000));
  });

  it("refuses a stale owner's renewal and release after a takeover", async () => {
    // arrange
    const stale = lease('arn:stale', 1, T0);
    await table.takeLease(shard, stale, undefined);
    await table.takeLease(shard, lease('arn:new', 2, T0 + 30_000), stale);

    // act
    const renewal = await table.renewLease(shard, lease('arn:stale', 1, T0 + 60_000), T0 - 1);
    const release = await table.releaseLease(shard, lease('arn:stale', 1, T0), T0 + 5_000);

    // assess
    expect(renewal).toEqual({
      kind: 'lost',
      current: { shard, lease: lease('arn:new', 2, T0 + 30_000), sleepUntilMs: undefined },
    });
    expect(release.kind).toBe('lost');
    expect((await table.readShard(shard))?.lease?.owner).toBe('arn:new');
  });

  it('renews only a live lease: a released one, its own included, is re-taken at the next epoch, clearing sleepUntil', async () => {
    // arrange
    const held = lease('arn:a', 1, T0 + 30_000);
    await table.takeLease(shard, held, undefined);
    const live = await table.renewLease(shard, lease('arn:a', 1, T0 + 40_000), T0 + 10_000);

    // act
    const release = await table.releaseLease(shard, lease('arn:a', 1, T0 + 11_000), T0 + 20_000);
    const asleep = await table.readShard(shard);
    const renewal = await table.renewLease(shard, lease('arn:a', 1, T0 + 50_000), T0 + 20_000);
    const retake = await table.takeLease(shard, lease('arn:a', 2, T0 + 50_000), asleep?.lease);

    // assess
    expect(live.kind).toBe('written');
    expect(release.kind).toBe('written');
    expect(asleep).toEqual({ shard, lease: lease('arn:a', 1, T0 + 11_000), sleepUntilMs: T0 + 20_000 });
    // Owner and epoch still hold, but the lease ran out: the planner may have reassigned its pollers meanwhile.
    expect(renewal).toEqual({ kind: 'lost', current: asleep });
    expect(retake.kind).toBe('written');
    expect(await table.readShard(shard)).toEqual({
      shard,
      lease: lease('arn:a', 2, T0 + 50_000),
      sleepUntilMs: undefined,
    });
  });

  it('refuses the renewal of a lease that ran out while its owner was frozen, at its last millisecond too', async () => {
    // arrange
    await table.takeLease(shard, lease('arn:a', 1, T0 + 30_000), undefined);

    // act
    const atEnd = await table.renewLease(shard, lease('arn:a', 1, T0 + 60_000), T0 + 30_000);
    const justBefore = await table.renewLease(shard, lease('arn:a', 1, T0 + 59_999), T0 + 29_999);

    // assess
    expect(atEnd.kind).toBe('lost');
    expect(justBefore.kind).toBe('written');
  });

  it('a fresh execution takes a released lease; the sleeper coming back is refused', async () => {
    // arrange
    await table.takeLease(shard, lease('arn:a', 1, T0 + 30_000), undefined);
    await table.releaseLease(shard, lease('arn:a', 1, T0 + 1_000), T0 + 20_000);
    const read = await table.readShard(shard);

    // act
    const take = await table.takeLease(shard, lease('arn:b', 2, T0 + 32_000), read?.lease);
    const back = await table.renewLease(shard, lease('arn:a', 1, T0 + 50_000), T0);

    // assess
    expect(take.kind).toBe('written');
    expect(back.kind).toBe('lost');
    expect((await table.readShard(shard))?.sleepUntilMs).toBeUndefined();
  });

  it('lists every shard item and refuses a hand-edited lease, naming the field', async () => {
    // arrange
    await table.takeLease(shard, lease('arn:a', 1, T0), undefined);
    const broken = `s${counter}9`;
    await put({ [SHARD_ITEM_FIELD.leaseEpoch]: { S: 'one' } }, shardItemKey(broken));

    // act
    const listing = table.listShards();

    // assess
    await expect(listing).rejects.toBeInstanceOf(InvalidShardItemError);
    await expect(table.readShard(broken)).rejects.toThrow(/leaseEpoch .*S "one"/);
    await put({}, shardItemKey(broken));
    const shards = await table.listShards();
    expect(shards.map((item) => item.shard)).toContain(shard);
    expect(shards.find((item) => item.shard === shard)?.lease).toEqual(lease('arn:a', 1, T0));
  });
});

describe('ShardTable: writes on poller items', () => {
  const claim = (nextSeq: number, claimedSeq: number) =>
    ({
      kind: 'claim',
      loop: loop(nextSeq),
      claimedSeq,
      lastSeq: nextSeq - 1,
      lastTickAt: AT,
      nextTickAt: AT,
    }) as const;

  it('a claim records the grid, the epoch and the progress, and claimedSeq only rises', async () => {
    // arrange
    await put({ ...RUNNING, [FIELD.shard]: { S: shard }, [FIELD.claimedSeq]: { N: '300' } });

    // act
    const lower = await table.writePoller(pollerId, shard, 3, { ...claim(10, 200), skippedTicksAdded: 2 });
    const higher = await table.writePoller(pollerId, shard, 3, claim(12, 400));

    // assess
    expect([lower, higher]).toEqual(['written', 'written']);
    const item = await raw();
    expect(item?.[FIELD.claimedSeq]).toEqual({ N: '400' });
    expect(item?.[FIELD.seq]).toEqual({ N: '11' });
    expect(item?.[FIELD.shardEpoch]).toEqual({ N: '3' });
    expect(item?.[FIELD.skippedTicks]).toEqual({ N: '2' });
    // `by` first: the shard that recorded the loop, matched as a prefix by the writes' conditions.
    expect(item?.[FIELD.shardLoop]?.S?.startsWith(`{"by":"${shard}",`)).toBe(true);
    expect(JSON.parse(item?.[FIELD.shardLoop]?.S ?? '')).toEqual({ by: shard, ...encodeLoopState(loop(12)) });
    expect(decodePollerItem(pollerId, item ?? {}).shardLoopBy).toBe(shard);
  });

  it('adds the skips, failed fires and overlap skips a claim carries to the counts on the item', async () => {
    // arrange
    await put({ ...RUNNING, [FIELD.shard]: { S: shard }, [FIELD.skippedTicks]: { N: '5' } });

    // act
    await table.writePoller(pollerId, shard, 1, {
      ...claim(10, 200),
      skippedTicksAdded: 2,
      failedFiresAdded: 1,
      overlapSkipsAdded: 3,
    });
    await table.writePoller(pollerId, shard, 1, claim(11, 300));

    // assess
    const item = await raw();
    expect(item?.[FIELD.skippedTicks]).toEqual({ N: '7' });
    expect(item?.[FIELD.failedFires]).toEqual({ N: '1' });
    expect(item?.[FIELD.overlapSkips]).toEqual({ N: '3' });
  });

  it('the claim with the lower seq keeps the higher claim even when it lands second', async () => {
    // arrange
    await put({ ...RUNNING, [FIELD.shard]: { S: shard } });
    await table.writePoller(pollerId, shard, 1, claim(12, 400));

    // act
    const outcome = await table.writePoller(pollerId, shard, 1, claim(10, 200));

    // assess
    expect(outcome).toBe('written');
    expect((await raw())?.[FIELD.claimedSeq]).toEqual({ N: '400' });
  });

  it('never lowers shardEpoch: an older epoch of the same shard is not ours', async () => {
    // arrange
    await put({ ...RUNNING, [FIELD.shard]: { S: shard } });
    await table.writePoller(pollerId, shard, 5, claim(10, 200));

    // act
    const outcomes = await Promise.all([
      table.writePoller(pollerId, shard, 4, claim(11, 300)),
      table.writePoller(pollerId, shard, 4, { kind: 'stopped', reason: 'running is false', at: AT }),
      table.writePoller(pollerId, shard, 4, { kind: 'notes', notes: ['x'], at: AT }),
    ]);

    // assess
    expect(outcomes).toEqual(['not-ours', 'not-ours', 'not-ours']);
    const item = await raw();
    expect(item?.[FIELD.shardEpoch]).toEqual({ N: '5' });
    expect(item?.[FIELD.claimedSeq]).toEqual({ N: '200' });
    expect(item?.[FIELD.stoppedReason]).toBeUndefined();
  });

  it("a hand edit of `shard` onto this shard: the other shard's higher epoch does not fence it out, its own later epoch still does", async () => {
    // arrange: s0 recorded the loop at epoch 9; an operator then wrote shard := this shard in the console.
    await put({ ...RUNNING, [FIELD.shard]: { S: 's0' } });
    await table.writePoller(pollerId, 's0', 9, claim(10, 200));
    await put({ ...((await raw()) ?? {}), [FIELD.shard]: { S: shard } });

    // act
    const handEdited = await table.writePoller(pollerId, shard, 2, claim(11, 300));
    const olderOfOurs = await table.writePoller(pollerId, shard, 1, claim(12, 400));

    // assess
    expect([handEdited, olderOfOurs]).toEqual(['written', 'not-ours']);
    const item = await raw();
    expect(item?.[FIELD.shardEpoch]).toEqual({ N: '2' });
    expect(item?.[FIELD.claimedSeq]).toEqual({ N: '300' });
  });

  it('a record that names no shard (written before shards named themselves) is fenced by its epoch, as before', async () => {
    // arrange
    const unnamed = JSON.stringify(encodeLoopState(loop(10)));
    await put({
      ...RUNNING,
      [FIELD.shard]: { S: shard },
      [FIELD.shardEpoch]: { N: '9' },
      [FIELD.shardLoop]: { S: unnamed },
    });

    // act
    const outcome = await table.writePoller(pollerId, shard, 2, claim(11, 300));

    // assess
    expect(outcome).toBe('not-ours');
    expect((await raw())?.[FIELD.shardLoop]).toEqual({ S: unnamed });
  });

  it('a write on an item another shard serves is not ours, on a deleted item missing', async () => {
    // arrange
    await put({ ...RUNNING, [FIELD.shard]: { S: 's0' } });

    // act
    const other = await table.writePoller(pollerId, shard, 1, claim(10, 200));
    const missing = await table.writePoller('nobody-here', shard, 1, claim(10, 200));

    // assess
    expect(other).toBe('not-ours');
    expect(missing).toBe('missing');
    expect((await raw())?.[FIELD.claimedSeq]).toBeUndefined();
  });

  it('records a stop, notes and their clearing', async () => {
    // arrange
    await put({ ...RUNNING, [FIELD.shard]: { S: shard }, [FIELD.nextTickAt]: { S: AT } });

    // act
    await table.writePoller(pollerId, shard, 1, { kind: 'stopped', reason: 'running is false', at: AT });
    await table.writePoller(pollerId, shard, 1, { kind: 'notes', notes: ['a', 'b'], at: AT });
    const noted = await raw();
    await table.writePoller(pollerId, shard, 1, { kind: 'notes', notes: [], at: AT });

    // assess
    expect(noted?.[FIELD.stoppedReason]).toEqual({ S: 'running is false' });
    expect(noted?.[FIELD.nextTickAt]).toBeUndefined();
    expect(noted?.[FIELD.lastError]).toEqual({ M: { message: { S: 'a; b' }, at: { S: AT } } });
    expect((await raw())?.[FIELD.lastError]).toBeUndefined();
  });

  it('a moved-out flip names the new shard, records the loop, drops the old epoch; the old shard is then not ours', async () => {
    // arrange
    await put({
      ...RUNNING,
      [FIELD.shard]: { S: shard },
      [FIELD.moveTo]: { S: 's0' },
      [FIELD.movedAt]: { N: String(T0) },
      [FIELD.shardEpoch]: { N: '7' },
    });

    // act
    const flip = await table.writePoller(pollerId, shard, 7, { kind: 'moved-out', to: 's0', loop: loop(20) });
    const after = await table.writePoller(pollerId, shard, 7, claim(21, 400));
    const newShard = await table.writePoller(pollerId, 's0', 1, claim(21, 400));

    // assess
    expect([flip, after, newShard]).toEqual(['written', 'not-ours', 'written']);
    const item = await raw();
    expect(item?.[FIELD.shard]).toEqual({ S: 's0' });
    expect(item?.[FIELD.moveTo]).toBeUndefined();
    expect(item?.[FIELD.movedAt]).toEqual({ N: String(T0) });
    expect(item?.[FIELD.shardEpoch]).toEqual({ N: '1' });
  });

  it('a moved-out flip holds only while the pending move still names that shard', async () => {
    // arrange
    await put({ ...RUNNING, [FIELD.shard]: { S: shard }, [FIELD.moveTo]: { S: 's0' } });

    // act
    const outcome = await table.writePoller(pollerId, shard, 1, {
      kind: 'moved-out',
      to: 's9',
      loop: undefined,
    });

    // assess
    expect(outcome).toBe('not-ours');
    expect((await raw())?.[FIELD.shard]).toEqual({ S: shard });
  });
});

describe('ShardTable: placement', () => {
  it('places an unplaced poller once; a second place is refused as changed', async () => {
    // arrange
    await put({ ...RUNNING, [FIELD.shardEpoch]: { N: '9' } });

    // act
    const [first, second] = await Promise.all([
      table.place(pollerId, { kind: 'place', to: shard }),
      table.place(pollerId, { kind: 'place', to: 's0' }),
    ]);

    // assess
    expect([first, second].sort()).toEqual(['changed', 'written']);
    expect((await raw())?.[FIELD.shardEpoch]).toBeUndefined();
    expect(await table.place('nobody-here', { kind: 'place', to: shard })).toBe('missing');
  });

  it('a move holds only from the shard named and with no move pending', async () => {
    // arrange
    await put({ ...RUNNING, [FIELD.shard]: { S: shard } });

    // act
    const wrongFrom = await table.place(pollerId, { kind: 'move', from: 's0', to: 's1', atMs: T0 });
    const moved = await table.place(pollerId, { kind: 'move', from: shard, to: 's0', atMs: T0 });
    const again = await table.place(pollerId, { kind: 'move', from: shard, to: 's1', atMs: T0 });

    // assess
    expect([wrongFrom, moved, again]).toEqual(['changed', 'written', 'changed']);
    const item = await raw();
    expect(item?.[FIELD.shard]).toEqual({ S: shard });
    expect(item?.[FIELD.moveTo]).toEqual({ S: 's0' });
    expect(item?.[FIELD.movedAt]).toEqual({ N: String(T0) });
  });

  it('a reassign from a dead shard replaces a pending move and keeps the recorded loop', async () => {
    // arrange
    const recorded = JSON.stringify(encodeLoopState(loop(30)));
    await put({
      ...RUNNING,
      [FIELD.shard]: { S: shard },
      [FIELD.moveTo]: { S: 's0' },
      [FIELD.shardEpoch]: { N: '3' },
      [FIELD.shardLoop]: { S: recorded },
    });

    // act
    const wrongFrom = await table.place(pollerId, { kind: 'reassign', from: 's0', to: 's2', atMs: T0 });
    const reassigned = await table.place(pollerId, { kind: 'reassign', from: shard, to: 's2', atMs: T0 + 5 });

    // assess
    expect([wrongFrom, reassigned]).toEqual(['changed', 'written']);
    const item = await raw();
    expect(item?.[FIELD.shard]).toEqual({ S: 's2' });
    expect(item?.[FIELD.moveTo]).toBeUndefined();
    expect(item?.[FIELD.shardEpoch]).toBeUndefined();
    expect(item?.[FIELD.movedAt]).toEqual({ N: String(T0 + 5) });
    expect(item?.[FIELD.shardLoop]).toEqual({ S: recorded });
  });
});

describe('ShardTable: queryMembers', () => {
  it("maps a pending move to the new shard's placement and decodes the recorded loop", async () => {
    // arrange
    const staying = `${pollerId}-stays`;
    const leaving = `${pollerId}-leaves`;
    await put({ ...RUNNING, [FIELD.shard]: { S: shard } }, staying);
    await put(
      {
        ...RUNNING,
        [FIELD.shard]: { S: shard },
        [FIELD.moveTo]: { S: 's0' },
        [FIELD.movedAt]: { N: String(T0) },
        [FIELD.shardLoop]: { S: JSON.stringify(encodeLoopState(loop(40))) },
        [FIELD.shardEpoch]: { N: '2' },
      },
      leaving,
    );
    await put({ ...RUNNING, [FIELD.shard]: { S: 's0' } }, `${pollerId}-elsewhere`);
    await table.takeLease(shard, lease('arn:a', 1, T0), undefined);

    // act
    const members = await table.queryMembers(shard);

    // assess
    const byId = new Map(members.map((member) => [member.item.pollerId, member]));
    expect([...byId.keys()].sort()).toEqual([leaving, staying]);
    expect(byId.get(staying)?.placement).toEqual({ shard, movedAtMs: undefined });
    expect(byId.get(leaving)?.placement).toEqual({ shard: 's0', movedAtMs: T0 });
    expect(byId.get(leaving)?.recordedLoop).toEqual(loop(40));
    expect(byId.get(leaving)?.recordedEpoch).toBe(2);
    expect(byId.get(staying)?.recordedLoop).toBeUndefined();
  });

  it('reads an unreadable shardLoop as absent, with the problem named on the item', async () => {
    // arrange
    await put({ ...RUNNING, [FIELD.shard]: { S: shard }, [FIELD.shardLoop]: { S: '{"nextSeq":-1}' } });

    // act
    const [member] = await table.queryMembers(shard);

    // assess
    expect(member?.recordedLoop).toBeUndefined();
    expect(member?.item.systemProblems.map((problem) => problem.field)).toEqual([FIELD.shardLoop]);
  });
});

describe('ControlTable: shard items are no pollers', () => {
  it('listAll and scanImages leave ~shard/ items out', async () => {
    // arrange
    await table.takeLease(shard, lease('arn:a', 1, T0), undefined);
    await put(RUNNING);

    // act
    const ids = (await new ControlTable(local.client, TABLE_NAME).listAll()).map((item) => item.pollerId);

    // assess
    expect(ids).toContain(pollerId);
    expect(ids.filter((id) => id.startsWith('~'))).toEqual([]);
  });
});
