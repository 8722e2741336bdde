import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { decodePollerItem, type RawItem } from '../../../functions/shared/control-item';
import type { LocalStackEvent } from '../../../scripts/local-stack/local-stack';
import {
  formatLoopLife,
  LoopLife,
  type LoopLifeEvent,
  resumedFrom,
} from '../../../scripts/local-stack/loop-life';
import { type Harness, scheduleGaps, startHarness } from '../../support/local-stack-harness';

const item = (fields: Record<string, AttributeValue>): RawItem => ({
  [FIELD.id]: { S: 'default' },
  [FIELD.running]: { BOOL: true },
  [FIELD.waitSeconds]: { N: '1' },
  ...fields,
});
const fire = (seq: number, atMs: number) => ({
  poller: 'default',
  seq,
  scheduledAt: new Date(Date.parse('2030-01-01T00:00:00.000Z') + atMs).toISOString(),
});

describe('LoopLife: what the npm start screen says of a loop’s life', () => {
  it('reports a start with its generation and where seq continues (above the old claim)', () => {
    const life = new LoopLife();
    const before = item({
      [FIELD.generation]: { N: '2' },
      [FIELD.seq]: { N: '40' },
      [FIELD.claimedSeq]: { N: '55' },
    });
    const after = {
      ...before,
      [FIELD.generation]: { N: '3' },
      [FIELD.restarts]: { N: '1' },
      [FIELD.lastRestartReason]: { S: 'heartbeat 95 s old' },
    };

    const events = life.onItemChange({ pollerId: 'default', before, after });

    expect(events.map(formatLoopLife)).toEqual([
      'loop  default  started: generation 3, every 1 s, seq continues at 56 (restarted: heartbeat 95 s old)',
    ]);
  });

  it('reports a waitseconds edit at the first tick fired on the new cadence, not at the write', () => {
    const life = new LoopLife();
    life.onFire(fire(7, 0));
    life.onItemChange({
      pollerId: 'default',
      before: item({}),
      after: item({ [FIELD.waitSeconds]: { N: '2' } }),
    });

    // Tick 8 was announced at the old cadence and keeps its time; tick 9 is the first 2 s after it. A 2 s gap is
    // also what a tick skipped at 1 s leaves, so tick 10, 2 s later again, confirms it.
    expect(life.onFire(fire(8, 1_000))).toEqual([]);
    expect(life.onFire(fire(9, 3_000))).toEqual([]);
    const applied = life.onFire(fire(10, 5_000));
    expect(applied.map(formatLoopLife)).toEqual([
      'cadence default  1 s → 2 s from seq 9 (scheduled 2030-01-01T00:00:03.000Z)',
    ]);
    expect(life.onFire(fire(11, 7_000))).toEqual([]);
  });

  it('reports an edit to a cadence no skip can mimic (1 s → 1.5 s) at its first fire', () => {
    const life = new LoopLife();
    life.onFire(fire(7, 0));
    life.onItemChange({
      pollerId: 'default',
      before: item({}),
      after: item({ [FIELD.waitSeconds]: { N: '1.5' } }),
    });

    expect(life.onFire(fire(8, 1_000))).toEqual([]);
    expect(life.onFire(fire(9, 2_500)).map(formatLoopLife)).toEqual([
      'cadence default  1 s → 1.5 s from seq 9 (scheduled 2030-01-01T00:00:02.500Z)',
    ]);
  });

  it('does not take a tick skipped at the old cadence (a gap of two old intervals) for a doubled cadence', () => {
    const life = new LoopLife();
    life.onFire(fire(7, 0));
    life.onItemChange({
      pollerId: 'default',
      before: item({}),
      after: item({ [FIELD.waitSeconds]: { N: '2' } }),
    });

    // Still at 1 s: the tick due at 2 s was skipped (seq 9 kept for the tick at 3 s), then 10 a second later.
    expect(life.onFire(fire(8, 1_000))).toEqual([]);
    expect(life.onFire(fire(9, 3_000))).toEqual([]);
    expect(life.onFire(fire(10, 4_000))).toEqual([]);
    // The edit applies: 11 comes 2 s after 10, and 12 2 s after 11.
    expect(life.onFire(fire(11, 6_000))).toEqual([]);
    expect(life.onFire(fire(12, 8_000)).map(formatLoopLife)).toEqual([
      'cadence default  1 s → 2 s from seq 11 (scheduled 2030-01-01T00:00:06.000Z)',
    ]);
  });

  it('does not count a gap during which the item recorded a skipped tick, even twice in a row', () => {
    const life = new LoopLife();
    const skipped = (count: number) =>
      life.onItemChange({
        pollerId: 'default',
        before: item({ [FIELD.waitSeconds]: { N: '2' }, [FIELD.skippedTicks]: { N: String(count - 1) } }),
        after: item({ [FIELD.waitSeconds]: { N: '2' }, [FIELD.skippedTicks]: { N: String(count) } }),
      });
    life.onFire(fire(7, 0));
    life.onItemChange({
      pollerId: 'default',
      before: item({}),
      after: item({ [FIELD.waitSeconds]: { N: '2' } }),
    });

    // Every other tick skipped at 1 s: gaps of 2 s, each with a skip recorded.
    skipped(1);
    expect(life.onFire(fire(8, 2_000))).toEqual([]);
    skipped(2);
    expect(life.onFire(fire(9, 4_000))).toEqual([]);
    skipped(3);
    expect(life.onFire(fire(10, 6_000))).toEqual([]);
  });

  it('says what a persisted table held: each poller, its last recorded seq and where its next loop starts', () => {
    const persisted = [
      decodePollerItem('orders', {
        ...item({ [FIELD.seq]: { N: '12' }, [FIELD.claimedSeq]: { N: '14' } }),
        [FIELD.id]: { S: 'orders' },
        [FIELD.running]: { BOOL: false },
      }),
      decodePollerItem('default', item({ [FIELD.claimedSeq]: { N: '30' } })),
    ];

    expect(formatLoopLife(resumedFrom('/tmp/data', persisted))).toBe(
      'resumed from /tmp/data: default (running, last recorded seq -, fired or claimed through 30: its next loop starts at seq 31), orders (stopped, last recorded seq 12, fired or claimed through 14: its next loop starts at seq 15)',
    );
  });

  it('reports nothing for an edit undone before the loop applied it', () => {
    const life = new LoopLife();
    life.onFire(fire(7, 0));
    life.onItemChange({
      pollerId: 'default',
      before: item({}),
      after: item({ [FIELD.waitSeconds]: { N: '2' } }),
    });
    life.onItemChange({
      pollerId: 'default',
      before: item({ [FIELD.waitSeconds]: { N: '2' } }),
      after: item({}),
    });

    expect([...life.onFire(fire(8, 1_000)), ...life.onFire(fire(9, 2_000))]).toEqual([]);
  });
});

describe('the loop’s life on the local stack', () => {
  let harness: Harness | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'loop-life-'));
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });
  const lifeEvents = (events: readonly LocalStackEvent[]) =>
    events.filter((event): event is LoopLifeEvent =>
      ['loop-started', 'cadence-changed', 'resumed'].includes(event.event),
    );

  it('says when the loop starts and from which tick an edited cadence runs', async () => {
    harness = await startHarness({ everySeconds: 1, dataDir });
    await harness.waitForFires(2, 5_000);

    // 1.5 s: a tick skipped at the old cadence leaves a gap of 2 s, never one of the new interval.
    await harness.setFields({ [FIELD.waitSeconds]: { N: '1.5' } });
    const changed = await harness.waitFor(
      (event): event is Extract<LocalStackEvent, { event: 'cadence-changed' }> =>
        event.event === 'cadence-changed',
      8_000,
    );

    expect(lifeEvents(harness.events)[0]).toMatchObject({
      event: 'loop-started',
      generation: 1,
      continuesAfterSeq: 0,
    });
    expect(harness.fires()[0]?.seq).toBe(1);
    expect(changed).toMatchObject({ fromSeconds: 1, toSeconds: 1.5 });
    // The reported seq is the first at 1.5 s: the gap before it is 1.5 s, the one before that was still 1 s.
    const upTo = harness.fires().filter((fired) => fired.seq <= changed.seq);
    expect(scheduleGaps(upTo).slice(-2)).toEqual([1_000, 1_500]);
  });

  it('says what --data resumed and that the new loop continues after it', async () => {
    harness = await startHarness({ dataDir });

    const started = await harness.waitFor(
      (event): event is Extract<LocalStackEvent, { event: 'loop-started' }> => event.event === 'loop-started',
      5_000,
    );
    const [resumed] = lifeEvents(harness.events);
    expect(resumed).toMatchObject({ event: 'resumed', dataDir });
    const poller = resumed?.event === 'resumed' ? resumed.pollers[0] : undefined;
    // The first run fired 4 or more ticks at 1 s under one claim of 30: its next loop continues after that claim.
    expect(poller?.continuesAfterSeq).toBe(30);
    expect(started.continuesAfterSeq).toBe(poller?.continuesAfterSeq);
    const [first] = await harness.waitForFires(1, 5_000);
    expect(first?.seq).toBe(started.continuesAfterSeq + 1);
    rmSync(dataDir, { recursive: true, force: true });
  });
});
