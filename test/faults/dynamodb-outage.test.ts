import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD } from '../../functions/shared/contract';
import { LOCAL_TABLE_NAME } from '../../scripts/local-stack/local-endpoints';
import {
  duplicateSeqs,
  executionsOf,
  reportFault,
  seconds,
  shortestFireGapMs,
  sleep,
  waitUntil,
} from '../support/fault-probes';
import { type Harness, scheduleGaps, startHarness } from '../support/local-stack-harness';

const OUTAGE_MS = 10_000;

describe('fault: the DynamoDB endpoint refuses connections mid-run', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('skips the missed ticks, records the table error and fires again within ~20 s of the endpoint coming back', async () => {
    harness = await startHarness({ everySeconds: 1 });
    await harness.waitForFires(3, 6_000);

    await harness.stack.dynamoDbStore.refuseConnections();
    const refusedAt = Date.now();
    const firesAtRefusal = harness.fires().length;
    await sleep(OUTAGE_MS);
    await harness.stack.dynamoDbStore.acceptConnections();
    const acceptedAt = Date.now();
    const firesDuringOutage = harness.fires().filter((fire) => Date.parse(fire.firedAt) > refusedAt);
    const recoveryMs = await waitUntil(
      () => harness?.fires().some((fire) => Date.parse(fire.firedAt) > acceptedAt) ?? false,
      25_000,
      'a fire after the DynamoDB endpoint accepts connections again',
    );
    const firesAtRecovery = harness.fires().length;
    await harness.waitForFires(firesAtRecovery + 2, 4_000);

    const fires = harness.fires();
    const item = await harness.readItem();
    // The grid slots between the last fire before the outage and the first after it were skipped, each counted once.
    const lastBefore = fires.filter((fire) => Date.parse(fire.firedAt) <= acceptedAt).at(-1);
    const firstAfter = fires.find((fire) => Date.parse(fire.firedAt) > acceptedAt);
    const missedSlots =
      Math.round(
        (Date.parse(firstAfter?.scheduledAt ?? '') - Date.parse(lastBefore?.scheduledAt ?? '')) / 1_000,
      ) - 1;
    const afterRecovery = fires.filter((fire) => Date.parse(fire.firedAt) > acceptedAt);
    reportFault('dynamodb-outage', {
      outage: seconds(OUTAGE_MS),
      'fires before': firesAtRefusal,
      'fires during': firesDuringOutage.length,
      'fires after': fires.length - firesAtRefusal - firesDuringOutage.length,
      duplicates: duplicateSeqs(fires).length,
      'recovery after accept': seconds(recoveryMs),
      skippedTicks: item?.[FIELD.skippedTicks]?.N ?? 'none',
      'missed grid slots': missedSlots,
      'gaps after recovery ms': scheduleGaps(afterRecovery).join(','),
      lastError: JSON.stringify(item?.[FIELD.lastError]?.M?.message?.S ?? ''),
      'fires (seq scheduled+late ms)': fires
        .map((fire) => `${fire.seq}@${fire.scheduledAt.slice(17, 23)}+${fire.latenessMs}`)
        .join(' '),
    });
    expect(duplicateSeqs(fires)).toEqual([]);
    // A tick already read and claimed may still fire in the first moments of the outage; no more than that.
    expect(firesDuringOutage.length).toBeLessThanOrEqual(1);
    expect(recoveryMs).toBeLessThan(20_000);
    // Every missed slot is counted, none twice, and the loop comes back on its grid with one fire, not a burst.
    expect(missedSlots).toBeGreaterThanOrEqual(OUTAGE_MS / 1_000 - 2);
    expect(Number(item?.[FIELD.skippedTicks]?.N ?? 0)).toBe(missedSlots);
    expect(scheduleGaps(afterRecovery).every((gap) => gap === 1_000)).toBe(true);
    expect(shortestFireGapMs(fires)).toBeGreaterThanOrEqual(500);
    expect(item?.[FIELD.lastError]?.M?.message?.S).toContain(LOCAL_TABLE_NAME);
    expect(executionsOf(harness.stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
    expect(harness.events.some((event) => event.event === 'stopped')).toBe(false);
  });
});
