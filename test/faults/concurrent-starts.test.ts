import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD, STOP_REASON } from '../../functions/shared/contract';
import { startLoop } from '../../functions/starter/start-loop';
import {
  duplicateSeqs,
  executionsOf,
  reportFault,
  shortestFireGapMs,
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

  it('five simultaneous console starts: one loop, the others end at once, and never two fires closer than half the interval', async () => {
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
    const steady = firesBetween(fires, startedAt, Date.now() - 500);
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
      'shortest fire gap ms': shortestFireGapMs(fires),
    });
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(executions).toHaveLength(STARTS);
    expect(executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
    expect(ended.map((execution) => execution.status)).toEqual(
      Array.from({ length: STARTS - 1 }, () => 'SUCCEEDED'),
    );
    const stopped = harness.events.flatMap((event) => (event.event === 'stopped' ? [event.reason] : []));
    expect(stopped).toHaveLength(STARTS - 1);
    expect(stopped.every((reason) => reason.startsWith(`${STOP_REASON.alreadyRunning}: `))).toBe(true);
    // From the very first fire: the cadence's rate, one fire a second, never two.
    expect(steady.length).toBeGreaterThanOrEqual(4);
    expect(scheduleGaps(steady).every((gap) => gap === 1_000)).toBe(true);
    expect(shortestFireGapMs(fires)).toBeGreaterThanOrEqual(500);
  });

  it('five simultaneous starter starts: exactly one execution is created, the others find it running', async () => {
    harness = await startHarness({ everySeconds: 1, startLoops: false });
    const deps = starterDepsFor(harness.stack);

    try {
      const outcomes = await Promise.all(
        Array.from({ length: STARTS }, () => startLoop(DEFAULT_POLLER_ID, deps)),
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
      expect(outcomes.filter((outcome) => outcome.kind === 'started')).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome.kind === 'already-running')).toHaveLength(STARTS - 1);
      expect(executions).toHaveLength(1);
      expect(executions[0]?.name).toMatch(new RegExp(`^${DEFAULT_POLLER_ID}-g1-[0-9a-z]+$`));
      expect(executions[0]?.status).toBe('RUNNING');
      expect(duplicateSeqs(fires)).toEqual([]);
      expect(scheduleGaps(fires).every((gap) => gap === 1_000)).toBe(true);
      expect(shortestFireGapMs(fires)).toBeGreaterThanOrEqual(500);
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
          startLoop(DEFAULT_POLLER_ID, deps),
          Promise.resolve().then(() => stack.startLoop(DEFAULT_POLLER_ID)),
        ]);
        await checkRunning(false, 0);
        // Start again while a second starter start races the change feed's.
        await Promise.all([
          harness.setFields({ [FIELD.running]: { BOOL: true } }),
          sleep(round * 100).then(() => startLoop(DEFAULT_POLLER_ID, deps)),
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
        'shortest fire gap ms': shortestFireGapMs(fires),
      });
    }
    expect(duplicateSeqs(harness.fires())).toEqual([]);
    expect(shortestFireGapMs(harness.fires())).toBeGreaterThanOrEqual(500);
  });
});
