import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../scripts/ctl/command-line';
import { HISTORY_LIMITS, type HistoryReport } from '../../../scripts/ctl/commands/history';
import { UsageError } from '../../../scripts/ctl/errors';
import { formatHistory } from '../../../scripts/ctl/format-outcomes';

const NOW_MS = Date.parse('2030-01-01T12:00:10.000Z');

const report = (outcomes: HistoryReport['outcomes'], failedTicks = 0): HistoryReport => ({
  command: 'history',
  pollerId: 'feed',
  table: 'control',
  successesSampled: true,
  defaultSampleSeconds: 10,
  failedTicks,
  outcomes,
  problems: [],
  reportedAtMs: NOW_MS,
});

describe('ctl history: the command line', () => {
  it(`reads history ID with --limit, ${HISTORY_LIMITS.defaultLimit} outcomes by default`, () => {
    expect(parseCommandLine(['history', 'feed', '--local', '--limit', '3'])).toMatchObject({
      kind: 'run',
      command: { name: 'history', pollerId: 'feed', limit: 3 },
    });
    expect(parseCommandLine(['history', '--local'])).toMatchObject({
      command: { name: 'history', pollerId: 'default', limit: HISTORY_LIMITS.defaultLimit },
    });
  });

  it.each([
    [['history', '--limit', '0', '--local'], /^--limit must be a whole number from 1 to 14; got "0"$/],
    [['history', '--limit', '2.5', '--local'], /^--limit must be a whole number from 1 to 14; got "2.5"$/],
    [['status', '--limit', '3', '--local'], /^--limit applies to history, not to status$/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(UsageError);
    expect(() => parseCommandLine(argv)).toThrow(message);
  });
});

describe('ctl history: the text', () => {
  it('lists seq, time, result, duration and detail, newest first, and says plainly that successes are sampled', () => {
    // act
    const text = formatHistory(
      report(
        [
          { seq: 12, result: 'ok', at: '2030-01-01T12:00:09.000Z', durationMs: 35, detail: 'HTTP 200' },
          { seq: 11, result: 'failed', at: '2030-01-01T12:00:08.000Z', durationMs: 12, detail: 'HTTP 404' },
        ],
        4,
      ),
    );

    // assess
    expect(text.split('\n')).toEqual([
      "poller 'feed' (table control): 2 recent outcomes, 4 failed ticks in total",
      'SEQ  TIME                                RESULT  DURATION  DETAIL',
      '12   2030-01-01T12:00:09.000Z (1 s ago)  ok      35 ms     HTTP 200',
      '11   2030-01-01T12:00:08.000Z (2 s ago)  failed  12 ms     HTTP 404',
      'where known: every failure is recorded; successes are sampled (by default the first, the first after a failure, and at most one every 10 s per worker sandbox), so ok ticks between those listed are not shown',
    ]);
  });

  it('says when no outcome was recorded yet, and what records them', () => {
    expect(formatHistory(report([])).split('\n')[1]).toBe(
      'no outcome recorded yet (is the worker built with the worker kit, and given CONTROL_TABLE_NAME?)',
    );
  });
});
