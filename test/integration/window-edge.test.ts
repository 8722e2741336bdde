import { afterEach, describe, expect, it } from 'vitest';
import { FIELD } from '../../functions/shared/contract';
import { type FireEvent, type Harness, scheduleGaps, startHarness } from '../support/local-stack-harness';

/** HH:MM:SS of an instant on the zone's clock. */
function localTime(zone: string, instantMs: number): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(instantMs);
}

/**
 * Real timing on the local stack: a window rule written with seconds opens a few seconds ahead, and the loop's
 * cadence changes exactly on its edge.
 */
describe('window rules on the local stack', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('fires the first tick of a window exactly on its edge, and the window cadence from there', async () => {
    harness = await startHarness({ everySeconds: 3 });
    await harness.waitForFires(1, 8_000);

    // An edge 8 s ahead on a whole second, in a zone where the window does not cross midnight first.
    const edgeMs = Math.ceil((Date.now() + 8_000) / 1000) * 1000;
    const zone = localTime('Asia/Kolkata', edgeMs) < '23:50:00' ? 'Asia/Kolkata' : 'UTC';
    const rule = `daily ${localTime(zone, edgeMs)}-24:00 every 1`;
    await harness.setFields({
      [FIELD.timezone]: { S: zone },
      [FIELD.windows]: { L: [{ S: rule }] },
    });
    await harness.waitFor(
      (event) => event.event === 'fire' && Date.parse(event.scheduledAt) >= edgeMs + 3_000,
      14_000,
    );

    const fires = harness.fires();
    const before = fires.filter((fire) => Date.parse(fire.scheduledAt) < edgeMs);
    const from = fires.filter((fire) => Date.parse(fire.scheduledAt) >= edgeMs);
    expect(from[0]?.scheduledAt).toBe(new Date(edgeMs).toISOString());
    expect(scheduleGaps(from.slice(0, 4))).toEqual([1000, 1000, 1000]);
    expect(scheduleGaps(before).every((gap) => gap === 3000)).toBe(true);
    const seqs = (list: readonly FireEvent[]) => list.map((fire) => fire.seq);
    expect(seqs(fires)).toEqual(seqs(fires).map((_, i) => (fires[0]?.seq ?? 0) + i));
    expect((await harness.readItem())?.[FIELD.lastError]).toBeUndefined();
  });
});
