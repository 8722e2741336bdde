import { describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import type { RawItem } from '../../../functions/shared/control-item';
import { describeStaleness, findStaleLoops, STALE_FLOOR_MS } from '../../../functions/watchdog/find-stale';

const NOW = Date.parse('2030-01-01T12:00:00.000Z');

const item = (fields: {
  running?: boolean;
  waitSeconds?: string;
  heartbeatAgoMs?: number;
  id?: string;
}): RawItem => ({
  [FIELD.id]: { S: fields.id ?? 'orders' },
  ...(fields.running === undefined ? {} : { [FIELD.running]: { BOOL: fields.running } }),
  [FIELD.waitSeconds]: { N: fields.waitSeconds ?? '1' },
  ...(fields.heartbeatAgoMs === undefined
    ? {}
    : { [FIELD.heartbeatAt]: { S: new Date(NOW - fields.heartbeatAgoMs).toISOString() } }),
});

describe('findStaleLoops', () => {
  it('leaves a running loop with a heartbeat inside the 90 s floor alone', () => {
    expect(findStaleLoops([item({ running: true, heartbeatAgoMs: STALE_FLOOR_MS })], NOW)).toEqual([]);
  });

  it('reports a running loop whose heartbeat is older than the 90 s floor', () => {
    const [stale] = findStaleLoops([item({ running: true, heartbeatAgoMs: STALE_FLOOR_MS + 1 })], NOW);

    expect(stale).toMatchObject({
      pollerId: 'orders',
      heartbeatAgeMs: STALE_FLOOR_MS + 1,
      thresholdMs: STALE_FLOOR_MS,
    });
  });

  it('waits three intervals for slow cadences before calling a loop stale', () => {
    const slow = item({ running: true, waitSeconds: '600', heartbeatAgoMs: 1_500_000 });
    const dead = item({ running: true, waitSeconds: '600', heartbeatAgoMs: 1_800_001 });

    expect(findStaleLoops([slow], NOW)).toEqual([]);
    expect(findStaleLoops([dead], NOW).map((stale) => stale.thresholdMs)).toEqual([1_800_000]);
  });

  it('reports a running poller that never wrote a heartbeat', () => {
    const [stale] = findStaleLoops([item({ running: true })], NOW);

    expect(stale?.heartbeatAgeMs).toBeUndefined();
    expect(describeStaleness(stale ?? expect.fail('no stale loop'))).toContain('never reported a heartbeat');
  });

  it('ignores pollers that are not running or whose running flag is not a boolean', () => {
    const stopped = item({ running: false, heartbeatAgoMs: 10 * STALE_FLOOR_MS });
    const unset = item({ heartbeatAgoMs: 10 * STALE_FLOOR_MS });

    expect(findStaleLoops([stopped, unset], NOW)).toEqual([]);
  });

  it('falls back to the floor when waitseconds is invalid', () => {
    const broken: RawItem = {
      ...item({ running: true, heartbeatAgoMs: STALE_FLOOR_MS + 1 }),
      [FIELD.waitSeconds]: { S: 'abc' },
    };

    expect(findStaleLoops([broken], NOW).map((stale) => stale.thresholdMs)).toEqual([STALE_FLOOR_MS]);
  });
});
