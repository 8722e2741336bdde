import { describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { decodePollerItem, type RawItem } from '../../../functions/shared/control-item';
import { STALE_FLOOR_MS } from '../../../functions/shared/loop-ownership';
import { findStaleLoops } from '../../../functions/watchdog/find-stale';

const NOW = Date.parse('2030-01-01T12:00:00.000Z');

const rawItem = (fields: {
  running?: boolean;
  waitSeconds?: string;
  heartbeatAgoMs?: number;
  generation?: number;
  stoppedReason?: string;
  id?: string;
}): RawItem => ({
  [FIELD.id]: { S: fields.id ?? 'orders' },
  ...(fields.running === undefined ? {} : { [FIELD.running]: { BOOL: fields.running } }),
  [FIELD.waitSeconds]: { N: fields.waitSeconds ?? '1' },
  [FIELD.generation]: { N: String(fields.generation ?? 3) },
  ...(fields.stoppedReason === undefined ? {} : { [FIELD.stoppedReason]: { S: fields.stoppedReason } }),
  ...(fields.heartbeatAgoMs === undefined
    ? {}
    : { [FIELD.heartbeatAt]: { S: new Date(NOW - fields.heartbeatAgoMs).toISOString() } }),
});
/** The view the watchdog gets from the table's scan. */
const view = (raw: RawItem) => decodePollerItem(raw[FIELD.id]?.S ?? '', raw);
const item = (fields: Parameters<typeof rawItem>[0]) => view(rawItem(fields));

describe('findStaleLoops', () => {
  it('leaves a running loop with a heartbeat inside the 90 s floor alone', () => {
    expect(findStaleLoops([item({ running: true, heartbeatAgoMs: STALE_FLOOR_MS })], NOW)).toEqual([]);
  });

  it('reports a running loop whose heartbeat is older than the 90 s floor, saying how old', () => {
    const [stale] = findStaleLoops([item({ running: true, heartbeatAgoMs: STALE_FLOOR_MS + 1_000 })], NOW);

    expect(stale).toMatchObject({ pollerId: 'orders', why: 'heartbeat 91 s old (threshold 90 s)' });
  });

  it('waits three intervals for slow cadences before calling a loop stale', () => {
    const slow = item({ running: true, waitSeconds: '600', heartbeatAgoMs: 1_500_000 });
    const dead = item({ running: true, waitSeconds: '600', heartbeatAgoMs: 1_800_001 });

    expect(findStaleLoops([slow], NOW)).toEqual([]);
    expect(findStaleLoops([dead], NOW).map((stale) => stale.why)).toEqual([
      'heartbeat 1800 s old (threshold 1800 s)',
    ]);
  });

  it('reports a running poller whose loop never wrote a heartbeat', () => {
    const [stale] = findStaleLoops([item({ running: true })], NOW);

    expect(stale?.why).toBe('the loop never reported a heartbeat');
  });

  it('reports a running poller whose loop recorded a stop, however fresh its heartbeat', () => {
    const stopped = item({ running: true, heartbeatAgoMs: 1_000, stoppedReason: 'invalid' });

    expect(findStaleLoops([stopped], NOW).map((stale) => stale.why)).toEqual(['the loop stopped: invalid']);
  });

  it('ignores pollers that are not running or whose running flag is not a boolean', () => {
    const stopped = item({ running: false, heartbeatAgoMs: 10 * STALE_FLOOR_MS });
    const unset = item({ heartbeatAgoMs: 10 * STALE_FLOOR_MS });

    expect(findStaleLoops([stopped, unset], NOW)).toEqual([]);
  });

  it('falls back to the floor when waitseconds is invalid', () => {
    const broken = view({
      ...rawItem({ running: true, heartbeatAgoMs: STALE_FLOOR_MS + 1_000 }),
      [FIELD.waitSeconds]: { S: 'abc' },
    });

    expect(findStaleLoops([broken], NOW).map((stale) => stale.why)).toEqual([
      'heartbeat 91 s old (threshold 90 s)',
    ]);
  });
});
