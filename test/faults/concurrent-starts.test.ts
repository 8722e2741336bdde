import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD, STOP_REASON } from '../../functions/shared/contract';
import { startLoop } from '../../functions/starter/start-loop';
import {
  duplicateSeqs,
  executionsOf,
  reportFault,
  sleep,
  starterDepsFor,
  stopReasonOf,
  waitUntil,
} from '../support/fault-probes';
import { type FireEvent, type Harness, scheduleGaps, startHarness } from '../support/local-stack-harness';

const STARTS = 5;

/** Fires scheduled in [fromMs, toMs), and the gaps between them: a doubled rate shows as gaps below the cadence. */
function firesBetween(fires: readonly FireEvent[], fromMs: number, toMs: number): FireEvent[] {
  return fires.filter(
    (fire) => Date.parse(fire.scheduledAt) >= fromMs && Date.parse(fire.scheduledAt) < toMs,
  );
}

describe('fault: concurrent starts of the same poller', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('five simultaneous console starts (no generation): one loop survives, the others end superseded', async () => {
    harness = await startHarness({ everySeconds: 1, startLoops: false });

    const startedAt = Date.now();
    const stack = harness.stack;
    await Promise.all(Array.from({ length: STARTS }, async () => stack.startLoop(DEFAULT_POLLER_ID)));
    const settledMs = await waitUntil(
      () => executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING').length === 1,
      8_000,
      'one running execution',
    );
    await sleep(5_000);

    const fires = harness.fires();
    const executions = executionsOf(stack, DEFAULT_POLLER_ID);
    const ended = executions.filter((execution) => execution.status !== 'RUNNING');
    const steady = firesBetween(fires, startedAt + 2_000, Date.now() - 500);
    reportFault('concurrent console starts', {
      starts: STARTS,
      fires: fires.length,
      duplicates: duplicateSeqs(fires).length,
      'first fires (seq@ms after start)': fires
        .slice(0, 6)
        .map((fire) => `${fire.seq}@${Date.parse(fire.firedAt) - startedAt}`)
        .join(' '),
      'one running after': `${(settledMs / 1000).toFixed(1)} s`,
      ended: ended.map((execution) => `${execution.status}:${stopReasonOf(execution)}`).join(' '),
      'steady gaps ms': scheduleGaps(steady).join(','),
    });
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(executions).toHaveLength(STARTS);
    expect(executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
    expect(ended.map((execution) => execution.status)).toEqual(
      Array.from({ length: STARTS - 1 }, () => 'SUCCEEDED'),
    );
    const stopped = harness.events.filter((event) => event.event === 'stopped');
    expect(stopped.map((event) => event.event === 'stopped' && event.reason)).toEqual(
      Array.from({ length: STARTS - 1 }, () => STOP_REASON.superseded),
    );
    // Each start that took over fired its own first tick (a burst in the first second); after that, the
    // cadence's rate: one fire a second, never two.
    expect(steady.length).toBeGreaterThanOrEqual(3);
    expect(scheduleGaps(steady).every((gap) => gap === 1_000)).toBe(true);
  });

  it('five simultaneous starter starts (deterministic name): exactly one execution, returned to all five', async () => {
    harness = await startHarness({ everySeconds: 1, startLoops: false });
    const deps = starterDepsFor(harness.stack);

    try {
      const outcomes = await Promise.all(
        Array.from({ length: STARTS }, () => startLoop(DEFAULT_POLLER_ID, deps, 'concurrent start test')),
      );
      await harness.waitForFires(4, 6_000);

      const fires = harness.fires();
      const executions = executionsOf(harness.stack, DEFAULT_POLLER_ID);
      reportFault('concurrent starter starts', {
        starts: STARTS,
        outcomes: outcomes.map((outcome) => outcome.kind).join(','),
        executions: executions.map((execution) => `${execution.name}:${execution.status}`).join(' '),
        fires: fires.length,
        duplicates: duplicateSeqs(fires).length,
        'gaps ms': scheduleGaps(fires).join(','),
      });
      // Same name, same input, execution running: StartExecution is idempotent and answers each with it.
      expect(
        new Set(
          outcomes.map((outcome) => (outcome.kind === 'started' ? outcome.executionArn : outcome.kind)),
        ),
      ).toEqual(new Set([executions[0]?.executionArn]));
      expect(executions.map((execution) => [execution.name, execution.status])).toEqual([
        [`${DEFAULT_POLLER_ID}-g1`, 'RUNNING'],
      ]);
      expect(duplicateSeqs(fires)).toEqual([]);
      expect(scheduleGaps(fires).every((gap) => gap === 1_000)).toBe(true);
    } finally {
      deps.sfn.destroy();
    }
  });

  it('starts racing stops leave a consistent state: running=false ⇒ no running loop, running=true ⇒ exactly one', async () => {
    // The change feed starts a loop when running flips to true, as the deployed stream starter does.
    harness = await startHarness({ everySeconds: 1 });
    const stack = harness.stack;
    const deps = starterDepsFor(stack);
    const observed: string[] = [];
    const checkRunning = async (expected: boolean, count: 0 | 1) => {
      await sleep(2_500);
      const running = (await harness?.readItem())?.[FIELD.running]?.BOOL;
      const loops = executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING').length;
      observed.push(`${running}:${loops}`);
      expect(running).toBe(expected);
      expect(loops).toBe(count);
    };

    try {
      await harness.waitForFires(1, 4_000);
      for (let round = 0; round < 3; round += 1) {
        // Stop while a starter start and a console start race it.
        await Promise.all([
          harness.setFields({ [FIELD.running]: { BOOL: false } }),
          startLoop(DEFAULT_POLLER_ID, deps, 'racing a stop'),
          Promise.resolve().then(() => stack.startLoop(DEFAULT_POLLER_ID)),
        ]);
        await checkRunning(false, 0);
        // Start again while a second starter start races the change feed's.
        await Promise.all([
          harness.setFields({ [FIELD.running]: { BOOL: true } }),
          sleep(round * 100).then(() => startLoop(DEFAULT_POLLER_ID, deps, 'racing a start')),
        ]);
        await checkRunning(true, 1);
      }
    } finally {
      deps.sfn.destroy();
      const fires = harness.fires();
      reportFault('starts racing stops', {
        rounds: 3,
        'running:loops after each change': observed.join(' '),
        executions: executionsOf(stack, DEFAULT_POLLER_ID).length,
        fires: fires.length,
        duplicates: duplicateSeqs(fires).length,
      });
    }
    expect(duplicateSeqs(harness.fires())).toEqual([]);
  });
});
