import { afterEach, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../../scripts/ctl/commands/status';
import type { StopResult } from '../../../scripts/ctl/commands/stop';
import { type Harness, startHarness } from '../../support/local-stack-harness';
import { ctl } from './ctl-harness';

/**
 * `status` and `stop` on a loop that really runs (the local stack: the same ASL, handlers and SDK calls), between
 * two writes of its item: at 1 s a claim covers 30 ticks, so the item keeps its first claim for ~30 s.
 */
describe('ctl status and stop on a running loop', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('shows the seq a loop has reached and a next tick in the future, not the item’s first claim', async () => {
    harness = await startHarness({ everySeconds: 1 });
    const firedBefore = await harness.waitForFires(5, 8_000);

    const run = await ctl(['status', '--local', '--json'], harness.stack);
    const report = JSON.parse(run.stdout[0] ?? '') as StatusReport;

    // The item still says what the first claim wrote: no seq, a next tick long passed.
    expect(report.seq).toBeNull();
    expect(Date.parse(report.nextTickAt ?? '')).toBeLessThan(report.reportedAtMs);
    const { last, next } = report.progress;
    expect(last?.seq).toBeGreaterThanOrEqual(firedBefore.at(-1)?.seq ?? Number.NaN);
    expect(Date.parse(next?.at ?? '')).toBeGreaterThan(report.reportedAtMs);
    expect(next?.seq).toBe((last?.seq ?? Number.NaN) + 1);
    // The derived ticks are the loop's own: the fire of that seq was scheduled at exactly that time.
    const seq = next?.seq ?? Number.NaN;
    const fires = await harness.waitForFires(seq, 6_000);
    expect(fires.find((fire) => fire.seq === last?.seq)?.scheduledAt).toBe(last?.at);
    expect(fires.find((fire) => fire.seq === seq)?.scheduledAt).toBe(next?.at);
  });

  it('says before which tick the loop ends, and the loop fires nothing from that tick on', async () => {
    harness = await startHarness({ everySeconds: 1 });
    await harness.waitForFires(3, 6_000);

    const run = await ctl(['stop', '--local', '--json'], harness.stack);
    const result = JSON.parse(run.stdout[0] ?? '') as StopResult;

    expect(result.ending).toBe('before-tick');
    expect(Date.parse(result.endsBefore?.at ?? '')).toBeGreaterThan(result.reportedAtMs);
    await harness.waitFor((event) => event.event === 'stopped', 6_000);
    const lastFired = harness.fires().at(-1)?.seq ?? Number.NaN;
    expect(lastFired).toBe((result.endsBefore?.seq ?? Number.NaN) - 1);
  });
});
