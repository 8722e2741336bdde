import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD, STOP_REASON } from '../../functions/shared/contract';
import { isRecord } from '../../functions/shared/decode';
import { createLogger, type LogFields, silentLogger } from '../../functions/shared/logger';
import { runWatchdog } from '../../functions/watchdog/run-watchdog';
import { LOCAL_CONTROLLER_NAME } from '../../scripts/local-stack/local-endpoints';
import type { InvocationStart } from '../../scripts/local-stack/local-functions';
import type { ExecutionRecord } from '../../scripts/local-stack/local-step-functions';
import {
  duplicateSeqs,
  executionsOf,
  pollerOf,
  reportFault,
  sleep,
  starterDepsFor,
} from '../support/fault-probes';
import { type Harness, startHarness } from '../support/local-stack-harness';

const OTHERS = ['orders', 'prices', 'stock'] as const;
const EVERY_POLLER = [DEFAULT_POLLER_ID, ...OTHERS] as const;
const STARTED_LINE = 'no-input start: started the other running pollers';

/** The RUNNING executions of a poller; an input without a pollerId runs `default`. */
function runningFor(harness: Harness, pollerId: string): ExecutionRecord[] {
  if (pollerId !== DEFAULT_POLLER_ID) return executionsOf(harness.stack, pollerId, 'RUNNING');
  return harness.stack.stepFunctions
    .listExecutions('RUNNING')
    .filter((execution) => (pollerOf(execution) ?? DEFAULT_POLLER_ID) === DEFAULT_POLLER_ID);
}

/**
 * Deploy, start the state machine once with no input, steer from the table: the first round of an execution whose
 * input names no poller starts every other running poller by the one start rule, then runs `default`. Nothing
 * else starts loops here (no change feed, no watchdog schedule), so whatever runs was started by those executions
 * (and the watchdog sweeps one test races them with).
 */
describe('fault: an execution started with no input brings every running poller to life', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  /** The stack with three running pollers plus default and a stopped one, no loop started; collects the line. */
  const startFleet = async (started: LogFields[], onInvocationStart?: (start: InvocationStart) => void) =>
    startHarness({
      // Racing a first round needs it to begin when it is invoked: in-process handlers have no cold start.
      ...(onInvocationStart ? { onInvocationStart, sandbox: 'in-process' as const } : {}),
      startLoops: false,
      // Short rounds: the loops hand back to Step Functions several times, and a later round must not start again.
      controllerTimeoutMs: 4_000,
      handlerLog: createLogger((_level, message, fields) => {
        if (message === STARTED_LINE && fields !== undefined) started.push(fields);
      }),
      fleet: {
        source: 'no-input.yaml',
        pollers: [
          ...EVERY_POLLER.map((id) => ({ id, fields: { running: true, waitSeconds: 1 } })),
          { id: 'off', fields: { running: false, waitSeconds: 1 } },
        ],
      },
    });

  /** Every running poller fires, one loop each (the one its item names), no seq twice; `off` never runs. */
  const expectOneLoopEach = async (h: Harness, name: string, figures: Record<string, string | number>) => {
    const runningLoops = Object.fromEntries(EVERY_POLLER.map((id) => [id, runningFor(h, id).length]));
    const fires = Object.fromEntries(EVERY_POLLER.map((id) => [id, h.fires(id)]));
    reportFault(name, {
      'running loops': JSON.stringify(runningLoops),
      fires: EVERY_POLLER.map((id) => `${id}:${fires[id]?.length}`).join(' '),
      duplicates: EVERY_POLLER.map((id) => duplicateSeqs(fires[id] ?? []).length).join(','),
      ...figures,
    });
    for (const id of EVERY_POLLER) {
      expect(runningLoops[id], id).toBe(1);
      expect(duplicateSeqs(fires[id] ?? []), id).toEqual([]);
      const item = await h.readItem(id);
      expect(item?.[FIELD.executionArn]?.S, id).toBe(runningFor(h, id)[0]?.executionArn);
    }
    expect(h.fires('off')).toEqual([]);
    expect(executionsOf(h.stack, 'off')).toEqual([]);
    expect(h.stack.stepFunctions.listExecutions('RUNNING')).toHaveLength(EVERY_POLLER.length);
  };

  it('two {} executions at once: all four running pollers fire, one loop each, the stopped one stays stopped', async () => {
    // prepare
    const started: LogFields[] = [];
    harness = await startFleet(started);
    const h = harness;
    const { stepFunctions, stateMachineArn } = h.stack;

    // act: the console's default input, twice at once
    stepFunctions.startExecution({ stateMachineArn, input: '{}' });
    stepFunctions.startExecution({ stateMachineArn, input: '{}' });
    for (const id of EVERY_POLLER) await h.waitForFires(3, 8_000, id);
    // Past a few hand-backs of every loop (4 s rounds).
    await sleep(9_000);

    // assess
    await expectOneLoopEach(h, 'two no-input starts', {
      'started per no-input execution': started.map((line) => String(line.started)).join(','),
    });
    // One line per no-input execution (its first invocation only, not its later rounds); between them each other
    // poller started exactly once, by the start rule (named <poller>-g1-…).
    expect(started).toHaveLength(2);
    expect(started.reduce((sum, line) => sum + Number(line.started), 0)).toBe(OTHERS.length);
    expect(started.every((line) => Array.isArray(line.failed) && line.failed.length === 0)).toBe(true);
    for (const id of OTHERS) {
      expect(executionsOf(h.stack, id).map((execution) => execution.name)).toEqual([
        expect.stringMatching(new RegExp(`^${id}-g1-[0-9a-z]+$`)),
      ]);
    }
    // The second {} execution found default's loop alive and ended at once, touching nothing.
    const ended = stepFunctions
      .listExecutions()
      .filter((execution) => pollerOf(execution) === undefined && execution.status !== 'RUNNING');
    expect(ended.map((execution) => execution.status)).toEqual(['SUCCEEDED']);
    const stopped = h.events.flatMap((event) => (event.event === 'stopped' ? [event.reason] : []));
    expect(stopped).toHaveLength(1);
    expect(stopped[0]).toMatch(new RegExp(`^${STOP_REASON.alreadyRunning}: `));
  });

  it('a {} execution racing a watchdog sweep: one loop per poller, whoever wins each', async () => {
    // prepare
    const started: LogFields[] = [];
    let firstRoundBegan: () => void = () => {};
    const firstRound = new Promise<void>((resolve) => {
      firstRoundBegan = resolve;
    });
    harness = await startFleet(started, ({ functionName, event }) => {
      if (functionName === LOCAL_CONTROLLER_NAME && isRecord(event) && isRecord(event.state)) {
        if (Object.keys(event.state).length === 0) firstRoundBegan();
      }
    });
    const h = harness;
    const deps = { ...starterDepsFor(h.stack), log: silentLogger };

    try {
      // act: sweeps that begin as the execution's first round does, so they scan the same items and race for
      // the same takes (which wins each varies from run to run; the outcome must not)
      h.stack.stepFunctions.startExecution({ stateMachineArn: h.stack.stateMachineArn, input: '{}' });
      await firstRound;
      const sweeps = await Promise.all(
        [0, 5, 15, 40].map((delayMs) => sleep(delayMs).then(() => runWatchdog(deps, Date.now()))),
      );
      for (const id of EVERY_POLLER) await h.waitForFires(3, 8_000, id);
      await sleep(5_000);

      // assess
      const restarted = sweeps.flatMap((sweep) => sweep.restarted.map((start) => start.pollerId));
      await expectOneLoopEach(h, 'no-input start racing the watchdog', {
        'started by the no-input execution': started.map((line) => String(line.started)).join(','),
        'watchdog restarted': restarted.join(','),
      });
      expect(started).toHaveLength(1);
      // Each other poller started once, by the execution or a sweep; never by two.
      const others = restarted.filter((id) => id !== DEFAULT_POLLER_ID);
      expect(new Set(others).size).toBe(others.length);
      expect(Number(started[0]?.started) + others.length).toBe(OTHERS.length);
    } finally {
      deps.sfn.destroy();
    }
  });
});
