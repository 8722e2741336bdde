import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { decodePollerItem, type PollerItem } from '../../../functions/shared/control-item';
import { listReportOf } from '../../../scripts/ctl/commands/list';
import type { WatchFrame } from '../../../scripts/ctl/commands/watch';
import { ANSI, formatWatchFrame, watchFrameJson } from '../../../scripts/ctl/format-watch';
import { EMPTY_SEQ_MEMORY, type SeqMemory, seqChanges } from '../../../scripts/ctl/watch-changes';

const START_MS = Date.parse('2030-01-01T12:00:00.000Z');
const INTERVAL_MS = 2_000;
const at = (nowMs: number, offsetMs: number) => new Date(nowMs + offsetMs).toISOString();

/** The fleet as read at `nowMs`: `default` fires every 2 s (its seq given), `orders` stopped long ago. */
function fleet(nowMs: number, defaultSeq: number, extra: Record<string, AttributeValue> = {}): PollerItem[] {
  return [
    decodePollerItem('default', {
      [FIELD.id]: { S: 'default' },
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '2' },
      [FIELD.generation]: { N: '1' },
      [FIELD.heartbeatAt]: { S: at(nowMs, -1_000) },
      [FIELD.seq]: { N: String(defaultSeq) },
      [FIELD.lastTickAt]: { S: at(nowMs, -800) },
      [FIELD.nextTickAt]: { S: at(nowMs, 1_200) },
      ...extra,
    }),
    decodePollerItem('orders', {
      [FIELD.id]: { S: 'orders' },
      [FIELD.running]: { BOOL: false },
      [FIELD.waitSeconds]: { N: '10' },
      [FIELD.generation]: { N: '3' },
      [FIELD.stoppedReason]: { S: 'running is false' },
      [FIELD.seq]: { N: '40' },
    }),
  ];
}

/** A frame read at `nowMs`, and the memory the next frame compares with. */
function readFrame(memory: SeqMemory, items: PollerItem[], nowMs: number) {
  const report = listReportOf('control', 'id', items, nowMs);
  const { changes, gone, memory: next } = seqChanges(memory, items, report.pollers, nowMs);
  const frame: WatchFrame = {
    table: 'control',
    atMs: nowMs,
    refreshMs: INTERVAL_MS,
    reading: { ok: true, report, changes, gone },
  };
  return { frame, memory: next };
}

const failedFrame = (lastReadAtMs: number | null): WatchFrame => ({
  table: 'control',
  atMs: START_MS + 4_000,
  refreshMs: INTERVAL_MS,
  reading: { ok: false, error: 'ResourceNotFoundException: Requested resource not found', lastReadAtMs },
});

describe('watch: a frame as text', () => {
  it('prints the header and the list with FIRED before LAST ERROR: the seq first, then its advance', () => {
    const first = readFrame(EMPTY_SEQ_MEMORY, fleet(START_MS, 10), START_MS);
    const second = readFrame(first.memory, fleet(START_MS + 2_000, 25), START_MS + 2_000);

    expect(formatWatchFrame(first.frame, 'log').split('\n')).toEqual([
      'watch: table control  |  2030-01-01T12:00:00Z  |  2 pollers: 1 running, 1 stopped  |  every 2 s',
      'ID       STATE    CADENCE      NEXT      LAST       LATE  SKIPPED  FAILED  OVERLAP  TICKS FAILED  LAST RESULT  FIRED   LAST ERROR',
      'default  running  2 s (base)   in 1.2 s  0.8 s ago  -     0        0       0        0             -            seq 10  -',
      'orders   stopped  10 s (base)  -         -          -     0        0       0        0             -            seq 40  -',
    ]);
    expect(formatWatchFrame(second.frame, 'log').split('\n').slice(2)).toEqual([
      'default  running  2 s (base)   in 1.2 s  0.8 s ago  -     0        0       0        0             -            +15    -',
      'orders   stopped  10 s (base)  -         -          -     0        0       0        0             -            +0     -',
    ]);
  });

  it('marks a running poller whose seq has not moved for longer than its stale threshold', () => {
    const first = readFrame(EMPTY_SEQ_MEMORY, fleet(START_MS, 10), START_MS);

    const later = readFrame(first.memory, fleet(START_MS + 95_000, 10), START_MS + 95_000);

    expect(formatWatchFrame(later.frame, 'log').split('\n')[2]).toBe(
      'default  running  2 s (base)   in 1.2 s  0.8 s ago  -     0        0       0        0             -            +0 stale? (seq 10 for 95 s)  -',
    );
  });

  it('names the pollers gone since the previous frame, and a seq that went back', () => {
    const first = readFrame(EMPTY_SEQ_MEMORY, fleet(START_MS, 57), START_MS);
    const [recreated] = fleet(START_MS + 2_000, 3);

    const second = readFrame(first.memory, recreated ? [recreated] : [], START_MS + 2_000);

    const lines = formatWatchFrame(second.frame, 'log').split('\n');
    expect(lines[0]).toContain('1 poller: 1 running');
    expect(lines[2]).toContain('seq 3 (was 57)');
    expect(lines.at(-1)).toBe('gone since the previous frame: orders');
  });

  it('says a read failed, with its cause and the age of the last good read', () => {
    expect(formatWatchFrame(failedFrame(START_MS), 'log').split('\n')).toEqual([
      'watch: table control  |  2030-01-01T12:00:04Z  |  read failed  |  every 2 s',
      'read failed: ResourceNotFoundException: Requested resource not found',
      'last good read 4 s ago; trying again in 2 s',
    ]);
    expect(formatWatchFrame(failedFrame(null), 'log').split('\n')[2]).toBe(
      'no read has succeeded yet; trying again in 2 s',
    );
  });

  it('with --once, promises no refresh: no "every", no "trying again"', () => {
    const once: WatchFrame = { ...failedFrame(null), refreshMs: null };

    expect(formatWatchFrame(once, 'log').split('\n')).toEqual([
      'watch: table control  |  2030-01-01T12:00:04Z  |  read failed',
      'read failed: ResourceNotFoundException: Requested resource not found',
      'no read has succeeded yet',
    ]);
  });

  it('on a terminal, redraws in place: home, each line cleared to its end, the rest cleared, the quit hint', () => {
    const { frame } = readFrame(EMPTY_SEQ_MEMORY, fleet(START_MS, 10), START_MS);

    const screen = formatWatchFrame(frame, 'screen');

    expect(screen.startsWith(ANSI.home)).toBe(true);
    expect(screen.endsWith(ANSI.clearBelow)).toBe(true);
    const lines = screen.slice(ANSI.home.length, -ANSI.clearBelow.length).split('\n');
    expect(lines.every((line) => line.endsWith(ANSI.clearToLineEnd))).toBe(true);
    expect(lines[0]).toBe(
      `watch: table control  |  2030-01-01T12:00:00Z  |  2 pollers: 1 running, 1 stopped  |  every 2 s  |  Ctrl-C to quit${ANSI.clearToLineEnd}`,
    );
    expect(lines.at(-1)).toMatch(/^FIRED: how far the recorded seq moved/);
  });

  it('prints no escape code in the log style', () => {
    const { frame } = readFrame(EMPTY_SEQ_MEMORY, fleet(START_MS, 10), START_MS);

    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for the escape character itself
    expect(formatWatchFrame(frame, 'log')).not.toMatch(/\x1b/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for the escape character itself
    expect(formatWatchFrame(failedFrame(null), 'log')).not.toMatch(/\x1b/);
  });
});

describe('watch --json: one object per frame', () => {
  it("carries list --json's objects under pollers, with the time and each poller's change", () => {
    const first = readFrame(EMPTY_SEQ_MEMORY, fleet(START_MS, 10), START_MS);
    const second = readFrame(first.memory, fleet(START_MS + 2_000, 25), START_MS + 2_000);

    const parsed: unknown = JSON.parse(watchFrameJson(second.frame));

    if (!second.frame.reading.ok) throw new Error('the frame was read');
    expect(parsed).toEqual({
      at: '2030-01-01T12:00:02.000Z',
      table: 'control',
      pollers: JSON.parse(JSON.stringify(second.frame.reading.report.pollers)),
      changes: [
        { pollerId: 'default', kind: 'advanced', seq: 25, advance: 15 },
        { pollerId: 'orders', kind: 'same', seq: 40, unchangedForMs: 2_000, staleCandidate: false },
      ],
      gone: [],
    });
  });

  it('says a read failed, with the cause and when the last good read was', () => {
    expect(JSON.parse(watchFrameJson(failedFrame(START_MS)))).toEqual({
      at: '2030-01-01T12:00:04.000Z',
      table: 'control',
      error: 'ResourceNotFoundException: Requested resource not found',
      lastReadAt: '2030-01-01T12:00:00.000Z',
    });
  });
});
