import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD, STOP_REASON } from '../../functions/shared/contract';
import { createLogger, type LogFields, silentLogger } from '../../functions/shared/logger';
import { runWatchdog } from '../../functions/watchdog/run-watchdog';
import type { ExecutionRecord } from '../../scripts/local-stack/local-step-functions';
import {
  duplicateSeqs,
  executionsOf,
  pollerOf,
  reportFault,
  sleep,
  starterDepsFor,
  waitUntil,
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
 * (and the watchdog sweep the test races them with).
 */
describe('fault: an execution started with no input brings every running poller to life', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('two {} executions at once, racing a watchdog sweep: all four running pollers fire, one loop each, the stopped one stays stopped', async () => {
    // prepare: three running pollers plus default and a stopped one, no loop started
    const started: LogFields[] = [];
    harness = await startHarness({
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
    const h = harness;
    const { stepFunctions } = h.stack;
    const deps = { ...starterDepsFor(h.stack), log: silentLogger };

    try {
      // act: the console's default input, twice at once, while the watchdog sweeps
      const sweep = runWatchdog(deps, Date.now());
      stepFunctions.startExecution({ stateMachineArn: h.stack.stateMachineArn, input: '{}' });
      stepFunctions.startExecution({ stateMachineArn: h.stack.stateMachineArn, input: '{}' });
      const watchdog = await sweep;
      for (const id of EVERY_POLLER) await h.waitForFires(3, 8_000, id);
      // Past a few hand-backs of every loop (4 s rounds).
      await sleep(9_000);
      await waitUntil(() => started.length >= 2, 4_000, 'both no-input executions to log their starts');

      // assess
      const runningLoops = Object.fromEntries(EVERY_POLLER.map((id) => [id, runningFor(h, id).length]));
      const fires = Object.fromEntries(EVERY_POLLER.map((id) => [id, h.fires(id)]));
      const startedByNoInput = started.reduce((sum, line) => sum + Number(line.started), 0);
      reportFault('no-input start', {
        'running loops': JSON.stringify(runningLoops),
        fires: EVERY_POLLER.map((id) => `${id}:${fires[id]?.length}`).join(' '),
        duplicates: EVERY_POLLER.map((id) => duplicateSeqs(fires[id] ?? []).length).join(','),
        'started per no-input execution': started.map((line) => String(line.started)).join(','),
        'watchdog restarted': watchdog.restarted.length,
      });
      for (const id of EVERY_POLLER) {
        expect(runningLoops[id], id).toBe(1);
        expect(duplicateSeqs(fires[id] ?? []), id).toEqual([]);
        // The item names the one running execution as its loop.
        const item = await h.readItem(id);
        expect(item?.[FIELD.executionArn]?.S, id).toBe(runningFor(h, id)[0]?.executionArn);
      }
      // One line per no-input execution (its first invocation only, not its later rounds), and between them and
      // the watchdog each other poller started exactly once.
      expect(started).toHaveLength(2);
      expect(startedByNoInput + watchdog.restarted.length).toBe(OTHERS.length);
      expect(started.every((line) => Array.isArray(line.failed) && line.failed.length === 0)).toBe(true);
      // The second {} execution found default's loop alive and ended at once, touching nothing.
      const ended = stepFunctions
        .listExecutions()
        .filter((execution) => pollerOf(execution) === undefined && execution.status !== 'RUNNING');
      expect(ended.map((execution) => execution.status)).toEqual(['SUCCEEDED']);
      const stopped = h.events.flatMap((event) => (event.event === 'stopped' ? [event.reason] : []));
      expect(stopped).toHaveLength(1);
      expect(stopped[0]).toMatch(new RegExp(`^${STOP_REASON.alreadyRunning}: `));
      // A stopped poller is not started.
      expect(h.fires('off')).toEqual([]);
      expect(executionsOf(h.stack, 'off')).toEqual([]);
      expect(stepFunctions.listExecutions('RUNNING')).toHaveLength(EVERY_POLLER.length);
    } finally {
      deps.sfn.destroy();
    }
  });
});
