import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import { FIELD } from '../../../functions/shared/contract';
import { decodePollerItem, type RawItem } from '../../../functions/shared/control-item';
import { judgeLoop, STALE_FLOOR_MS, staleAfterMs } from '../../../functions/shared/loop-ownership';

const NOW = Date.parse('2030-01-01T12:00:00.000Z');

const item = (fields: RawItem): RawItem => ({
  [FIELD.id]: { S: 'feed' },
  [FIELD.running]: { BOOL: true },
  [FIELD.waitSeconds]: { N: '2' },
  [FIELD.generation]: { N: '7' },
  ...fields,
});

describe('the watchdog and window rules', () => {
  // NOW is 12:00 UTC on a Tuesday.
  it.each([
    {
      label: 'a heartbeat in a slow window: 3 of its cadence',
      heartbeatAt: '2030-01-01T21:00:00.000Z',
      rules: 'Sun 01:00-05:00 pause; daily 20:00-24:00 every 600',
      thresholdMs: 1_800_000,
    },
    {
      label: 'a heartbeat outside the slow window: 3 of waitseconds, the floor',
      heartbeatAt: '2030-01-01T11:59:00.000Z',
      rules: 'Sun 01:00-05:00 pause; daily 20:00-24:00 every 600',
      thresholdMs: STALE_FLOOR_MS,
    },
    {
      label: 'a heartbeat in a pause: the floor (a pause checks in every 60 s)',
      heartbeatAt: '2030-01-01T11:59:00.000Z',
      rules: 'daily 00:00-24:00 pause',
      thresholdMs: STALE_FLOOR_MS,
    },
    {
      label: 'a heartbeat read in the item’s zone (12:00 UTC is 21:00 in Tokyo)',
      heartbeatAt: '2030-01-01T12:00:00.000Z',
      rules: 'daily 20:00-24:00 every 600',
      zone: 'Asia/Tokyo',
      thresholdMs: 1_800_000,
    },
    {
      label: 'no heartbeat to date it: the slowest cadence any rule runs',
      heartbeatAt: undefined,
      rules: 'daily 20:00-24:00 every 600',
      thresholdMs: 1_800_000,
    },
  ])('$label', ({ heartbeatAt, rules, zone, thresholdMs }) => {
    const polled = decodePollerItem(
      'feed',
      item({
        [FIELD.windows]: { S: rules },
        ...(zone === undefined ? {} : { [FIELD.timezone]: { S: zone } }),
        ...(heartbeatAt === undefined ? {} : { [FIELD.heartbeatAt]: { S: heartbeatAt } }),
      }),
    );

    expect(staleAfterMs(polled)).toBe(thresholdMs);
  });

  it('restarts a 2 s loop silent for 5 minutes at noon, even though a slow window runs at night', () => {
    const silent = decodePollerItem(
      'feed',
      item({
        [FIELD.windows]: { S: 'daily 20:00-24:00 every 600' },
        [FIELD.heartbeatAt]: { S: new Date(NOW - 300_000).toISOString() },
      }),
    );

    expect(judgeLoop(silent, NOW)).toMatchObject({
      alive: false,
      why: 'heartbeat 300 s old (threshold 90 s)',
    });
  });

  it('keeps the floor for a pause: a paused loop checks in more often than that', () => {
    // prepare
    const paused = decodePollerItem('feed', item({ [FIELD.windows]: { S: 'daily 00:00-24:00 pause' } }));

    // act
    const threshold = staleAfterMs(paused);

    // assess
    expect(threshold).toBe(STALE_FLOOR_MS);
    expect(DEFAULT_TIMING.pauseCheckInMs + 2 * DEFAULT_TIMING.maxInProcessSleepMs).toBeLessThan(
      STALE_FLOOR_MS,
    );
  });
});
