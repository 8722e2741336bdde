import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type FleetPoller,
  planFleet,
  SHARD_CAPACITY_FIRES_PER_SECOND,
  SLEEP_SLACK_MS,
  shardExecutionName,
  shardStanding,
  WAKE_WITHIN_MS,
} from '../../../functions/fleet/fleet-plan';
import type { ShardItem } from '../../../functions/fleet/shard-store';
import { FIELD } from '../../../functions/shared/contract';
import { decodePollerItem, type RawItem } from '../../../functions/shared/control-item';

/** Deliberately not on a whole second. */
const T0 = Date.parse('2030-01-01T00:00:00.250Z');
const MAX_SHARDS = 4;

interface PollerSpec {
  readonly waitSeconds?: number;
  readonly running?: boolean;
  readonly shard?: string;
  readonly moveTo?: string;
  readonly movedAtMs?: number;
}

const poller = (pollerId: string, spec: PollerSpec = {}): FleetPoller => {
  const raw: RawItem = {
    [FIELD.id]: { S: pollerId },
    [FIELD.running]: { BOOL: spec.running ?? true },
    [FIELD.waitSeconds]: { N: String(spec.waitSeconds ?? 1) },
  };
  return {
    ...decodePollerItem(pollerId, raw),
    shard: spec.shard,
    moveTo: spec.moveTo,
    movedAt: spec.movedAtMs,
  };
};

/** A shard whose lease runs until `validUntilMs` (a live owner when after now). */
const leased = (shard: string, validUntilMs: number, epoch = 3): ShardItem => ({
  shard,
  lease: { owner: `arn:exec:${shard}-${epoch}`, epoch, validUntilMs },
  sleepUntilMs: undefined,
});

/** A shard whose execution handed back at `releasedAtMs` and sleeps until `sleepUntilMs`. */
const sleeping = (shard: string, releasedAtMs: number, sleepUntilMs: number, epoch = 2): ShardItem => ({
  shard,
  lease: { owner: `arn:exec:${shard}-${epoch}`, epoch, validUntilMs: releasedAtMs },
  sleepUntilMs,
});

/** `count` pollers at 1 s (1 fire/s each) placed on `shard`. */
const onShard = (shard: string, count: number, prefix = shard): FleetPoller[] =>
  Array.from({ length: count }, (_, index) => poller(`${prefix}-p${index}`, { shard }));

const plan = (
  pollers: readonly FleetPoller[],
  shards: readonly ShardItem[],
  nowMs = T0,
  changed?: readonly string[],
) =>
  planFleet(pollers, shards, nowMs, {
    maxShards: MAX_SHARDS,
    capacityFiresPerSecond: 10,
    changed: changed === undefined ? undefined : new Set(changed),
  });

describe('shardStanding', () => {
  it('is leased while the lease runs, sleeping until sleepUntil + slack, dead after', () => {
    expect(shardStanding(leased('s0', T0 + 1), T0)).toBe('leased');
    expect(shardStanding(leased('s0', T0), T0)).toBe('dead');
    expect(shardStanding(sleeping('s0', T0 - 1_000, T0 + 30_000), T0)).toBe('sleeping');
    expect(shardStanding(sleeping('s0', T0 - 60_000, T0 - SLEEP_SLACK_MS + 1), T0)).toBe('sleeping');
    expect(shardStanding(sleeping('s0', T0 - 60_000, T0 - SLEEP_SLACK_MS), T0)).toBe('dead');
    expect(shardStanding(undefined, T0)).toBe('dead');
    expect(shardStanding({ shard: 's0', lease: undefined, sleepUntilMs: undefined }, T0)).toBe('dead');
  });
});

describe('planFleet', () => {
  it('places the fleet at its first start on ceil(load / capacity) shards and starts exactly those', () => {
    const pollers = Array.from({ length: 30 }, (_, index) => poller(`p${index}`));

    const result = plan(pollers, []);

    expect(result.assignment.shardCount).toBe(3);
    expect(result.writes).toHaveLength(30);
    expect(result.writes.every(({ write }) => write.kind === 'place')).toBe(true);
    const used = new Set(result.writes.map(({ write }) => ('to' in write ? write.to : '')));
    expect([...used].sort()).toEqual(['s0', 's1', 's2']);
    expect(result.starts).toEqual([
      { shard: 's0', nextEpoch: 1, why: 'no-owner' },
      { shard: 's1', nextEpoch: 1, why: 'no-owner' },
      { shard: 's2', nextEpoch: 1, why: 'no-owner' },
    ]);
    expect(result.counts).toEqual({ active: 0, stale: 30, unplaced: 30 });
  });

  it('places a new poller on one shard and moves no other', () => {
    const before = [...onShard('s0', 5), ...onShard('s1', 5)];
    const shards = [leased('s0', T0 + 20_000), leased('s1', T0 + 20_000)];

    const result = plan([...before, poller('newcomer')], shards);

    expect(result.writes).toHaveLength(1);
    expect(result.writes[0]?.pollerId).toBe('newcomer');
    expect(result.writes[0]?.write.kind).toBe('place');
    expect(result.starts).toEqual([]);
    expect(result.counts).toEqual({ active: 10, stale: 1, unplaced: 1 });
  });

  it("reassigns a removed, dead shard's pollers no earlier than its validUntil", () => {
    // The load fits one shard now; s1's owner died (its lease ran out 3 s ago).
    const s1ValidUntil = T0 - 3_000;
    const pollers = [...onShard('s0', 2), ...onShard('s1', 2)];
    const shards = [leased('s0', T0 + 20_000), leased('s1', s1ValidUntil, 7)];

    const result = planFleet(pollers, shards, T0, { maxShards: MAX_SHARDS, capacityFiresPerSecond: 10 });

    expect(result.assignment.shardCount).toBe(1);
    const moves = result.writes.filter(({ pollerId }) => pollerId.startsWith('s1-'));
    expect(moves).toHaveLength(2);
    for (const { write } of moves) {
      expect(write).toMatchObject({ kind: 'reassign', from: 's1', to: 's0' });
      if (write.kind !== 'reassign') throw new Error('not a reassign');
      expect(write.atMs).toBeGreaterThanOrEqual(s1ValidUntil);
    }
    expect(result.writes.filter(({ pollerId }) => pollerId.startsWith('s0-'))).toEqual([]);
    expect(result.starts).toEqual([]);
    expect(result.counts).toEqual({ active: 2, stale: 2, unplaced: 0 });
  });

  it('reassigns the pollers of a removed shard that has no item at once', () => {
    const pollers = [...onShard('s0', 1), ...onShard('s5', 1)];
    const result = plan(pollers, [leased('s0', T0 + 20_000)]);
    expect(result.writes).toEqual([
      { pollerId: 's5-p0', write: { kind: 'reassign', from: 's5', to: 's0', atMs: T0 } },
    ]);
  });

  it('keeps a dead shard that still has its pollers and starts a new execution at the next epoch', () => {
    const pollers = onShard('s0', 3);

    const result = plan(pollers, [leased('s0', T0 - 1, 4)]);

    expect(result.writes).toEqual([]);
    expect(result.starts).toEqual([{ shard: 's0', nextEpoch: 5, why: 'no-owner' }]);
    expect(result.counts).toEqual({ active: 0, stale: 3, unplaced: 0 });
  });

  it('leaves a live shard alone', () => {
    const result = plan(onShard('s0', 3), [leased('s0', T0 + 1)]);
    expect(result.writes).toEqual([]);
    expect(result.starts).toEqual([]);
    expect(result.counts).toEqual({ active: 3, stale: 0, unplaced: 0 });
  });

  it('moves pollers off a live shard over capacity with `move` at its validUntil, never `reassign`', () => {
    // 14 fires/s on s0 with room for 10: four must go to s1.
    const validUntil = T0 + 25_000;
    const pollers = [...onShard('s0', 14), ...onShard('s1', 1)];
    const shards = [leased('s0', validUntil), leased('s1', T0 + 25_000)];

    const result = plan(pollers, shards);

    expect(result.writes).toHaveLength(4);
    for (const { write } of result.writes) {
      expect(write).toEqual({ kind: 'move', from: 's0', to: 's1', atMs: validUntil });
    }
    expect(result.starts).toEqual([]);
  });

  it('moves pollers off a sleeping shard with `move` too (its execution re-takes the lease when it wakes)', () => {
    const pollers = [...onShard('s0', 14), ...onShard('s1', 1)];
    const shards = [sleeping('s0', T0 - 2_000, T0 + 40_000), leased('s1', T0 + 25_000)];

    const result = plan(pollers, shards);

    expect(result.writes.length).toBeGreaterThan(0);
    for (const { write } of result.writes)
      expect(write).toEqual({ kind: 'move', from: 's0', to: 's1', atMs: T0 });
  });

  it('does not restart a sleeping shard before its sleepUntil + slack, and does after', () => {
    const sleepUntil = T0 + 40_000;
    const pollers = onShard('s0', 2);
    const shards = [sleeping('s0', T0 - 5_000, sleepUntil)];

    for (const nowMs of [T0, sleepUntil, sleepUntil + SLEEP_SLACK_MS - 1]) {
      expect(plan(pollers, shards, nowMs).starts).toEqual([]);
    }
    expect(plan(pollers, shards, sleepUntil + SLEEP_SLACK_MS).starts).toEqual([
      { shard: 's0', nextEpoch: 3, why: 'no-owner' },
    ]);
  });

  it('gives stopped pollers no load: they take no shard and start none', () => {
    const stopped = Array.from({ length: 40 }, (_, index) => poller(`off${index}`, { running: false }));

    const result = plan([...stopped, poller('on')], []);

    expect(result.assignment.shardCount).toBe(1);
    expect(result.writes).toEqual([{ pollerId: 'on', write: { kind: 'place', to: 's0' } }]);
    expect(result.starts).toEqual([{ shard: 's0', nextEpoch: 1, why: 'no-owner' }]);
    expect(result.counts).toEqual({ active: 0, stale: 1, unplaced: 1 });
  });

  it('starts nothing for a shard whose pollers are all stopped', () => {
    const result = plan([poller('off', { running: false, shard: 's0' })], [leased('s0', T0 - 60_000)]);
    expect(result.starts).toEqual([]);
    expect(result.writes).toEqual([]);
    expect(result.counts).toEqual({ active: 0, stale: 0, unplaced: 0 });
  });

  describe('pending moves', () => {
    const movedAt = T0 + 10_000;
    const moving = poller('mover', { shard: 's1', moveTo: 's0', movedAtMs: movedAt });

    it('are left to a live old shard (it flips the item itself)', () => {
      const result = plan([moving], [leased('s1', movedAt), leased('s0', T0 + 20_000)]);
      expect(result.writes).toEqual([]);
    });

    it('are completed by a reassign at ≥ movedAt when the old shard died', () => {
      const result = plan([moving], [leased('s1', T0 - 100), leased('s0', T0 + 20_000)]);
      expect(result.writes).toEqual([
        { pollerId: 'mover', write: { kind: 'reassign', from: 's1', to: 's0', atMs: movedAt } },
      ]);
      expect(result.starts).toEqual([]);
    });

    it('count at their destination, which is started once the old shard has flipped the item, not before', () => {
      const before = plan([moving], [leased('s1', movedAt)]);
      expect(before.writes).toEqual([]);
      expect(before.starts).toEqual([]);
      const flipped = poller('mover', { shard: 's0', movedAtMs: movedAt });
      expect(plan([flipped], [leased('s1', movedAt)], movedAt + 1).starts).toEqual([
        { shard: 's0', nextEpoch: 1, why: 'no-owner' },
      ]);
    });

    it('start the destination of a planned move only after the flip, while a reassign starts it at once', () => {
      const pollers = [...onShard('s0', 14), ...onShard('s1', 1)];
      const liveOld = plan(pollers, [leased('s0', T0 + 25_000)]);
      expect(liveOld.writes.every(({ write }) => write.kind === 'move')).toBe(true);
      expect(liveOld.starts).toEqual([{ shard: 's1', nextEpoch: 1, why: 'no-owner' }]);
      const onlyMovers = plan(onShard('s0', 14), [leased('s0', T0 + 25_000)]);
      expect(onlyMovers.writes.length).toBeGreaterThan(0);
      expect(onlyMovers.starts).toEqual([]);
    });
  });

  describe('narrowed to the pollers a stream batch changed', () => {
    it('places only the changed pollers and starts only their shards', () => {
      const pollers = [poller('a'), poller('b', { shard: 's0' })];
      const result = plan(pollers, [leased('s0', T0 - 1)], T0, ['a']);
      expect(result.writes.map(({ pollerId }) => pollerId)).toEqual(['a']);
      expect(result.starts).toEqual([{ shard: 's0', nextEpoch: 4, why: 'no-owner' }]);
    });

    it('wakes a sleeping shard due in more than 2 s with a fresh execution, not one due sooner, not a leased one', () => {
      const pollers = [poller('new'), ...onShard('s0', 1)];
      const wakeLater = plan(pollers, [sleeping('s0', T0 - 1_000, T0 + WAKE_WITHIN_MS + 1)], T0, ['new']);
      expect(wakeLater.writes).toEqual([{ pollerId: 'new', write: { kind: 'place', to: 's0' } }]);
      expect(wakeLater.starts).toEqual([{ shard: 's0', nextEpoch: 3, why: 'wake' }]);

      expect(plan(pollers, [sleeping('s0', T0 - 1_000, T0 + WAKE_WITHIN_MS)], T0, ['new']).starts).toEqual(
        [],
      );
      expect(plan(pollers, [leased('s0', T0 + 20_000)], T0, ['new']).starts).toEqual([]);
    });

    it('never wakes a sleeping shard from the watchdog (it comes back on its own)', () => {
      const result = plan(onShard('s0', 1), [sleeping('s0', T0 - 1_000, T0 + 50_000)]);
      expect(result.starts).toEqual([]);
    });
  });

  it('uses the committed measured capacity by default', () => {
    expect(SHARD_CAPACITY_FIRES_PER_SECOND).toBe(100);
    const pollers = Array.from({ length: 150 }, (_, index) => poller(`p${index}`));
    expect(planFleet(pollers, [], T0, { maxShards: MAX_SHARDS }).assignment.shardCount).toBe(2);
  });

  it('never asks for more than MaxShards', () => {
    const pollers = Array.from({ length: 100 }, (_, index) => poller(`p${index}`));
    const result = planFleet(pollers, [], T0, { maxShards: 2, capacityFiresPerSecond: 10 });
    expect(result.assignment.shardCount).toBe(2);
    expect(result.assignment.overloaded).toEqual(['s0', 's1']);
    expect(result.starts.map(({ shard }) => shard)).toEqual(['s0', 's1']);
  });
});

describe('a minute-by-minute watchdog on a simulated clock', () => {
  it('restarts a crashed shard once its lease has run out, and no sooner', () => {
    const pollers = onShard('s0', 3);
    // The owner renewed at T0 and crashed right after: its lease runs 30 s.
    const shards = [leased('s0', T0 + 30_000, 1)];
    const startsAt: number[] = [];
    for (let nowMs = T0; nowMs < T0 + 120_000; nowMs += 10_000) {
      if (plan(pollers, shards, nowMs).starts.length > 0) startsAt.push(nowMs);
    }
    expect(startsAt[0]).toBe(T0 + 30_000);
  });
});

describe('shardExecutionName', () => {
  it('names the shard, the epoch it will take and the start time in epoch ms', () => {
    expect(shardExecutionName('s0', 4, T0)).toBe(`shard-s0-4-${T0}`);
    expect(shardExecutionName('s12', 1, T0 + 0.5)).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });
});

describe('planFleet properties', () => {
  const SHARDS = ['s0', 's1', 's2', 's3', 's4'];
  const standingArb = fc.constantFrom('leased', 'sleeping', 'dead-lease', 'no-item');
  const fleetArb = fc.record({
    pollers: fc.uniqueArray(
      fc.record({
        id: fc.stringMatching(/^[a-z]{1,6}$/),
        running: fc.boolean(),
        waitSeconds: fc.constantFrom(0.5, 1, 2, 10, 60),
        shard: fc.option(fc.constantFrom(...SHARDS), { nil: undefined }),
        moveTo: fc.option(fc.constantFrom(...SHARDS), { nil: undefined }),
      }),
      { selector: (p) => p.id, maxLength: 40 },
    ),
    standings: fc.array(standingArb, { minLength: SHARDS.length, maxLength: SHARDS.length }),
    validUntilOffsets: fc.array(fc.integer({ min: -60_000, max: 30_000 }), {
      minLength: SHARDS.length,
      maxLength: SHARDS.length,
    }),
    maxShards: fc.integer({ min: 1, max: 5 }),
    changed: fc.option(fc.array(fc.stringMatching(/^[a-z]{1,6}$/), { maxLength: 5 }), { nil: undefined }),
  });

  it('moves off an owned shard only by `move`, never before its validUntil, writes each running poller at most once, and starts no owned shard', () => {
    fc.assert(
      fc.property(fleetArb, (fleet) => {
        const shardItems: ShardItem[] = [];
        SHARDS.forEach((shard, index) => {
          const offset = Math.abs(fleet.validUntilOffsets[index] ?? 0);
          switch (fleet.standings[index]) {
            case 'leased':
              shardItems.push(leased(shard, T0 + 1 + offset));
              break;
            case 'sleeping':
              shardItems.push(sleeping(shard, T0 - offset, T0 + offset));
              break;
            case 'dead-lease':
              shardItems.push(leased(shard, T0 - SLEEP_SLACK_MS - offset));
              break;
          }
        });
        const pollers = fleet.pollers.map((p) =>
          poller(p.id, {
            running: p.running,
            waitSeconds: p.waitSeconds,
            shard: p.shard,
            moveTo: p.shard === undefined || p.moveTo === p.shard ? undefined : p.moveTo,
            movedAtMs:
              p.shard === undefined || p.moveTo === p.shard || p.moveTo === undefined
                ? undefined
                : T0 + 5_000,
          }),
        );
        const result = planFleet(pollers, shardItems, T0, {
          maxShards: fleet.maxShards,
          capacityFiresPerSecond: 10,
          changed: fleet.changed === undefined ? undefined : new Set(fleet.changed),
        });
        const itemOf = new Map(shardItems.map((item) => [item.shard, item]));
        const byId = new Map(pollers.map((p) => [p.pollerId, p]));

        const written = result.writes.map(({ pollerId }) => pollerId);
        expect(new Set(written).size).toBe(written.length);
        for (const { pollerId, write } of result.writes) {
          const before = byId.get(pollerId);
          expect(before?.operator.running).toBe(true);
          if (fleet.changed !== undefined) expect(fleet.changed).toContain(pollerId);
          if (write.kind === 'place') {
            expect(before?.shard).toBeUndefined();
            continue;
          }
          expect(write.from).toBe(before?.shard);
          const owned = shardStanding(itemOf.get(write.from), T0) !== 'dead';
          expect(write.kind).toBe(owned ? 'move' : 'reassign');
          expect(write.atMs).toBeGreaterThanOrEqual(itemOf.get(write.from)?.lease?.validUntilMs ?? T0);
          if (write.kind === 'move') expect(before?.moveTo).toBeUndefined();
        }
        const started = result.starts.map(({ shard }) => shard);
        expect(new Set(started).size).toBe(started.length);
        for (const start of result.starts) {
          const standing = shardStanding(itemOf.get(start.shard), T0);
          expect(standing).not.toBe('leased');
          if (start.why === 'no-owner') expect(standing).toBe('dead');
          else expect(fleet.changed).toBeDefined();
          expect(start.nextEpoch).toBe((itemOf.get(start.shard)?.lease?.epoch ?? 0) + 1);
        }
        const running = pollers.filter((p) => p.operator.running === true).length;
        expect(result.counts.active + result.counts.stale).toBe(running);
      }),
      { numRuns: 300 },
    );
  });
});
