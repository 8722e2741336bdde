import { describe, expect, it } from 'vitest';
import { SHARD_CAPACITY_FIRES_PER_SECOND } from '../../../functions/fleet/fleet-plan';
import {
  fleetStartReason,
  maxShardsFrom,
  pollersToPlace,
  shardCapacityFrom,
} from '../../../functions/fleet/fleet-planner';
import { DEFAULT_MAX_SHARDS, ENV, FIELD } from '../../../functions/shared/contract';
import { InvalidEnvironmentError } from '../../../functions/shared/errors';
import { decodeItemChangeRecord } from '../../../functions/starter/item-change-record';

/** A stream record as DynamoDB Streams delivers it (NEW_AND_OLD_IMAGES), decoded as the router decodes it. */
const record = (
  pollerId: string,
  before: boolean | undefined | 'absent',
  after: boolean | undefined | 'removed',
) => {
  const image = (running: boolean | undefined) => ({
    [FIELD.id]: { S: pollerId },
    [FIELD.waitSeconds]: { N: '1' },
    ...(running === undefined ? {} : { [FIELD.running]: { BOOL: running } }),
  });
  return decodeItemChangeRecord({
    eventName: before === 'absent' ? 'INSERT' : after === 'removed' ? 'REMOVE' : 'MODIFY',
    eventSource: 'aws:dynamodb',
    dynamodb: {
      Keys: { [FIELD.id]: { S: pollerId } },
      ...(before === 'absent' ? {} : { OldImage: image(before) }),
      ...(after === 'removed' ? {} : { NewImage: image(after) }),
      SequenceNumber: '1',
    },
  });
};

describe('pollersToPlace', () => {
  it('takes a poller created running, and one switched on', () => {
    expect(pollersToPlace([record('new', 'absent', true), record('on', false, true)])).toEqual(['new', 'on']);
  });

  it('leaves every other change to the watchdog: a shard writing its claims, a stop, a removal, a poller created off', () => {
    expect(
      pollersToPlace([
        record('claims', true, true),
        record('stop', true, false),
        record('gone', true, 'removed'),
        record('off', 'absent', false),
        record('unset', undefined, undefined),
      ]),
    ).toEqual([]);
  });

  it("takes a running poller whose pending move the old shard completed (its new shard is woken), not the move's writing", () => {
    const image = (fields: Record<string, { S: string } | { N: string }>) => ({
      [FIELD.id]: { S: 'mover' },
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '1' },
      ...fields,
    });
    const change = (before: ReturnType<typeof image>, after: ReturnType<typeof image>) =>
      decodeItemChangeRecord({
        eventName: 'MODIFY',
        eventSource: 'aws:dynamodb',
        dynamodb: {
          Keys: { [FIELD.id]: { S: 'mover' } },
          OldImage: before,
          NewImage: after,
          SequenceNumber: '2',
        },
      });
    const pending = image({
      [FIELD.shard]: { S: 's0' },
      [FIELD.moveTo]: { S: 's1' },
      [FIELD.movedAt]: { N: '5' },
    });
    const flipped = image({ [FIELD.shard]: { S: 's1' }, [FIELD.movedAt]: { N: '5' } });
    expect(pollersToPlace([change(pending, flipped)])).toEqual(['mover']);
    expect(pollersToPlace([change(image({ [FIELD.shard]: { S: 's0' } }), pending)])).toEqual([]);
  });

  it("ignores a shard item's own changes and names a poller once per batch", () => {
    expect(
      pollersToPlace([
        record('~shard/s0', 'absent', true),
        record('a', false, true),
        record('a', false, true),
      ]),
    ).toEqual(['a']);
  });
});

describe('maxShardsFrom', () => {
  it('reads a whole number from 1, and falls back to the default when unset', () => {
    expect(maxShardsFrom({ [ENV.maxShards]: '12' })).toBe(12);
    expect(maxShardsFrom({})).toBe(DEFAULT_MAX_SHARDS);
    expect(maxShardsFrom({ [ENV.maxShards]: '' })).toBe(DEFAULT_MAX_SHARDS);
  });

  it.each(['0', '2.5', '-1', 'four', ' 3'])('refuses %j, naming the variable and the value', (value) => {
    const refusal = (() => {
      try {
        maxShardsFrom({ [ENV.maxShards]: value });
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(InvalidEnvironmentError);
    expect(String(refusal)).toContain(ENV.maxShards);
    expect(String(refusal)).toContain(JSON.stringify(value));
  });
});

describe('shardCapacityFrom', () => {
  it('reads a whole number from 1, and falls back to the planned capacity when unset (as the templates leave it)', () => {
    expect(shardCapacityFrom({ [ENV.shardCapacity]: '30' })).toBe(30);
    expect(shardCapacityFrom({})).toBe(SHARD_CAPACITY_FIRES_PER_SECOND);
    expect(shardCapacityFrom({ [ENV.shardCapacity]: '' })).toBe(SHARD_CAPACITY_FIRES_PER_SECOND);
  });

  it.each(['0', '12.5', 'fast'])('refuses %j, naming the variable and the value', (value) => {
    expect(() => shardCapacityFrom({ [ENV.shardCapacity]: value })).toThrow(
      new InvalidEnvironmentError(ENV.shardCapacity, value, 'must be a whole number from 1'),
    );
  });
});

describe('fleetStartReason', () => {
  const report = (starts: { shard: string; outcome: 'started' | 'exists' | 'failed' }[], active = 0) => ({
    checked: 0,
    counts: { active, stale: 0, unplaced: 0 },
    shardCount: starts.length,
    overloaded: [],
    writes: { written: 0, changed: 0, missing: 0, failed: 0 },
    starts: starts.map((start) => ({
      ...start,
      executionName: `shard-${start.shard}-1-0`,
      why: 'no-owner' as const,
    })),
  });

  it('names the shards started', () => {
    expect(
      fleetStartReason(
        report([
          { shard: 's0', outcome: 'started' },
          { shard: 's1', outcome: 'exists' },
        ]),
      ),
    ).toBe('fleet started: s0, s1');
  });

  it('says when every shard was already served, and names a start that failed', () => {
    expect(fleetStartReason(report([], 3))).toBe(
      'fleet started: no shard needed a start (3 running pollers served)',
    );
    expect(
      fleetStartReason(
        report([
          { shard: 's0', outcome: 'started' },
          { shard: 's1', outcome: 'failed' },
        ]),
      ),
    ).toBe('fleet started: s0; could not start s1 (the watchdog tries again)');
  });
});
