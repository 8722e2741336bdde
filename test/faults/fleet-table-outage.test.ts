import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LEASE_TIMING } from '../../functions/fleet/shard-lease';
import { DEFAULT_SHARD_TIMING } from '../../functions/fleet/shard-round';
import { shardItemKey } from '../../functions/fleet/shard-store';
import { DEFAULT_TIMING } from '../../functions/scheduling/plan-round';
import { CONTROL_PLANE_TIMEOUTS } from '../../functions/shared/client-config';
import { ControlTable } from '../../functions/shared/control-table';
import { executionsOf, reportFault, seconds, sleep, waitUntil } from '../support/fault-probes';
import { firesByPoller, judgeFleetSettled } from '../support/fleet-fault-probes';
import { type Harness, startHarness, WAIT_PATIENCE } from '../support/local-stack-harness';

/**
 * Issue 9's fourth fleet fault: the control table unavailable for 10 s (the DynamoDB endpoint refuses connections)
 * under a fleet. The issue asks for 500 pollers; this machine (2 cores shared with three other test runs, every
 * fire a worker sandbox invocation) runs POLLERS at EVERY_S s, created one by one so their grids spread over the
 * interval instead of all firing in the same millisecond. No (poller, seq) fires twice, the shard recovers on its
 * own, and the ticks missed outside the outage's gap are counted; the gap is bounded by the outage plus the lease
 * the shard still held when the table came back (it resumes at that lease's end) plus a watchdog period.
 */

const POLLERS = 100;
const EVERY_S = 5;
const OUTAGE_MS = 10_000;
const WATCHDOG_MS = 10_000;
const CONTROLLER_TIMEOUT_MS = 9_000;
const GAP_BOUND_MS = OUTAGE_MS + DEFAULT_LEASE_TIMING.durationMs + WATCHDOG_MS;
/**
 * How long after the table goes away the shard may still fire: the ticks it planned from its last read, up to
 * read-ahead + batch past it (the last read may end just before the refusal), and a send's 200 ms of slack.
 */
const PLANNED_AHEAD_MS = DEFAULT_TIMING.readAheadMs + DEFAULT_SHARD_TIMING.batchMs + 200;
const pollerIds = Array.from({ length: POLLERS }, (_, index) => `o${String(index).padStart(3, '0')}`);

describe('fleet fault: the control table refuses connections for 10 s', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it(`${POLLERS} pollers at ${EVERY_S} s (500 do not run on this machine): the shard recovers on its own, missed ticks counted or inside the bounded gap, none too close, no double but the SDK retry's`, async () => {
    harness = await startHarness({
      fleetVariant: {},
      fleet: {
        source: 'fleet-faults',
        pollers: [{ id: 'first', fields: { running: true, waitSeconds: EVERY_S } }],
      },
      watchdogIntervalMs: WATCHDOG_MS,
      controllerTimeoutMs: CONTROLLER_TIMEOUT_MS,
    });
    await harness.waitForFires(1, 15_000, 'first');
    const table = new ControlTable(harness.stack.dynamoDb, harness.stack.tableName);
    for (const id of pollerIds) {
      await table.createPoller(id, { running: true, waitSeconds: EVERY_S });
      await sleep((EVERY_S * 1_000) / POLLERS);
    }
    // Setting up, not the fault: the wait bounds "eventually" (WAIT_PATIENCE), and names the pollers still short.
    // A fresh-clone CI run under the full suite's load once timed out here at 40 s (session 8; not reproduced in
    // 7 runs with two or three CPU burners beside the test).
    const firedTwice = (id: string) => (harness?.fires(id).length ?? 0) >= 2;
    await waitUntil(
      () => pollerIds.every(firedTwice),
      40_000 * WAIT_PATIENCE,
      'two fires of every poller',
    ).catch((error: unknown) => {
      const short = pollerIds.filter((id) => !firedTwice(id));
      throw new Error(
        `${String(error)}; short of two fires: ${short.length} (${short.slice(0, 10).join(', ')})`,
      );
    });

    // act
    await harness.stack.dynamoDbStore.refuseConnections();
    const refusedAt = Date.now();
    await sleep(OUTAGE_MS);
    await harness.stack.dynamoDbStore.acceptConnections();
    const acceptedAt = Date.now();
    const recoveryMs = await waitUntil(
      () => (harness?.fires('first') ?? []).some((fire) => Date.parse(fire.firedAt) > acceptedAt),
      GAP_BOUND_MS,
      'a fire after the table accepts connections again',
    );
    const recoveredAt = Date.now();
    await waitUntil(
      () =>
        pollerIds.every((id) =>
          (harness?.fires(id) ?? []).some((fire) => Date.parse(fire.firedAt) > recoveredAt),
        ),
      3 * EVERY_S * 1_000,
      'a fire of every poller after the recovery',
    );

    // assess
    const byPoller = firesByPoller(harness);
    const gap = {
      fromMs: refusedAt - 1_000,
      toMs: Math.max(
        ...[...pollerIds, 'first'].map((id) =>
          Math.min(
            ...(byPoller.get(id) ?? [])
              .filter((fire) => Date.parse(fire.firedAt) > acceptedAt)
              .map((fire) => Date.parse(fire.scheduledAt)),
          ),
        ),
      ),
    };
    const verdict = await judgeFleetSettled(
      harness,
      [...pollerIds, 'first'],
      () => EVERY_S * 1_000,
      [gap],
      CONTROLLER_TIMEOUT_MS,
    );
    const firesDuring = [...byPoller.values()]
      .flat()
      .filter(
        (fire) =>
          Date.parse(fire.firedAt) > refusedAt + PLANNED_AHEAD_MS && Date.parse(fire.firedAt) < acceptedAt,
      );
    const sdkRetried = (key: string) => {
      const sends = (byPoller.get(key.split('#')[0] ?? '') ?? [])
        .filter((fire) => `${fire.poller}#${fire.seq}` === key)
        .map((fire) => Date.parse(fire.sentAt))
        .sort((a, b) => a - b);
      return (
        sends.length === 2 && (sends[1] as number) - (sends[0] as number) >= CONTROL_PLANE_TIMEOUTS.requestMs
      );
    };
    const otherDoubles = verdict.duplicates.filter((key) => !sdkRetried(key));
    const [doubled] = verdict.duplicates;
    const doubledSends = (byPoller.get(doubled?.split('#')[0] ?? '') ?? [])
      .filter((fire) => `${fire.poller}#${fire.seq}` === doubled)
      .map((fire) => `scheduled ${fire.scheduledAt} sent ${fire.sentAt}`);
    reportFault('fleet table outage', {
      pollers: POLLERS + 1,
      outage: seconds(OUTAGE_MS),
      'fires during': firesDuring.length,
      'first fire after accept': seconds(recoveryMs),
      'gap (refused → last poller back)': seconds(gap.toMs - refusedAt),
      'missed in gap': verdict.missedInGaps,
      'missed (outside/counted)': `${verdict.missedOutsideGaps} ${verdict.uncounted.slice(0, 3).join('; ') || 'all counted'}`,
      'duplicates (SDK retries)': `${verdict.duplicates.length} (${verdict.duplicates.length - otherDoubles.length})`,
      'first duplicate': `${doubled ?? 'none'} ${doubledSends.join(' / ')}`,
      'too close': verdict.tooClose.join(',') || 'none',
      'shard rounds ended at their timeout (gap allowed)': verdict.roundsTimedOut,
      'shard executions (name status)': harness.stack.stepFunctions
        .listExecutions()
        .filter((execution) => execution.name.startsWith('shard-'))
        .map((execution) => `${execution.name} ${execution.status}`)
        .join(', '),
    });
    // Under load a tick's async Invoke can be answered after the 1.5 s request timeout: the SDK's second attempt
    // sent it again (3 runs of 4 here) until invokeHeld stopped retrying an invoke whose body went out
    // (fleet-slow-invoke.test.ts). No double of any kind now.
    expect(verdict.duplicates).toEqual([]);
    expect(otherDoubles).toEqual([]);
    expect(firesDuring).toEqual([]);
    expect(verdict.tooClose).toEqual([]);
    expect(verdict.uncounted).toEqual([]);
    expect(gap.toMs - refusedAt).toBeLessThanOrEqual(GAP_BOUND_MS);
    expect(executionsOf(harness.stack, shardItemKey('s0'), 'RUNNING')).toHaveLength(1);
  }, 300_000);
});
