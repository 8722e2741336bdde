import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AssignmentPlan,
  EMPTY_ASSIGNMENT,
  type FleetAssignment,
  type FleetLimits,
  firesPerSecondAtBusiest,
  fnv1a32,
  type PollerLoad,
  planAssignment,
  rankShards,
  shardName,
} from '../../../functions/fleet/assignment';
import { parseWindowRules, type WindowRule } from '../../../functions/scheduling/windows';

const CAPACITY = 100;

const limits = (maxShards: number, overrides: Partial<FleetLimits> = {}): FleetLimits => ({
  capacityFiresPerSecond: CAPACITY,
  maxShards,
  ...overrides,
});

const rules = (...texts: string[]): readonly WindowRule[] => {
  const parsed = parseWindowRules(texts);
  if (parsed instanceof Error) throw parsed;
  return parsed;
};

/** Pollers with distinct ids and loads from 0 (not running) to `maxLoad` fires per second. */
const pollersArb = (maxLoad: number, maxLength = 60) =>
  fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,8}$/), { maxLength, size: 'max' }).chain((ids) =>
    fc
      .array(fc.double({ min: 0, max: maxLoad, noNaN: true }), {
        minLength: ids.length,
        maxLength: ids.length,
      })
      .map((loads) =>
        ids.map((pollerId, index): PollerLoad => ({ pollerId, firesPerSecond: loads[index] ?? 0 })),
      ),
  );

const totalOf = (pollers: readonly PollerLoad[]) => pollers.reduce((sum, p) => sum + p.firesPerSecond, 0);
const largestOf = (pollers: readonly PollerLoad[]) => Math.max(0, ...pollers.map((p) => p.firesPerSecond));
/** A fleet that is sure to pack: every shard could still take the largest poller. */
const fits = (pollers: readonly PollerLoad[], shards: number) =>
  totalOf(pollers) <= shards * (CAPACITY - largestOf(pollers));

const shardsOf = (plan: FleetAssignment) =>
  new Set(Array.from({ length: plan.shardCount }, (_, index) => shardName(index)));

const expectWellFormed = (plan: AssignmentPlan, pollers: readonly PollerLoad[]) => {
  expect([...plan.placement.keys()].sort()).toEqual(pollers.map((p) => p.pollerId).sort());
  const shards = shardsOf(plan);
  for (const shard of plan.placement.values()) expect(shards.has(shard)).toBe(true);
};

describe('firesPerSecondAtBusiest', () => {
  it('counts the base cadence of a poller without windows', () => {
    expect(firesPerSecondAtBusiest({ running: true, intervalMs: 250 })).toBe(4);
    expect(firesPerSecondAtBusiest({ running: true, intervalMs: 60_000 })).toBeCloseTo(1 / 60);
  });

  it('counts a window cadence at its busiest, whatever the hour, and ignores a pause', () => {
    const windows = rules(
      'Mon-Fri 06:00-20:00 every 0.5',
      'Sun 01:00-05:00 pause',
      'Sat 00:00-24:00 every 30',
    );
    expect(firesPerSecondAtBusiest({ running: true, intervalMs: 10_000, windows })).toBe(2);
  });

  it('counts a stopped poller, or one with no readable configuration, as 0', () => {
    expect(firesPerSecondAtBusiest({ running: false, intervalMs: 100 })).toBe(0);
    expect(firesPerSecondAtBusiest(undefined)).toBe(0);
  });
});

describe('fnv1a32', () => {
  it('matches the published FNV-1a test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});

describe('planAssignment', () => {
  it('runs ceil(load / capacity) shards, capped at MaxShards, and none without pollers', () => {
    const pollers = Array.from(
      { length: 250 },
      (_, i): PollerLoad => ({ pollerId: `p${i}`, firesPerSecond: 1 }),
    );
    expect(planAssignment(pollers, EMPTY_ASSIGNMENT, limits(10)).shardCount).toBe(3);
    expect(planAssignment(pollers, EMPTY_ASSIGNMENT, limits(2)).shardCount).toBe(2);
    expect(planAssignment(pollers, EMPTY_ASSIGNMENT, limits(2)).overloaded).toEqual(['s0', 's1']);
    expect(planAssignment([], EMPTY_ASSIGNMENT, limits(10)).shardCount).toBe(0);
    const paused = [{ pollerId: 'idle', firesPerSecond: 0 }];
    expect(planAssignment(paused, EMPTY_ASSIGNMENT, limits(10)).shardCount).toBe(1);
  });

  it('spreads many pollers evenly by the hash', () => {
    const shards = ['s0', 's1', 's2', 's3'];
    const counts = new Map<string, number>();
    for (let i = 0; i < 1_000; i++) {
      const top = rankShards(`poller-${i}`, shards)[0] ?? '';
      counts.set(top, (counts.get(top) ?? 0) + 1);
    }
    expect(counts.size).toBe(4);
    for (const count of counts.values()) expect(Math.abs(count - 250)).toBeLessThan(50);
  });

  it('takes one more shard when the pollers do not pack into ceil(load / capacity)', () => {
    const pollers = ['a', 'b', 'c'].map((pollerId) => ({ pollerId, firesPerSecond: 60 }));
    const plan = planAssignment(pollers, EMPTY_ASSIGNMENT, limits(5));
    expect(plan.shardCount).toBe(3);
    expect(plan.overloaded).toEqual([]);
  });

  it('moves the pollers of an overloaded shard that hash lowest on it, and says why', () => {
    const current: FleetAssignment = {
      shardCount: 2,
      placement: new Map([
        ['a', 's0'],
        ['b', 's0'],
        ['c', 's0'],
        ['d', 's1'],
      ]),
    };
    const pollers = ['a', 'b', 'c', 'd'].map((pollerId) => ({ pollerId, firesPerSecond: 40 }));
    const plan = planAssignment(pollers, current, limits(2));
    expect(plan.overloaded).toEqual([]);
    expect(plan.moves).toHaveLength(1);
    expect(plan.moves[0]).toMatchObject({ from: 's0', to: 's1', reason: 'shard-over-capacity' });
  });

  it('does not shrink while the load stays above the shrink threshold of the smaller count', () => {
    const pollers = Array.from(
      { length: 90 },
      (_, i): PollerLoad => ({ pollerId: `p${i}`, firesPerSecond: 1 }),
    );
    const wide = planAssignment(pollers, { shardCount: 2, placement: new Map() }, limits(4));
    expect(wide.shardCount).toBe(2);
    expect(planAssignment(pollers, wide, limits(4)).moves).toEqual([]);
    const fewer = pollers.slice(0, 70);
    const shrunk = planAssignment(fewer, wide, limits(4));
    expect(shrunk.shardCount).toBe(1);
    expect(shrunk.moves.every((move) => move.from === 's1' && move.reason === 'shard-removed')).toBe(true);
  });

  it('puts each poller on exactly one of the shards it runs', () => {
    fc.assert(
      fc.property(pollersArb(150), fc.integer({ min: 1, max: 12 }), (pollers, maxShards) => {
        expectWellFormed(planAssignment(pollers, EMPTY_ASSIGNMENT, limits(maxShards)), pollers);
      }),
      { numRuns: 300 },
    );
  });

  it('leaves no shard over capacity when the fleet fits, whatever the assignment in force', () => {
    const currentArb = fc.record({
      shardCount: fc.integer({ min: 0, max: 10 }),
      picks: fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 60 }),
    });
    fc.assert(
      fc.property(
        pollersArb(20),
        fc.integer({ min: 1, max: 12 }),
        currentArb,
        (pollers, maxShards, current) => {
          fc.pre(fits(pollers, maxShards));
          const placement = new Map(
            pollers.map((poller, index) => [poller.pollerId, shardName(current.picks[index] ?? 0)]),
          );
          const plan = planAssignment(
            pollers,
            { shardCount: current.shardCount, placement },
            limits(maxShards),
          );
          expectWellFormed(plan, pollers);
          expect(plan.overloaded).toEqual([]);
          for (const load of plan.loadByShard.values()) expect(load).toBeLessThanOrEqual(CAPACITY + 1e-9);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('moves no other poller when one is added, unless a shard overflows', () => {
    fc.assert(
      fc.property(
        pollersArb(30),
        fc.stringMatching(/^new[a-z0-9]{1,5}$/),
        fc.double({ min: 0, max: 30, noNaN: true }),
        fc.integer({ min: 1, max: 12 }),
        (pollers, newId, newLoad, maxShards) => {
          const before = planAssignment(pollers, EMPTY_ASSIGNMENT, limits(maxShards));
          const added = [...pollers, { pollerId: newId, firesPerSecond: newLoad }];
          const after = planAssignment(added, before, limits(maxShards));
          expectWellFormed(after, added);
          if (before.overloaded.length === 0 && after.overloaded.length === 0) {
            expect(after.moves.map((move) => move.pollerId)).toEqual([newId]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('moves no other poller when one is removed, unless its removal retires a shard', () => {
    fc.assert(
      fc.property(pollersArb(12), fc.nat(), fc.integer({ min: 1, max: 12 }), (pollers, pick, maxShards) => {
        fc.pre(pollers.length > 0 && fits(pollers, maxShards));
        const before = planAssignment(pollers, EMPTY_ASSIGNMENT, limits(maxShards));
        const removed = pollers.filter((_, index) => index !== pick % pollers.length);
        const after = planAssignment(removed, before, limits(maxShards));
        const kept = shardsOf(after);
        for (const move of after.moves) {
          expect(move.reason).toBe('shard-removed');
          expect(move.from !== undefined && !kept.has(move.from)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('moves only the pollers of removed shards when the shards shrink', () => {
    fc.assert(
      fc.property(
        pollersArb(12),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 1, max: 11 }),
        (pollers, maxBefore, maxAfter) => {
          fc.pre(maxAfter < maxBefore && fits(pollers, maxAfter));
          const before = planAssignment(
            pollers,
            { shardCount: maxBefore, placement: new Map() },
            limits(maxBefore),
          );
          const after = planAssignment(pollers, before, limits(maxAfter));
          expect(after.overloaded).toEqual([]);
          const kept = shardsOf(after);
          for (const [pollerId, shard] of before.placement) {
            if (kept.has(shard)) expect(after.placement.get(pollerId)).toBe(shard);
          }
          for (const move of after.moves) expect(move.from !== undefined && !kept.has(move.from)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
