import { afterEach, describe, expect, it } from 'vitest';
import { shardItemKey } from '../../functions/fleet/shard-store';
import { ShardTable } from '../../functions/fleet/shard-table';
import { FIELD } from '../../functions/shared/contract';
import { executionsOf, reportFault, waitUntil } from '../support/fault-probes';
import { declaredFleet, judgeFleetSettled } from '../support/fleet-fault-probes';
import { type Harness, startHarness } from '../support/local-stack-harness';

/**
 * Issue 9's second fleet fault: two shards that both believe they own a poller. Either a second execution is
 * started for a shard that is served (a racing or repeated start), or a stale writer puts a poller on another
 * shard while its shard still serves it, and that shard is started at once. The lease (one owner per shard) and
 * the claims keep every (poller, seq) to one fire. The watchdog stays at its minute: only the hand-made starts
 * race here.
 */

const POLLERS = 10;
const STALE = 4;
const fleet = declaredFleet(POLLERS, 1);
/**
 * The shard's Lambda timeout: its rounds hand back this often, writing the skips they counted (a shard counts them
 * in memory and writes them with its next claim or at its hand-back), so the items' skippedTicks keep up.
 */
const CONTROLLER_TIMEOUT_MS = 9_000;
const pollerIds = fleet.pollers.map((poller) => poller.id);

async function servedFleet(): Promise<Harness> {
  const harness = await startHarness({
    fleetVariant: { maxShards: 2 },
    fleet,
    controllerTimeoutMs: CONTROLLER_TIMEOUT_MS,
  });
  await waitUntil(
    () => pollerIds.every((id) => harness.fires(id).length >= 3),
    45_000,
    'three fires of every poller',
  );
  return harness;
}

/** Every poller fires `count` more times after `sinceMs` (or the wait gives up). */
async function firesAfter(harness: Harness, ids: readonly string[], sinceMs: number, count: number) {
  await waitUntil(
    () =>
      ids.every(
        (id) => harness.fires(id).filter((fire) => Date.parse(fire.firedAt) > sinceMs).length >= count,
      ),
    30_000,
    `${count} fires of every poller after the fault`,
  );
}

describe('fleet fault: two shards believe they own a poller', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('a second execution for a served shard: one of the two serves it, the other ends "shard already served by" it; no (poller, seq) twice', async () => {
    harness = await servedFleet();
    const [owner] = executionsOf(harness.stack, shardItemKey('s0'), 'RUNNING');

    const secondArn = harness.stack.startLoop(shardItemKey('s0'));
    const stopped = await harness.waitFor(
      (event) => event.event === 'stopped' && event.poller === 'shard s0',
      10_000,
    );
    const startedAt = Date.now();
    await firesAfter(harness, pollerIds, startedAt, 3);

    const verdict = await judgeFleetSettled(harness, pollerIds, () => 1_000, [], CONTROLLER_TIMEOUT_MS);
    const lease = (await new ShardTable(harness.stack.dynamoDb, harness.stack.tableName).readShard('s0'))
      ?.lease;
    const running = executionsOf(harness.stack, shardItemKey('s0'), 'RUNNING').map((e) => e.executionArn);
    reportFault('fleet second execution for s0', {
      stopped: stopped.event === 'stopped' ? stopped.reason : '',
      'the second one':
        secondArn === running[0] ? 'took the shard (the first was between rounds, lease released)' : 'ended',
      duplicates: verdict.duplicates.join(',') || 'none',
      'missed (outside/counted)': `${verdict.missedOutsideGaps} ${verdict.uncounted.join('; ') || 'all counted'}`,
    });
    // One of the two serves the shard, the other ended: usually the second ends at once, naming the owner; when it
    // comes while the first is between rounds (its lease released at a hand-back) it takes the next epoch, and the
    // first ends at its next round as superseded by it (shard-steps.ts decideLeaseStart, decision 3).
    expect(running).toHaveLength(1);
    expect(running).toContain(lease?.owner);
    expect([owner?.executionArn, secondArn]).toContain(lease?.owner);
    const reason = stopped.event === 'stopped' ? stopped.reason : '';
    if (lease?.owner === secondArn) expect(reason).toBe(`superseded by epoch ${lease.epoch}`);
    else expect(reason).toBe(`shard already served by ${lease?.owner}`);
    expect(verdict.duplicates).toEqual([]);
    expect(verdict.tooClose).toEqual([]);
    expect(verdict.uncounted).toEqual([]);
  }, 90_000);

  // s1 is started twice by hand: at the stale write (a racing start: it finds no poller naming it yet and ends), and
  // once s0 flipped the items (standing in for the stream's start after a flip: see fleet-moves.test.ts for why the
  // deployed stream does not start it). Its late start leaves a gap of unfired ticks, allowed here: this test is
  // about doubles.
  it('a stale move (moveTo s1 at an instant s0 already fired past), s1 started before and after the flip: no (poller, seq) twice', async () => {
    harness = await servedFleet();
    const stale = pollerIds.slice(0, STALE);
    // A planner that read an old lease: movedAt 3 s back, before ticks s0 has fired already.
    const movedAtMs = Date.now() - 3_000;
    for (const id of stale)
      await harness.setFields({ [FIELD.moveTo]: { S: 's1' }, [FIELD.movedAt]: { N: String(movedAtMs) } }, id);
    harness.stack.startLoop(shardItemKey('s1'));
    await waitUntil(
      async () => {
        for (const id of stale) if ((await harness?.readItem(id))?.[FIELD.shard]?.S !== 's1') return false;
        return true;
      },
      10_000,
      's0 flipping the stale pollers to s1',
    );
    const flippedAt = Date.now();
    harness.stack.startLoop(shardItemKey('s1'));
    await firesAfter(harness, pollerIds, Date.now(), 3);

    const verdict = await judgeFleetSettled(
      harness,
      pollerIds,
      () => 1_000,
      [{ fromMs: movedAtMs - 1_000, toMs: flippedAt + 3_000 }],
      CONTROLLER_TIMEOUT_MS,
    );
    reportFault('fleet stale move to s1', {
      'moved pollers': STALE,
      duplicates: verdict.duplicates.join(',') || 'none',
      'too close': verdict.tooClose.join(',') || 'none',
      'missed until s1 started by hand': verdict.missedInGaps,
      'missed (outside/counted)': `${verdict.missedOutsideGaps} ${verdict.uncounted.join('; ') || 'all counted'}`,
    });
    expect(verdict.duplicates).toEqual([]);
    expect(verdict.tooClose).toEqual([]);
    expect(verdict.uncounted).toEqual([]);
    expect(executionsOf(harness.stack, shardItemKey('s1'), 'RUNNING')).toHaveLength(1);
    expect(executionsOf(harness.stack, shardItemKey('s0'), 'RUNNING')).toHaveLength(1);
  }, 90_000);

  // Found by this test (3 runs of 3 before the fix): s1 re-fired seqs s0 had fired, taking s0's recorded shardLoop
  // with no resume instant. A loop handed over now resumes no earlier than the new owner's read (shard-round.ts
  // beginLoop). The planner's reassign always writes movedAt; a stale or hand writer does not.
  // Red again in session 6 (p009#4 fired by both shards): a hand edit of `shard` keeps the old shard's `shardEpoch`
  // and loop, which s1 took for its own record. Shards now write `by` into the loop they record (shard-table.ts):
  // another shard's live record is an unannounced hand-over that resumes past that shard's next read (shard-round.ts
  // INDEX_LAG_MS), and that shard's epoch no longer fences s1's writes out (conditionsFor).
  it('a stale reassign (shard := s1 written while s0 serves) onto a running s1: no (poller, seq) twice', async () => {
    harness = await servedFleet();
    // s1 is up first, serving the last poller (a reassign as the planner writes it from a dead shard would not be
    // stale; here s0 lives), so it reads its pollers about every second, as s0 does.
    const last = pollerIds.at(-1) ?? '';
    await harness.setFields({ [FIELD.shard]: { S: 's1' } }, last);
    harness.stack.startLoop(shardItemKey('s1'));
    const s1Since = Date.now();
    await waitUntil(
      () =>
        (harness?.fires(last) ?? []).filter((fire) => Date.parse(fire.firedAt) > s1Since + 1_000).length >= 2,
      10_000,
      's1 serving its poller',
    );
    const stale = pollerIds.slice(0, STALE);
    for (const id of stale) await harness.setFields({ [FIELD.shard]: { S: 's1' } }, id);
    const editedAt = Date.now();
    await firesAfter(harness, stale, editedAt + 2_000, 3);

    // A hand edit of `shard` names no movedAt: s1 resumes the poller no earlier than its own read (never below a
    // seq s0 may have fired since its record), and s0 stops at its next read; the ticks between are fired by
    // neither, and no shard knows them to count. Allowed here, bounded: this test is about doubles.
    const allowed = [{ fromMs: editedAt - 1_500, toMs: editedAt + 3_000 }];
    const verdict = await judgeFleetSettled(harness, pollerIds, () => 1_000, allowed, CONTROLLER_TIMEOUT_MS);
    reportFault('fleet stale reassign to s1', {
      'reassigned pollers': STALE,
      duplicates: verdict.duplicates.join(',') || 'none',
      'too close': verdict.tooClose.join(',') || 'none',
      'missed (outside/counted)': `${verdict.missedOutsideGaps} ${verdict.uncounted.join('; ') || 'all counted'}`,
    });
    expect(verdict.duplicates).toEqual([]);
    expect(verdict.tooClose).toEqual([]);
    expect(verdict.uncounted).toEqual([]);
  }, 90_000);
});
