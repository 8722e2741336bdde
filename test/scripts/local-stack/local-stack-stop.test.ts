import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import type { SandboxMode } from '../../../scripts/local-stack/local-stack';
import { sleep } from '../../support/fault-probes';
import { type Harness, startHarness } from '../../support/local-stack-harness';

/**
 * Stopping the local stack ends its loops before anything else: a round that holds the next tick's invoke open
 * (opened 100 ms before the tick, its body sent at the tick) never sends it, no round starts again, and no fire
 * follows the `stopped` event or stop() itself. Fires that do come while it stops are ticks on the grid.
 */
describe.each<SandboxMode>(['process', 'in-process'])(
  'stopping the local stack (%s functions)',
  (sandbox) => {
    let harness: Harness | undefined;
    afterEach(async () => {
      await harness?.stack.stop();
      harness = undefined;
    });

    it('stopped 50 ms before a tick, while the round holds its invoke open: no fire after the stop', async () => {
      // prepare: a loop at 1 s, stopped inside the window in which the next tick's invoke is held open
      harness = await startHarness({ everySeconds: 1, sandbox });
      const fires = await harness.waitForFires(3, 5_000);
      const last = fires.at(-1);
      const nextDueMs = Date.parse(last?.scheduledAt ?? '') + 1_000;
      expect(DEFAULT_TIMING.sendOpenLeadMs).toBeGreaterThan(50);
      await sleep(Math.max(0, nextDueMs - 50 - Date.now()));

      // act
      const stopCalledAtIndex = harness.events.length;
      await harness.stack.stop();
      const stoppedAtIndex = harness.events.length;
      await sleep(1_500);

      // assess
      const events = harness.events;
      const firstStopped = events.findIndex((event) => event.event === 'stopped');
      const firesAfterStopped = events.slice(firstStopped).filter((event) => event.event === 'fire');
      const anchorMs = Date.parse(fires[0]?.scheduledAt ?? '');
      const offGrid = harness
        .fires()
        .filter((fire) => (Date.parse(fire.scheduledAt) - anchorMs) % 1_000 !== 0);
      expect(firstStopped).toBeGreaterThanOrEqual(stopCalledAtIndex);
      expect(firesAfterStopped).toEqual([]);
      expect(events.slice(stoppedAtIndex)).toEqual([]);
      expect(offGrid).toEqual([]);
      expect(events.filter((event) => event.event === 'error')).toEqual([]);
    });
  },
);
