import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID } from '../../../functions/shared/contract';
import type { PollerLine } from '../../../scripts/ctl/commands/list';
import { runCtl } from '../../../scripts/ctl/run';
import type { SeqChange } from '../../../scripts/ctl/watch-changes';
import { waitUntil } from '../../support/fault-probes';
import { type Harness, startHarness, WAIT_PATIENCE } from '../../support/local-stack-harness';
import { targetOf } from './ctl-harness';

/** One `watch --json` line as this test reads it. */
interface FrameLine {
  readonly at: string;
  readonly error?: string;
  readonly pollers?: readonly PollerLine[];
  readonly changes?: readonly (SeqChange & { readonly pollerId: string })[];
}

describe('ctl watch on the local stack', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it("shows a live loop's recorded seq advancing from frame to frame, and ends with exit 0 on Ctrl-C", async () => {
    // A 6 s controller timeout hands back to Step Functions every round or two, and each hand-back records the
    // seq: the item moves every few seconds instead of with the 30 s claims of a loop that stays awake.
    harness = await startHarness({ everySeconds: 1, controllerTimeoutMs: 6_000 });
    const { stack } = harness;
    await harness.waitForFires(1, 10_000);
    const stdout: string[] = [];
    const interrupt = new AbortController();
    const frames = () => stdout.map((line) => JSON.parse(line) as FrameLine);
    const advanced = () =>
      frames().filter((frame) =>
        frame.changes?.some((change) => change.pollerId === DEFAULT_POLLER_ID && change.kind === 'advanced'),
      );

    const watching = runCtl(['watch', '--local', '--json', '--interval', '0.5'], {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stdout.push(`stderr: ${text}`),
      resolveTarget: async () => targetOf(stack),
      interrupt: () => interrupt.signal,
    });
    await waitUntil(() => advanced().length >= 2, 20_000 * WAIT_PATIENCE, 'two frames with the seq advanced');
    interrupt.abort();
    const exitCode = await watching;

    expect(exitCode).toBe(0);
    const all = frames();
    expect(all.every((frame) => frame.error === undefined)).toBe(true);
    expect(all[0]?.changes).toEqual([
      expect.objectContaining({ pollerId: DEFAULT_POLLER_ID, kind: 'first' }),
    ]);
    const seqs = all.map((frame) => frame.changes?.[0]?.seq ?? 0);
    // Never backwards, and each advance is the difference between the seqs of consecutive frames.
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    for (const [index, frame] of all.entries()) {
      const change = frame.changes?.[0];
      if (change?.kind === 'advanced') expect(change.advance).toBe(change.seq - (seqs[index - 1] ?? 0));
    }
    // The loop fired what the frames counted, and kept running while watched.
    const lastSeq = seqs.at(-1) ?? 0;
    expect(harness.fires().some((fire) => fire.seq === lastSeq)).toBe(true);
    expect(advanced().every((frame) => frame.pollers?.[0]?.state === 'running')).toBe(true);
  });
});
