import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { decodePollerItem } from '../../../functions/shared/control-item';
import { type ListReport, lineOf, type PollerLine, sortLines } from '../../../scripts/ctl/commands/list';
import { formatList } from '../../../scripts/ctl/format-list';

const NOW_MS = Date.parse('2030-01-01T12:00:00.000Z');
const at = (offsetMs: number) => new Date(NOW_MS + offsetMs).toISOString();

/** A poller's item as the controller leaves it, with `fields` on top. */
function line(pollerId: string, fields: Record<string, AttributeValue> = {}): PollerLine {
  return lineOf(
    decodePollerItem(pollerId, {
      [FIELD.id]: { S: pollerId },
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '2' },
      [FIELD.generation]: { N: '1' },
      [FIELD.heartbeatAt]: { S: at(-5_000) },
      ...fields,
    }),
    NOW_MS,
  );
}

const report = (pollers: PollerLine[]): ListReport => ({
  command: 'list',
  table: 'control',
  sort: 'id',
  pollers,
  reportedAtMs: NOW_MS,
});

describe('list: how a poller’s line reads its item', () => {
  it.each<[string, Record<string, AttributeValue>, Partial<PollerLine>]>([
    [
      'a live loop whose recorded next tick is ahead',
      { [FIELD.nextTickAt]: { S: at(1_200) }, [FIELD.lastTickAt]: { S: at(-800) } },
      { state: 'running', stateReason: null, nextTickInMs: 1_200, lastTickAgoMs: 800, lateMs: null },
    ],
    [
      'a live loop whose record lags (written every 30 s): carried forward on the grid, not late',
      { [FIELD.seq]: { N: '3' }, [FIELD.nextTickAt]: { S: at(-25_000) } },
      {
        state: 'running',
        seq: 16,
        nextTickAt: at(1_000),
        nextTickInMs: 1_000,
        lastTickAgoMs: 1_000,
        ticksDerived: true,
        lateMs: null,
      },
    ],
    [
      'running=true with a silent loop: stale, late beyond the 90 s threshold',
      { [FIELD.heartbeatAt]: { S: at(-600_000) }, [FIELD.nextTickAt]: { S: at(-600_000) } },
      { state: 'stale', stateReason: 'heartbeat 600 s old (threshold 90 s)', lateMs: 510_000 },
    ],
    [
      'running=true and never started',
      { [FIELD.generation]: { NULL: true } },
      { state: 'stale', stateReason: 'no loop was ever started' },
    ],
    [
      'running=false and the loop recorded its stop',
      {
        [FIELD.running]: { BOOL: false },
        [FIELD.stoppedReason]: { S: 'running is false' },
        [FIELD.nextTickAt]: { S: at(-600_000) },
      },
      { state: 'stopped', lateMs: null },
    ],
    [
      'running=false while the loop is still alive',
      { [FIELD.running]: { BOOL: false } },
      { state: 'stopping' },
    ],
    ['running that is not a boolean', { [FIELD.running]: { S: 'yes' } }, { state: 'invalid' }],
    [
      'an invalid cadence',
      { [FIELD.waitSeconds]: { S: 'abc' } },
      { cadenceSeconds: null, cadenceSource: 'base' },
    ],
    [
      'counters and the last error',
      {
        [FIELD.skippedTicks]: { N: '3' },
        [FIELD.failedFires]: { N: '1' },
        [FIELD.overlapSkips]: { N: '4' },
        [FIELD.lastError]: { M: { message: { S: 'boom' }, at: { S: at(-60_000) } } },
      },
      {
        skippedTicks: 3,
        failedFires: 1,
        overlapSkips: 4,
        lastError: { message: 'boom', at: at(-60_000) },
        cadenceSeconds: 2,
      },
    ],
    // 2030-01-01T12:00Z is a Tuesday: 12:00 in UTC, 07:00 in New York (EST).
    [
      'a window in force: its cadence, from the window',
      { [FIELD.windows]: { L: [{ S: 'Mon-Fri 06:00-20:00 every 0.5' }] } },
      { cadenceSeconds: 0.5, cadenceSource: 'window' },
    ],
    [
      'outside every window: waitseconds, from the base',
      { [FIELD.windows]: { S: 'Sat-Sun 00:00-24:00 every 30; Tue 13:00-14:00 every 1' } },
      { cadenceSeconds: 2, cadenceSource: 'base' },
    ],
    [
      'a pause window open: paused',
      { [FIELD.windows]: { L: [{ S: 'daily 11:00-13:00 pause' }] } },
      { cadenceSeconds: null, cadenceSource: 'window' },
    ],
    [
      'rules read in the item’s time zone (07:00 in New York)',
      {
        [FIELD.timezone]: { S: 'America/New_York' },
        [FIELD.windows]: { L: [{ S: 'Tue 12:00-13:00 every 9' }, { S: 'Tue 06:00-08:00 every 1' }] },
      },
      { cadenceSeconds: 1, cadenceSource: 'window' },
    ],
  ])('%s', (_label, fields, expected) => {
    expect(line('p', fields)).toMatchObject(expected);
  });
});

describe('list: sorting', () => {
  const lines = [
    line('c', { [FIELD.nextTickAt]: { S: at(3_000) }, [FIELD.lastTickAt]: { S: at(-1_000) } }),
    line('a', { [FIELD.nextTickAt]: { S: at(9_000) }, [FIELD.lastTickAt]: { S: at(-7_000) } }),
    line('d', { [FIELD.running]: { BOOL: false }, [FIELD.stoppedReason]: { S: 'running is false' } }),
    line('b', {
      [FIELD.heartbeatAt]: { S: at(-600_000) },
      [FIELD.nextTickAt]: { S: at(1_000) },
      [FIELD.lastTickAt]: { S: at(-600_000) },
    }),
  ];

  it.each([
    ['id', ['a', 'b', 'c', 'd']],
    ['next', ['c', 'a', 'b', 'd']],
    ['last', ['b', 'a', 'c', 'd']],
    ['state', ['b', 'a', 'c', 'd']],
  ] as const)('--sort %s', (sort, ids) => {
    expect(sortLines(lines, sort).map((poller) => poller.pollerId)).toEqual(ids);
  });
});

describe('list: the text table', () => {
  it('prints a header and one aligned line per poller, the last result and the last error cut to fit', () => {
    const text = formatList(
      report([
        line('default', { [FIELD.nextTickAt]: { S: at(1_200) }, [FIELD.lastTickAt]: { S: at(-800) } }),
        line('orders-eu', {
          [FIELD.waitSeconds]: { N: '0.5' },
          [FIELD.heartbeatAt]: { S: at(-600_000) },
          [FIELD.nextTickAt]: { S: at(-600_000) },
          [FIELD.lastTickAt]: { S: at(-600_500) },
          [FIELD.skippedTicks]: { N: '12' },
          [FIELD.failedFires]: { N: '2' },
          [FIELD.overlapSkips]: { N: '7' },
          [FIELD.failedTicks]: { N: '3' },
          [FIELD.lastResult]: { S: 'failed' },
          [FIELD.lastResultSeq]: { N: '38' },
          [FIELD.lastResultAt]: { S: at(-601_000) },
          [FIELD.lastResultMs]: { N: '12' },
          [FIELD.lastResultDetail]: { S: 'connect ECONNREFUSED 127.0.0.1:8080' },
          [FIELD.lastError]: {
            M: {
              message: {
                S: `firing tick 40 failed: TooManyRequestsException: ${'rate exceeded '.repeat(5)}`,
              },
              at: { S: at(-600_000) },
            },
          },
        }),
        line('idle', { [FIELD.running]: { BOOL: false }, [FIELD.stoppedReason]: { S: 'running is false' } }),
        line('lagging', { [FIELD.seq]: { N: '3' }, [FIELD.nextTickAt]: { S: at(-25_000) } }),
      ]),
    );

    expect(text.split('\n')).toEqual([
      'ID         STATE    CADENCE       NEXT      LAST        LATE   SKIPPED  FAILED  OVERLAP  TICKS FAILED  LAST RESULT                       LAST ERROR',
      'default    running  2 s (base)    in 1.2 s  0.8 s ago   -      0        0       0        0             -                                 -',
      'orders-eu  stale    0.5 s (base)  -         10 min ago  9 min  12       2       7        3             failed 10 min ago: connect ECON…  10 min ago: firing tick 40 failed: TooManyRequestsException…',
      'idle       stopped  2 s (base)    -         -           -      0        0       0        0             -                                 -',
      'lagging    running  2 s (base)    in ~1 s   ~1 s ago    -      0        0       0        0             -                                 -',
    ]);
  });

  it('says the table holds no pollers', () => {
    expect(formatList(report([]))).toBe('no pollers in table control');
  });
});
