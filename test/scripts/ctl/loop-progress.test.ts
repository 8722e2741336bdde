import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { decodePollerItem, type PollerItem } from '../../../functions/shared/control-item';
import { endsBefore, loopProgress } from '../../../scripts/ctl/loop-progress';

const NOW_MS = Date.parse('2030-01-01T12:00:00.000Z');
const at = (offsetMs: number, nowMs = NOW_MS) => new Date(nowMs + offsetMs).toISOString();

/** A running poller's item with a live loop (heartbeat 5 s old) and `fields` on top; the clock is NOW_MS. */
function item(fields: Record<string, AttributeValue>, waitSeconds = 2): PollerItem {
  return decodePollerItem('default', {
    [FIELD.id]: { S: 'default' },
    [FIELD.running]: { BOOL: true },
    [FIELD.waitSeconds]: { N: String(waitSeconds) },
    [FIELD.generation]: { N: '1' },
    [FIELD.heartbeatAt]: { S: at(-5_000) },
    ...fields,
  });
}

describe('loopProgress: the loop as it runs, from an item written every ~30 s', () => {
  it('carries a new loop’s first claim forward: 12 ticks fired, not `seq -` and a next tick 23 s ago', () => {
    // The loop started 24 s ago at 2 s: its first tick was due 1 s later, its one claim covers seq 1-15.
    const started = item({
      [FIELD.claimedSeq]: { N: '15' },
      [FIELD.nextTickAt]: { S: at(-23_000) },
      [FIELD.heartbeatAt]: { S: at(-24_000) },
    });

    const progress = loopProgress(started, NOW_MS, 2);

    expect(progress.last).toEqual({ seq: 12, at: at(-1_000), derived: true });
    expect(progress.next).toEqual({ seq: 13, at: at(1_000), derived: true });
  });

  it('shows the record as it is while its next tick is still ahead', () => {
    const fresh = item({
      [FIELD.seq]: { N: '41' },
      [FIELD.lastTickAt]: { S: at(-800) },
      [FIELD.nextTickAt]: { S: at(1_200) },
      [FIELD.claimedSeq]: { N: '56' },
    });

    expect(loopProgress(fresh, NOW_MS, 2)).toEqual({
      last: { seq: 41, at: at(-800), derived: false },
      next: { seq: 42, at: at(1_200), derived: false },
      alive: true,
    });
  });

  it('continues a new loop after the old claim, not after the old seq', () => {
    // The old loop fired through 40 and had claimed through 55; the new one claimed 56-70, its first due 5 s ago.
    const restarted = item({
      [FIELD.seq]: { N: '40' },
      [FIELD.lastTickAt]: { S: at(-300_000) },
      [FIELD.claimedSeq]: { N: '70' },
      [FIELD.nextTickAt]: { S: at(-5_000) },
    });

    const progress = loopProgress(restarted, NOW_MS, 2);

    expect(progress.last).toEqual({ seq: 58, at: at(-1_000), derived: true });
    expect(progress.next).toEqual({ seq: 59, at: at(1_000), derived: true });
  });

  it('reads a Wait-state loop’s hand-back (claim of one tick) as seq + 1', () => {
    const handedBack = item(
      {
        [FIELD.seq]: { N: '10' },
        [FIELD.claimedSeq]: { N: '10' },
        [FIELD.lastTickAt]: { S: at(-50_000) },
        [FIELD.nextTickAt]: { S: at(10_000) },
      },
      60,
    );

    expect(loopProgress(handedBack, NOW_MS, 60).next).toEqual({ seq: 11, at: at(10_000), derived: false });
  });

  it.each<[string, Record<string, AttributeValue>]>([
    ['a loop that recorded its stop', { [FIELD.stoppedReason]: { S: 'running is false' } }],
    ['a silent loop (heartbeat past the 90 s threshold)', { [FIELD.heartbeatAt]: { S: at(-600_000) } }],
    ['a poller no loop ever ran', { [FIELD.generation]: { NULL: true } }],
  ])('gives %s no next tick and its recorded last one', (_name, fields) => {
    const progress = loopProgress(
      item({
        [FIELD.seq]: { N: '7' },
        [FIELD.lastTickAt]: { S: at(-600_000) },
        [FIELD.nextTickAt]: { S: at(-598_000) },
        ...fields,
      }),
      NOW_MS,
      2,
    );

    expect(progress.next).toBeNull();
    expect(progress.last).toEqual({ seq: 7, at: at(-600_000), derived: false });
  });

  it('shows no next tick after a start took a new generation, not the old loop’s grid carried forward', () => {
    // The old loop fired through 7200 an hour ago; the take wrote a fresh heartbeat and removed its nextTickAt
    // (control-table.ts takeGeneration); the new loop has not claimed yet.
    const taken = item({
      [FIELD.generation]: { N: '2' },
      [FIELD.seq]: { N: '7200' },
      [FIELD.lastTickAt]: { S: at(-3_600_000) },
      [FIELD.claimedSeq]: { N: '7214' },
      [FIELD.heartbeatAt]: { S: at(-2_000) },
    });

    expect(loopProgress(taken, NOW_MS, 0.5)).toEqual({
      last: { seq: 7200, at: at(-3_600_000), derived: false },
      next: null,
      alive: true,
    });
  });

  it('counts nothing for a loop whose execution has ended (FAILED, ABORTED), however fresh its heartbeat', () => {
    const failed = item({
      [FIELD.seq]: { N: '41' },
      [FIELD.lastTickAt]: { S: at(-800) },
      [FIELD.claimedSeq]: { N: '56' },
      [FIELD.nextTickAt]: { S: at(-30_000) },
      [FIELD.executionArn]: { S: 'arn:aws:states:us-east-1:123456789012:execution:m:default-g1-x' },
    });

    expect(
      loopProgress(failed, NOW_MS, 2, 'arn:aws:states:us-east-1:123456789012:execution:m:default-g1-x'),
    ).toEqual({ last: { seq: 41, at: at(-800), derived: false }, next: null, alive: false });
    expect(
      loopProgress(failed, NOW_MS, 2, 'arn:aws:states:us-east-1:123456789012:execution:m:other').alive,
    ).toBe(true);
  });

  it('reads the next seq from the claim’s own interval after `set --every 10`, not the new cadence’s window', () => {
    // Claimed at 2 s right after seq 41: 42-56 (15 ticks); the cadence is 10 s now (a window of 3 would say 54).
    const claimedAt2s = item({
      [FIELD.seq]: { N: '41' },
      [FIELD.lastTickAt]: { S: at(-800) },
      [FIELD.claimedSeq]: { N: '56' },
      [FIELD.nextTickAt]: { S: at(1_200) },
    });

    expect(loopProgress(claimedAt2s, NOW_MS, 10).next).toEqual({ seq: 42, at: at(1_200), derived: false });
  });

  it('says "about" for a seq only the claim window of the cadence now can give (a new loop’s first claim)', () => {
    // The new loop claimed 56-70 after the old claim (through 55); nothing says at which cadence.
    const firstClaim = item({
      [FIELD.seq]: { N: '40' },
      [FIELD.lastTickAt]: { S: at(-300_000) },
      [FIELD.claimedSeq]: { N: '70' },
      [FIELD.nextTickAt]: { S: at(1_000) },
    });

    expect(loopProgress(firstClaim, NOW_MS, 2).next).toEqual({ seq: 56, at: at(1_000), derived: true });
  });

  it('keeps a pause window’s recorded end as the next tick (nothing to derive without a cadence)', () => {
    const paused = item({ [FIELD.seq]: { N: '9' }, [FIELD.nextTickAt]: { S: at(3_600_000) } });

    expect(loopProgress(paused, NOW_MS, null).next).toEqual({ seq: 10, at: at(3_600_000), derived: false });
  });

  it('never shows a next tick in the past or before the last one, at any moment of a 30 s claim', () => {
    const claimedAtMs = NOW_MS;
    const claim = item(
      {
        [FIELD.seq]: { N: '100' },
        [FIELD.lastTickAt]: { S: at(-500, claimedAtMs) },
        [FIELD.claimedSeq]: { N: '160' },
        [FIELD.nextTickAt]: { S: at(0, claimedAtMs) },
        [FIELD.heartbeatAt]: { S: at(-300, claimedAtMs) },
      },
      0.5,
    );
    for (let sinceMs = -400; sinceMs < 31_000; sinceMs += 137) {
      const nowMs = claimedAtMs + sinceMs;
      const { last, next } = loopProgress(claim, nowMs, 0.5);
      const [lastMs, nextMs] = [Date.parse(last?.at ?? ''), Date.parse(next?.at ?? '')];

      expect(nextMs).toBeGreaterThan(nowMs);
      expect(lastMs).toBeLessThanOrEqual(nowMs);
      expect(next?.seq).toBe((last?.seq ?? 0) + 1);
      // The grid of the claim: seq 101 at the claim's first tick, one every 0.5 s.
      expect(nextMs).toBe(claimedAtMs + ((next?.seq ?? 0) - 101) * 500);
    }
  });
});

describe('endsBefore: when a stopped loop really ends', () => {
  const running = item({
    [FIELD.seq]: { N: '41' },
    [FIELD.lastTickAt]: { S: at(-800) },
    [FIELD.claimedSeq]: { N: '56' },
    [FIELD.nextTickAt]: { S: at(1_200) },
  });

  it('ends before its next tick when it reads the item after the stop (300 ms ahead of the tick)', () => {
    const progress = loopProgress(running, NOW_MS, 2);

    expect(endsBefore(progress, NOW_MS, 2)).toEqual({ seq: 42, at: at(1_200), derived: false });
  });

  it('lets the next tick go when the stop comes after the loop’s read for it, and ends before the one after', () => {
    const nowMs = NOW_MS + 1_000;
    const progress = loopProgress(running, nowMs, 2);

    expect(endsBefore(progress, nowMs, 2)).toEqual({ seq: 43, at: at(3_200), derived: true });
  });

  it('lets a Wait-state loop’s next tick go when the stop comes within 2 s of it (it read the item on waking)', () => {
    // 60 s is above the break-even: each tick is a Wait-state round, woken 0.5-1.5 s ahead, firing what is due
    // within maxInProcessSleepMs of its read without reading again.
    const waiting = item(
      {
        [FIELD.seq]: { N: '10' },
        [FIELD.claimedSeq]: { N: '10' },
        [FIELD.lastTickAt]: { S: at(-58_500) },
        [FIELD.nextTickAt]: { S: at(1_500) },
      },
      60,
    );

    expect(endsBefore(loopProgress(waiting, NOW_MS, 60), NOW_MS, 60)).toEqual({
      seq: 12,
      at: at(61_500),
      derived: true,
    });
    expect(endsBefore(loopProgress(waiting, NOW_MS - 1_000, 60), NOW_MS - 1_000, 60)).toEqual({
      seq: 11,
      at: at(1_500),
      derived: false,
    });
  });

  it('has nothing to end without a live loop', () => {
    const stopped = item({ [FIELD.stoppedReason]: { S: 'running is false' } });

    expect(endsBefore(loopProgress(stopped, NOW_MS, 2), NOW_MS, 2)).toBeNull();
  });
});
