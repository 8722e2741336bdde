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
  it('waits 3 of the slowest cadence a window runs, since a Wait-state loop writes once a tick', () => {
    // prepare
    const slowWindow = decodePollerItem(
      'feed',
      item({ [FIELD.windows]: { S: 'Sun 01:00-05:00 pause; daily 20:00-24:00 every 600' } }),
    );
    const fiveMinutesAgo = decodePollerItem(
      'feed',
      item({
        [FIELD.windows]: { S: 'daily 20:00-24:00 every 600' },
        [FIELD.heartbeatAt]: { S: new Date(NOW - 300_000).toISOString() },
      }),
    );

    // act
    const threshold = staleAfterMs(slowWindow);
    const liveness = judgeLoop(fiveMinutesAgo, NOW);

    // assess
    expect(threshold).toBe(1_800_000);
    expect(liveness.alive).toBe(true);
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
