import { afterEach, describe, expect, it } from 'vitest';
import { shardItemKey } from '../../functions/fleet/shard-store';
import { FIELD } from '../../functions/shared/contract';
import { executionsOf, reportFault, seconds, waitUntil } from '../support/fault-probes';
import { declaredFleet, judgeFleetSettled } from '../support/fleet-fault-probes';
import { type Harness, startHarness } from '../support/local-stack-harness';

/**
 * Issue 9's third fleet fault: pollers moved between shards under load, as the fleet moves them. 40 pollers at 2 s
 * (20 fires/s) fit one shard of this test's capacity (30 fires/s); an operator then speeds every one of them up to
 * 1 s (40 fires/s), so s0 is over capacity and the watchdog's planner moves pollers to s1 at the end of s0's lease
 * (`moveTo`, `movedAt`). s0 fires their ticks due before movedAt and flips each item to s1; the flip's stream
 * record starts s1, which fires from movedAt. Nothing here writes a placement by hand.
 */

const POLLERS = 40;
/** 40 pollers at 2 s (20 fires/s) fit one shard; at 1 s (40 fires/s) they need two. */
const CAPACITY_FIRES_PER_SECOND = 30;
/** The deployed rule runs every minute; sooner here, so the move comes within the test's time. */
const WATCHDOG_INTERVAL_MS = 5_000;
/**
 * The shard's Lambda timeout: its rounds hand back this often, writing the skips they counted, so the items'
 * skippedTicks keep up with the fires the verdict counts.
 */
const CONTROLLER_TIMEOUT_MS = 9_000;
/** The design's responsiveness for a poller whose shard must be started (docs/design/fleet.md). */
const FIRES_AGAIN_WITHIN_MS = 3_000;
const fleet = declaredFleet(POLLERS, 2);
const pollerIds = fleet.pollers.map((poller) => poller.id);

interface Move {
  readonly pollerId: string;
  readonly movedAtMs: number;
  /** When this test first read the item on s1 (the flip, seen within a poll). */
  readonly flipSeenAtMs: number;
}

/** Polls the items until the planner's moves are all flipped: the pollers now on s1, with their movedAt. */
async function watchMoves(harness: Harness, timeoutMs: number): Promise<Move[]> {
  const seen = new Map<string, Move>();
  let pending = 0;
  await waitUntil(
    async () => {
      pending = 0;
      for (const pollerId of pollerIds) {
        const item = await harness.readItem(pollerId);
        if (item?.[FIELD.moveTo] !== undefined) pending += 1;
        if (item?.[FIELD.shard]?.S !== 's1' || seen.has(pollerId)) continue;
        seen.set(pollerId, { pollerId, movedAtMs: Number(item[FIELD.movedAt]?.N), flipSeenAtMs: Date.now() });
      }
      return seen.size > 0 && pending === 0;
    },
    timeoutMs,
    'the planner moving pollers to s1 and s0 flipping them',
    100,
  );
  return [...seen.values()];
}

describe('fleet fault: pollers moved between shards under load', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('a cadence edit overloads s0: the planner moves pollers to s1, the flip starts s1, no (poller, seq) twice', async () => {
    harness = await startHarness({
      fleetVariant: { maxShards: 2, capacityFiresPerSecond: CAPACITY_FIRES_PER_SECOND },
      fleet,
      controllerTimeoutMs: CONTROLLER_TIMEOUT_MS,
      watchdogIntervalMs: WATCHDOG_INTERVAL_MS,
    });
    const served = harness;
    await waitUntil(
      () => pollerIds.every((id) => served.fires(id).length >= 3),
      45_000,
      'three fires of every poller',
    );
    expect(executionsOf(served.stack, shardItemKey('s1'))).toEqual([]);

    const spedUpAtMs = Date.now();
    for (const id of pollerIds) await served.setFields({ [FIELD.waitSeconds]: { N: '1' } }, id);
    // The watchdog's next run moves them at s0's lease end (≤ 30 s ahead); s0 flips each at its movedAt.
    const moves = await watchMoves(served, 3 * WATCHDOG_INTERVAL_MS + 30_000 + 15_000);
    await waitUntil(
      () =>
        moves.every(
          (move) =>
            served.fires(move.pollerId).filter((fire) => Date.parse(fire.scheduledAt) >= move.movedAtMs)
              .length >= 3,
        ),
      30_000,
      'three fires of every moved poller on s1',
    );
    const s1Started = executionsOf(served.stack, shardItemKey('s1'))
      .map((execution) => execution.startDate.getTime())
      .sort((a, b) => a - b)[0];

    // Each moved poller's first tick at or after movedAt, and when it went out (s1 exists only from the flip on).
    const firstOnS1 = moves.map((move) => {
      const first = served
        .fires(move.pollerId)
        .filter((fire) => Date.parse(fire.scheduledAt) >= move.movedAtMs)
        .sort((a, b) => a.seq - b.seq)[0];
      return {
        ...move,
        sentAtMs: Date.parse(first?.sentAt ?? ''),
        firedAtMs: Date.parse(first?.firedAt ?? ''),
      };
    });
    const silent = firstOnS1.filter((move) => !(move.firedAtMs - move.flipSeenAtMs < FIRES_AGAIN_WITHIN_MS));
    // A tick due at or after movedAt that went out before s1's first execution was fired by s0.
    const firedPastMoveByS0 = firstOnS1.filter(
      (move) => s1Started === undefined || move.sentAtMs < s1Started,
    );

    const verdict = await judgeFleetSettled(
      served,
      pollerIds,
      (_id, atMs) => (atMs > spedUpAtMs ? 1_000 : 2_000),
      [],
      3 * CONTROLLER_TIMEOUT_MS,
    );
    const movedAts = moves.map((move) => move.movedAtMs);
    reportFault('fleet move under load', {
      pollers: POLLERS,
      moved: moves.length,
      'movedAt after the speed-up': seconds(Math.min(...movedAts) - spedUpAtMs),
      's1 started after movedAt':
        s1Started === undefined ? 'never' : seconds(s1Started - Math.min(...movedAts)),
      'first fire on s1 after the flip, worst': seconds(
        Math.max(...firstOnS1.map((move) => move.firedAtMs - move.flipSeenAtMs)),
      ),
      'missed (counted as skipped or failed)': `${verdict.missedOutsideGaps} ${verdict.uncounted.join('; ') || 'all counted'}`,
      duplicates: verdict.duplicates.join(',') || 'none',
      'too close': verdict.tooClose.join(',') || 'none',
      'shard rounds ended at their timeout (gap allowed)': verdict.roundsTimedOut,
    });
    expect(verdict.duplicates).toEqual([]);
    expect(verdict.tooClose).toEqual([]);
    expect(verdict.uncounted).toEqual([]);
    // The planner moved only what s0's capacity asks (at least 10 of the 40 fires/s), into s1's room.
    expect(moves.length).toBeGreaterThanOrEqual(POLLERS - CAPACITY_FIRES_PER_SECOND);
    expect(moves.length).toBeLessThanOrEqual(CAPACITY_FIRES_PER_SECOND);
    expect(moves.every((move) => move.movedAtMs > spedUpAtMs)).toBe(true);
    expect(firedPastMoveByS0.map((move) => move.pollerId)).toEqual([]);
    expect(silent.map((move) => move.pollerId)).toEqual([]);
    expect(executionsOf(served.stack, shardItemKey('s0'), 'RUNNING')).toHaveLength(1);
    expect(executionsOf(served.stack, shardItemKey('s1'), 'RUNNING')).toHaveLength(1);
  }, 180_000);
});
