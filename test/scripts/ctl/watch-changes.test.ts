import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { decodePollerItem, type PollerItem } from '../../../functions/shared/control-item';
import { lineOf } from '../../../scripts/ctl/commands/list';
import { EMPTY_SEQ_MEMORY, type SeqMemory, seqChanges } from '../../../scripts/ctl/watch-changes';

const START_MS = Date.parse('2030-01-01T12:00:00.000Z');

/** A poller at 2 s whose loop heartbeat is fresh at `nowMs`, with `fields` on top. */
function item(pollerId: string, nowMs: number, fields: Record<string, AttributeValue> = {}): PollerItem {
  return decodePollerItem(pollerId, {
    [FIELD.id]: { S: pollerId },
    [FIELD.running]: { BOOL: true },
    [FIELD.waitSeconds]: { N: '2' },
    [FIELD.generation]: { N: '1' },
    [FIELD.heartbeatAt]: { S: new Date(nowMs - 1_000).toISOString() },
    ...fields,
  });
}

const seq = (value: number) => ({ [FIELD.seq]: { N: String(value) } });

/** One frame: the items as read at `nowMs`, compared with `memory`. */
function frame(memory: SeqMemory, items: PollerItem[], nowMs: number) {
  return seqChanges(
    memory,
    items,
    items.map((one) => lineOf(one, nowMs)),
    nowMs,
  );
}

describe('watch: what changed since the previous frame, from the recorded seq', () => {
  it('shows the seq on the first frame, then how far it moved', () => {
    const first = frame(EMPTY_SEQ_MEMORY, [item('a', START_MS, seq(10)), item('b', START_MS)], START_MS);
    const second = frame(
      first.memory,
      [item('a', START_MS + 2_000, seq(25)), item('b', START_MS + 2_000, seq(3))],
      START_MS + 2_000,
    );

    expect(Object.fromEntries(first.changes)).toEqual({
      a: { kind: 'first', seq: 10 },
      b: { kind: 'first', seq: null },
    });
    expect(Object.fromEntries(second.changes)).toEqual({
      a: { kind: 'advanced', seq: 25, advance: 15 },
      b: { kind: 'advanced', seq: 3, advance: 3 },
    });
  });

  it('counts an unchanged seq from the first frame that showed it, not from the previous frame', () => {
    let memory = frame(EMPTY_SEQ_MEMORY, [item('a', START_MS, seq(10))], START_MS).memory;
    memory = frame(memory, [item('a', START_MS + 30_000, seq(10))], START_MS + 30_000).memory;

    const third = frame(memory, [item('a', START_MS + 60_000, seq(10))], START_MS + 60_000);

    expect(third.changes.get('a')).toEqual({
      kind: 'same',
      seq: 10,
      unchangedForMs: 60_000,
      staleCandidate: false,
    });
  });

  it('marks a running poller stale only once its seq stayed put beyond its stale threshold (90 s at 2 s)', () => {
    const first = frame(EMPTY_SEQ_MEMORY, [item('a', START_MS, seq(10))], START_MS);

    const atThreshold = frame(first.memory, [item('a', START_MS + 90_000, seq(10))], START_MS + 90_000);
    const beyond = frame(first.memory, [item('a', START_MS + 90_001, seq(10))], START_MS + 90_001);

    expect(atThreshold.changes.get('a')).toMatchObject({ kind: 'same', staleCandidate: false });
    expect(beyond.changes.get('a')).toMatchObject({ kind: 'same', staleCandidate: true });
  });

  it('never marks a running poller in a pause window, whose seq stays put by design; marks it once a cadence applies', () => {
    const withRule = (nowMs: number, rule: string) =>
      item('a', nowMs, { ...seq(10), [FIELD.windows]: { L: [{ S: rule }] } });
    const paused = frame(EMPTY_SEQ_MEMORY, [withRule(START_MS, 'daily 11:00-13:00 pause')], START_MS);

    const stillPaused = frame(
      paused.memory,
      [withRule(START_MS + 600_000, 'daily 11:00-13:00 pause')],
      START_MS + 600_000,
    );
    const ruleChanged = frame(
      paused.memory,
      [withRule(START_MS + 600_000, 'daily 11:00-13:00 every 2')],
      START_MS + 600_000,
    );

    expect(stillPaused.changes.get('a')).toMatchObject({ kind: 'same', staleCandidate: false });
    expect(ruleChanged.changes.get('a')).toMatchObject({ kind: 'same', staleCandidate: true });
  });

  it('never marks a poller that is not running (stopped, or its loop already counts as stale)', () => {
    const stopped = (nowMs: number) =>
      item('a', nowMs, { ...seq(10), [FIELD.running]: { BOOL: false }, [FIELD.stoppedReason]: { S: 'x' } });
    const first = frame(EMPTY_SEQ_MEMORY, [stopped(START_MS)], START_MS);

    const later = frame(first.memory, [stopped(START_MS + 600_000)], START_MS + 600_000);

    expect(later.changes.get('a')).toMatchObject({ kind: 'same', staleCandidate: false });
  });

  it('says when the seq went back (the item was deleted and created again) and which pollers are gone', () => {
    const first = frame(EMPTY_SEQ_MEMORY, [item('a', START_MS, seq(57)), item('b', START_MS)], START_MS);

    const second = frame(first.memory, [item('a', START_MS + 2_000, seq(3))], START_MS + 2_000);

    expect(second.changes.get('a')).toEqual({ kind: 'reset', seq: 3, previousSeq: 57 });
    expect(second.gone).toEqual(['b']);
    expect([...second.memory.byPoller.keys()]).toEqual(['a']);
  });
});
