import { describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { decodePollerItem, type RawItem } from '../../../functions/shared/control-item';
import { STALE_FLOOR_MS } from '../../../functions/shared/loop-ownership';
import { findNotTicking, findStaleLoops, TICK_AGE_FLOOR_MS } from '../../../functions/watchdog/find-stale';

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

/** A live loop (heartbeat 1 s ago) whose last recorded tick and planned next tick are this long ago. */
const ticking = (fields: {
  waitSeconds?: string;
  lastTickAgoMs?: number;
  nextTickAgoMs?: number;
  windows?: string;
  running?: boolean;
  heartbeatAgoMs?: number;
}) =>
  view({
    ...rawItem({
      running: fields.running ?? true,
      waitSeconds: fields.waitSeconds ?? '1',
      heartbeatAgoMs: fields.heartbeatAgoMs ?? 1_000,
    }),
    ...(fields.lastTickAgoMs === undefined
      ? {}
      : { [FIELD.lastTickAt]: { S: new Date(NOW - fields.lastTickAgoMs).toISOString() } }),
    [FIELD.nextTickAt]: { S: new Date(NOW - (fields.nextTickAgoMs ?? 1_000)).toISOString() },
    ...(fields.windows === undefined ? {} : { [FIELD.windows]: { S: fields.windows } }),
  });

describe('findNotTicking', () => {
  it('reports a live loop whose last recorded tick is older than the claim window and its margin', () => {
    expect(TICK_AGE_FLOOR_MS).toBe(90_000);
    const firing = ticking({ lastTickAgoMs: TICK_AGE_FLOOR_MS - 1_000 });
    const silent = ticking({ lastTickAgoMs: TICK_AGE_FLOOR_MS + 1_000 });

    expect(findNotTicking([firing, silent], NOW)).toEqual(['orders']);
    expect(findNotTicking([firing], NOW)).toEqual([]);
  });

  it('waits three intervals of the cadence in force for slow cadences', () => {
    const due = ticking({ waitSeconds: '60', lastTickAgoMs: 179_000 });
    const overdue = ticking({ waitSeconds: '60', lastTickAgoMs: 181_000 });

    expect(findNotTicking([due], NOW)).toEqual([]);
    expect(findNotTicking([overdue], NOW)).toEqual(['orders']);
  });

  it('leaves alone a loop just started on a long-idle poller, waiting for a tick not yet due', () => {
    const waiting = ticking({ waitSeconds: '600', lastTickAgoMs: 86_400_000, nextTickAgoMs: -300_000 });

    expect(findNotTicking([waiting], NOW)).toEqual([]);
  });

  it('counts no pause: neither one in force, nor one that ended within the threshold', () => {
    // NOW is a Tuesday, 12:00 UTC
    const paused = ticking({ lastTickAgoMs: 3_600_000, windows: 'Tue 11:00-13:00 pause' });
    const justResumed = ticking({ lastTickAgoMs: 7_200_000, windows: 'Tue 10:00-11:59 pause' });
    const resumedLongAgo = ticking({ lastTickAgoMs: 7_200_000, windows: 'Tue 10:00-11:58 pause' });

    expect(findNotTicking([paused], NOW)).toEqual([]);
    expect(findNotTicking([justResumed], NOW)).toEqual([]);
    expect(findNotTicking([resumedLongAgo], NOW)).toEqual(['orders']);
  });

  it('leaves to findStaleLoops what has no live loop, and ignores pollers not running or never ticked', () => {
    const dead = ticking({ lastTickAgoMs: 600_000, heartbeatAgoMs: STALE_FLOOR_MS + 1_000 });
    const off = ticking({ lastTickAgoMs: 600_000, running: false });
    const neverTicked = ticking({});

    expect(findNotTicking([dead, off, neverTicked], NOW)).toEqual([]);
    expect(findStaleLoops([dead], NOW)).toHaveLength(1);
  });
});
