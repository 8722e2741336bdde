import { HistoryEventType } from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LEASE_TIMING } from '../../functions/fleet/shard-lease';
import { shardItemKey } from '../../functions/fleet/shard-store';
import { ShardTable } from '../../functions/fleet/shard-table';
import { RECOVERY_PAUSE_SECONDS } from '../../functions/scheduling/history-budget';
import { LOCAL_CONTROLLER_NAME } from '../../scripts/local-stack/local-endpoints';
import { executionsOf, reportFault, seconds, waitUntil } from '../support/fault-probes';
import {
  declaredFleet,
  firesByPoller,
  judgeFleetSettled,
  shardRoundKiller,
  widestScheduledGap,
} from '../support/fleet-fault-probes';
import { type Harness, startHarness } from '../support/local-stack-harness';

/**
 * The other half of a killed shard controller: its sandbox dies (SIGKILL mid-round, `Runtime.ExitError`) and its
 * execution lives on, as on AWS. Step Functions catches the failure, pauses RECOVERY_PAUSE_SECONDS and runs the
 * round again in the same execution, which finds its own lease (same owner, same epoch), renews it and resumes
 * every poller at the lease's end as read (what the dead attempt may have fired up to): no (poller, seq) twice, a
 * gap of at most the lease plus the recovery pause.
 */

const POLLERS = 10;
const WATCHDOG_MS = 10_000;
const CONTROLLER_TIMEOUT_MS = 9_000;
const KILL_AFTER_MS = 1_500;
const GAP_BOUND_MS = DEFAULT_LEASE_TIMING.durationMs + RECOVERY_PAUSE_SECONDS * 1_000 + 3_000;
const fleet = declaredFleet(POLLERS, 1);
const pollerIds = fleet.pollers.map((poller) => poller.id);

describe('fleet fault: a shard round killed, its execution retrying', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('the same execution renews its own lease after the recovery pause and resumes at its end: no (poller, seq) twice, gap ≤ lease + pause', async () => {
    const killer = shardRoundKiller(LOCAL_CONTROLLER_NAME, KILL_AFTER_MS);
    harness = await startHarness({
      fleetVariant: { maxShards: 1 },
      fleet,
      watchdogIntervalMs: WATCHDOG_MS,
      controllerTimeoutMs: CONTROLLER_TIMEOUT_MS,
      onInvocationStart: (start) => killer.onInvocationStart(start),
    });
    killer.attach(harness);
    const shards = new ShardTable(harness.stack.dynamoDb, harness.stack.tableName);
    await waitUntil(
      () => pollerIds.every((id) => (harness?.fires(id).length ?? 0) >= 3),
      45_000,
      'three fires of every poller',
    );
    const [execution] = executionsOf(harness.stack, shardItemKey('s0'), 'RUNNING');
    if (execution === undefined) throw new Error('no shard execution');
    const before = (await shards.readShard('s0'))?.lease;

    // act
    killer.arm();
    let killedAt = 0;
    await waitUntil(
      () => {
        const failed = harness?.stack.stepFunctions
          .historyOf(execution.executionArn)
          .some((event) => event.type === HistoryEventType.LambdaFunctionFailed);
        if (failed) killedAt = Date.now();
        return failed === true;
      },
      3 * WATCHDOG_MS,
      'the killed shard round',
      20,
    );
    const leaseAtKill = (await shards.readShard('s0'))?.lease;
    await waitUntil(
      () =>
        pollerIds.every(
          (id) =>
            (harness?.fires(id) ?? []).filter((fire) => Date.parse(fire.firedAt) > killedAt).length >= 3,
        ),
      3 * GAP_BOUND_MS,
      'three fires of every poller after the kill',
    );

    // assess
    const byPoller = firesByPoller(harness);
    const gap = widestScheduledGap(
      pollerIds
        .flatMap((id) => byPoller.get(id) ?? [])
        .filter((fire) => Date.parse(fire.firedAt) >= killedAt - 5_000),
    );
    const verdict = await judgeFleetSettled(harness, pollerIds, () => 1_000, [gap], CONTROLLER_TIMEOUT_MS);
    const lease = (await shards.readShard('s0'))?.lease;
    reportFault('fleet shard round killed, execution retrying', {
      pollers: POLLERS,
      'epoch before/after': `${before?.epoch}/${lease?.epoch}`,
      'lease left at kill': seconds((leaseAtKill?.validUntilMs ?? killedAt) - killedAt),
      'widest gap': seconds(gap.toMs - gap.fromMs),
      'missed in gap': verdict.missedInGaps,
      'missed (outside/counted)': `${verdict.missedOutsideGaps} ${verdict.uncounted.join('; ') || 'all counted'}`,
      duplicates: verdict.duplicates.join(',') || 'none',
      'too close': verdict.tooClose.join(',') || 'none',
      'p000 seq@scheduled (s)': (byPoller.get('p000') ?? [])
        .map((fire) => `${fire.seq}@${((Date.parse(fire.scheduledAt) - killedAt) / 1_000).toFixed(1)}`)
        .join(' '),
    });
    expect(verdict.duplicates).toEqual([]);
    expect(verdict.tooClose).toEqual([]);
    expect(verdict.uncounted).toEqual([]);
    expect(lease?.owner).toBe(execution.executionArn);
    // Its own lease ran out while it was dead: it re-takes it at a new epoch (an expired lease is never renewed).
    expect(lease?.epoch).toBeGreaterThan(before?.epoch ?? Number.POSITIVE_INFINITY);
    expect(executionsOf(harness.stack, shardItemKey('s0'), 'RUNNING').map((e) => e.executionArn)).toEqual([
      execution.executionArn,
    ]);
    expect(gap.toMs - gap.fromMs).toBeLessThanOrEqual(GAP_BOUND_MS);
  }, 120_000);
});
