import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { type ControllerDeps, runRound } from '../../../functions/controller/run-round';
import { DEFAULT_TIMING, type Timing } from '../../../functions/scheduling/plan-round';
import type { Clock } from '../../../functions/shared/clock';
import { type ControllerOutput, FIELD, type WorkerEvent } from '../../../functions/shared/contract';
import { silentLogger } from '../../../functions/shared/logger';
import type { FireAnswer } from '../../../functions/shared/worker-invoker';
import { InMemoryControlStore } from '../../support/in-memory-control-store';
import { InMemoryWorkerInvoker } from '../../support/in-memory-worker-invoker';
import { simulatedClock } from '../../support/simulated-clock';

const TIMING: Timing = { ...DEFAULT_TIMING, handBackMarginMs: 200 };

/**
 * runRound with overlap `skip` on a simulated clock: a worker "runs" for a set time, and its answer comes when the
 * controller's clock has passed that time (resolved as the clock moves, before the sleeping code resumes, as an
 * answer arriving during a sleep would be).
 */
function world(
  runMs: number,
  outcome: (event: WorkerEvent) => 'succeeded' | string = () => 'succeeded',
  metrics?: ControllerDeps['metrics'],
) {
  const simulated = simulatedClock({ startMs: Date.parse('2030-01-01T00:00:00.250Z') });
  const pending: { dueAt: number; resolve: () => void }[] = [];
  const answerDue = () => {
    for (const answer of pending.filter((each) => each.dueAt <= simulated.peek())) {
      pending.splice(pending.indexOf(answer), 1);
      answer.resolve();
    }
  };
  /** Called after every sleep, once due answers came: changes the item as the clock moves. */
  const hooks: { afterSleep: (nowMs: number) => void } = { afterSleep: () => {} };
  const clock: Clock = {
    now: simulated.now,
    sleep: async (ms) => {
      await simulated.sleep(ms);
      answerDue();
      hooks.afterSleep(simulated.peek());
    },
  };
  const invoker = new InMemoryWorkerInvoker(simulated);
  invoker.answerOf = (event) => {
    const dueAt = simulated.peek() + runMs;
    return new Promise<FireAnswer>((resolve) => {
      pending.push({
        dueAt,
        resolve: () => {
          const result = outcome(event);
          resolve(
            result === 'succeeded'
              ? { kind: 'succeeded', seq: event.seq, answeredAtMs: dueAt }
              : { kind: 'failed', seq: event.seq, answeredAtMs: dueAt, message: result },
          );
        },
      });
    });
  };
  const store = new InMemoryControlStore('pollers');
  const deps: ControllerDeps = {
    table: store,
    invoker,
    defaultTarget: 'worker',
    clock,
    log: silentLogger,
    timing: TIMING,
    ...(metrics ? { metrics } : {}),
  };
  const run = (pollerId: string, fields: Record<string, AttributeValue>, roundMs: number) => {
    store.put(pollerId, { [FIELD.running]: { BOOL: true }, ...fields });
    const deadlineMs = simulated.peek() + roundMs;
    return runRound({ state: { pollerId }, executionId: 'exec-1' }, deps, () => deadlineMs);
  };
  return { simulated, invoker, store, run, hooks };
}

const dueTimes = (invoker: InMemoryWorkerInvoker) =>
  invoker.released.map((invoke) => Date.parse(invoke.event.scheduledAt));
const gapsOf = (times: number[]) => times.slice(1).map((time, index) => time - (times[index] ?? 0));

describe('runRound: overlap skip', () => {
  it('fires every other tick at 1 s when each fire runs 1.5 s, synchronously, and counts the skips', async () => {
    // prepare
    const { invoker, store, run } = world(1_500);

    // act
    const output: ControllerOutput = await run(
      'slow',
      { [FIELD.waitSeconds]: { N: '1' }, [FIELD.overlap]: { S: 'skip' } },
      12_000,
    );

    // assess
    const seqs = invoker.released.map((invoke) => invoke.event.seq);
    expect(seqs.length).toBeGreaterThanOrEqual(4);
    expect(seqs).toEqual(seqs.map((_, index) => index + 1));
    expect(new Set(invoker.released.map((invoke) => invoke.invocationType))).toEqual(
      new Set(['RequestResponse']),
    );
    expect(new Set(gapsOf(dueTimes(invoker)))).toEqual(new Set([2_000]));
    const item = store.image('slow');
    const skips = Number(item?.[FIELD.overlapSkips]?.N);
    expect(skips).toBeGreaterThanOrEqual(seqs.length - 1);
    expect(skips).toBeLessThanOrEqual(seqs.length);
    expect(item?.[FIELD.lastFireMs]).toEqual({ N: '1500' });
    expect(Number(item?.[FIELD.lastFinishedSeq]?.N)).toBeGreaterThanOrEqual(seqs.length - 1);
    expect(item?.[FIELD.skippedTicks]).toBeUndefined();
    // A skipped tick opens no request: the only ones opened are the ones sent.
    expect(invoker.opened.filter((request) => request.invocationType === 'RequestResponse')).toHaveLength(
      seqs.length,
    );
    expect(output.loop.nextSeq).toBe(seqs.length + 1);
  });

  it('fires every tick when each fire answers within the interval', async () => {
    // prepare
    const { invoker, store, run } = world(400);

    // act
    await run('quick', { [FIELD.waitSeconds]: { N: '1' }, [FIELD.overlap]: { S: 'skip' } }, 8_000);

    // assess
    expect(new Set(gapsOf(dueTimes(invoker)))).toEqual(new Set([1_000]));
    expect(store.image('quick')?.[FIELD.overlapSkips]).toBeUndefined();
  });

  it('records a failed fire: failedFires counted, lastError naming the poller, the seq and the worker error', async () => {
    // prepare
    const { store, run } = world(300, (event) =>
      event.seq === 2
        ? `poller 'failing': tick 2 at 'worker' failed: Unhandled error OrderRejectedError: no`
        : 'succeeded',
    );

    // act
    await run('failing', { [FIELD.waitSeconds]: { N: '1' }, [FIELD.overlap]: { S: 'skip' } }, 6_000);

    // assess
    const item = store.image('failing');
    expect(item?.[FIELD.failedFires]).toEqual({ N: '1' });
    const message = item?.[FIELD.lastError]?.M?.message?.S ?? '';
    expect(message).toContain("poller 'failing'");
    expect(message).toContain('tick 2');
    expect(message).toContain('OrderRejectedError');
  });

  it('records an answer that came before a stop: failedFires and lastError reach the item', async () => {
    // prepare: tick 2 (due :02.250) fails after 300 ms; the operator stops the poller once it answered
    const { store, run, hooks } = world(300, (event) =>
      event.seq === 2 ? `poller 'stopped': tick 2 at 'worker' failed: Boom` : 'succeeded',
    );
    hooks.afterSleep = (nowMs) => {
      if (nowMs >= Date.parse('2030-01-01T00:00:02.600Z'))
        store.setField('stopped', FIELD.running, { BOOL: false });
    };

    // act
    const ending = run(
      'stopped',
      { [FIELD.waitSeconds]: { N: '1' }, [FIELD.overlap]: { S: 'skip' } },
      60_000,
    );

    // assess
    await expect(ending).rejects.toThrow();
    const item = store.image('stopped');
    expect(item?.[FIELD.failedFires]).toEqual({ N: '1' });
    expect(item?.[FIELD.lastError]?.M?.message?.S).toContain('tick 2');
  });

  it('waits for the answer of a running fire before stopping, and records it', async () => {
    // prepare: tick 1 (due :01.250) runs 1.5 s; the operator stops the poller just after it went out
    const { simulated, store, run, hooks } = world(1_500);
    hooks.afterSleep = (nowMs) => {
      if (nowMs >= Date.parse('2030-01-01T00:00:01.300Z'))
        store.setField('halted', FIELD.running, { BOOL: false });
    };

    // act
    const ending = run('halted', { [FIELD.waitSeconds]: { N: '1' }, [FIELD.overlap]: { S: 'skip' } }, 60_000);

    // assess: stopped only after the answer (:02.750), which is on the item
    await expect(ending).rejects.toThrow();
    expect(simulated.peek()).toBeGreaterThanOrEqual(Date.parse('2030-01-01T00:00:02.750Z'));
    const item = store.image('halted');
    expect(item?.[FIELD.lastFireMs]).toEqual({ N: '1500' });
    expect(item?.[FIELD.lastFinishedSeq]).toEqual({ N: '1' });
  });

  it('stays awake for the answer instead of handing back while a fire runs (60 s poller, 3 s fire)', async () => {
    // prepare
    const { simulated, invoker, store, run } = world(3_000);

    // act
    const output = await run(
      'hourly',
      { [FIELD.waitSeconds]: { N: '60' }, [FIELD.overlap]: { S: 'skip' } },
      600_000,
    );

    // assess: one fire, then the hand-back after its answer, recorded with it
    expect(invoker.released).toHaveLength(1);
    const firedAt = Date.parse(invoker.released[0]?.event.scheduledAt ?? '');
    expect(simulated.peek()).toBeGreaterThanOrEqual(firedAt + 3_000);
    expect(simulated.peek()).toBeLessThan(firedAt + 3_000 + 200);
    expect(store.image('hourly')?.[FIELD.lastFireMs]).toEqual({ N: '3000' });
    expect(Date.parse(output.wakeAt)).toBeGreaterThan(firedAt + 55_000);
  });

  it('hands back by the hand-back point when a fire outlives the invocation; that answer is not recorded', async () => {
    // prepare: a 1 s poller, a 10 min fire, an invocation whose deadline falls 100 ms after a tick (at :20.250),
    // so that tick is due after the hand-back point (deadline - margin) but its read (300 ms ahead) before it
    const { simulated, invoker, store, run } = world(600_000);
    const deadlineMs = Date.parse('2030-01-01T00:00:20.350Z');

    // act
    const output = await run(
      'stuck',
      { [FIELD.waitSeconds]: { N: '1' }, [FIELD.overlap]: { S: 'skip' } },
      deadlineMs - simulated.peek(),
    );
    const handedBackAt = simulated.peek();

    // assess: back to Step Functions by the hand-back point, the fire still running and unrecorded
    expect(invoker.released).toHaveLength(1);
    expect(handedBackAt).toBeLessThanOrEqual(deadlineMs - TIMING.handBackMarginMs);
    expect(store.image('stuck')?.[FIELD.lastFireMs]).toBeUndefined();
    expect(output.loop.nextSeq).toBe(2);
  });

  it('allow (the default) fires every tick asynchronously however long the worker runs', async () => {
    // prepare
    const { invoker, store, run } = world(1_500);

    // act
    await run('async', { [FIELD.waitSeconds]: { N: '1' } }, 8_000);

    // assess
    expect(new Set(gapsOf(dueTimes(invoker)))).toEqual(new Set([1_000]));
    expect(new Set(invoker.released.map((invoke) => invoke.invocationType))).toEqual(new Set(['Event']));
    expect(store.image('async')?.[FIELD.overlapSkips]).toBeUndefined();
  });

  it('refuses to start a new loop on a bad policy, naming the value and firing nothing', async () => {
    // prepare
    const { invoker, run } = world(1_500);

    // act
    const ending = run('typo', { [FIELD.waitSeconds]: { N: '1' }, [FIELD.overlap]: { S: 'Skip' } }, 6_000);

    // assess
    await expect(ending).rejects.toThrow('S "Skip"');
    expect(invoker.released).toHaveLength(0);
  });
});

describe('runRound: overlap skip in the EMF metrics', () => {
  it('counts overlap skips and failed synchronous fires as the item does', async () => {
    // prepare: each fire runs 1.5 s at a 1 s cadence and fails
    const lines: Record<string, unknown>[] = [];
    const { store, run } = world(1_500, (event) => `worker failed on seq ${event.seq}`, {
      sink: (line) => lines.push(JSON.parse(line)),
      table: 'pollers',
      perPoller: false,
    });

    // act
    await run('failing-slow', { [FIELD.waitSeconds]: { N: '1' }, [FIELD.overlap]: { S: 'skip' } }, 12_000);

    // assess
    const sum = (name: string) => lines.reduce((total, line) => total + Number(line[name] ?? 0), 0);
    const item = store.image('failing-slow');
    expect(sum('OverlapSkips')).toBeGreaterThan(0);
    expect(sum('OverlapSkips')).toBe(Number(item?.[FIELD.overlapSkips]?.N));
    expect(sum('FailedFires')).toBeGreaterThan(0);
    expect(sum('FailedFires')).toBe(Number(item?.[FIELD.failedFires]?.N));
  });
});
