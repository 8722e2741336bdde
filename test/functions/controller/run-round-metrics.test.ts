import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { METRICS_FLUSH_INTERVAL_MS } from '../../../functions/controller/round-metrics';
import { type ControllerDeps, type Deadline, runRound } from '../../../functions/controller/run-round';
import { DEFAULT_TIMING, type Timing } from '../../../functions/scheduling/plan-round';
import { type ControllerOutput, FIELD } from '../../../functions/shared/contract';
import { silentLogger } from '../../../functions/shared/logger';
import { MAX_VALUES_PER_METRIC, METRIC_NAMESPACE } from '../../../functions/shared/metrics';
import { InMemoryControlStore } from '../../support/in-memory-control-store';
import { InMemoryWorkerInvoker } from '../../support/in-memory-worker-invoker';
import { simulatedClock } from '../../support/simulated-clock';

const TABLE_NAME = 'pollers';
/** Invokes of functions whose name starts with this are refused, as a throttled async invoke is. */
const THROTTLED_PREFIX = 'throttled-';
const TIMING: Timing = { ...DEFAULT_TIMING, handBackMarginMs: 200, claimWindowMs: 500 };

const clock = simulatedClock({ startMs: Date.parse('2030-01-01T12:00:00.000Z') });
const store = new InMemoryControlStore(TABLE_NAME);
const invoker = new InMemoryWorkerInvoker(clock, (target) => {
  if (!target.startsWith(THROTTLED_PREFIX)) return undefined;
  const error = new Error('Rate exceeded');
  error.name = 'TooManyRequestsException';
  return error;
});

/** Every EMF line the controller wrote, parsed, in order. */
let lines: Record<string, unknown>[] = [];

function deps(perPoller = false): ControllerDeps {
  return {
    table: store,
    invoker,
    defaultTarget: 'default-worker',
    clock,
    log: silentLogger,
    timing: TIMING,
    metrics: { sink: (line) => lines.push(JSON.parse(line)), table: TABLE_NAME, perPoller },
  };
}

const deadlineIn = (ms: number): Deadline => {
  const deadlineMs = clock.peek() + ms;
  return () => deadlineMs;
};

const runningItem = (waitSeconds: string, extra: Record<string, AttributeValue> = {}) => ({
  [FIELD.running]: { BOOL: true },
  [FIELD.waitSeconds]: { N: waitSeconds },
  ...extra,
});

const firesOf = (pollerId: string) =>
  invoker.released.filter((invoke) => invoke.event.pollerId === pollerId && invoke.functionName !== '');
const linesOf = (pollerId: string) => lines.filter((line) => line.pollerId === pollerId);
const sumOf = (pollerLines: Record<string, unknown>[], name: string) =>
  pollerLines.reduce((sum, line) => sum + (typeof line[name] === 'number' ? (line[name] as number) : 0), 0);
const valuesOf = (line: Record<string, unknown>, name: string): number[] => {
  const value = line[name];
  return typeof value === 'number' ? [value] : Array.isArray(value) ? (value as number[]) : [];
};

afterEach(() => {
  lines = [];
  store.beforeRecord = undefined;
});

describe('runRound: EMF metrics', () => {
  it('a 0.1 s stay-awake round writes its fires and one precision value per fire, at most 100 a line, and counts its loop start once', async () => {
    // prepare
    const pollerId = 'fast';
    store.put(pollerId, runningItem('0.1'));

    // act: 30 s awake, about 290 ticks; then the loop's next round
    const first = await runRound({ state: { pollerId }, executionId: 'exec-1' }, deps(), deadlineIn(30_000));
    const firstLines = linesOf(pollerId);
    await runRound({ state: first, executionId: 'exec-1' }, deps(), deadlineIn(2_000));

    // assess
    const fired = firesOf(pollerId).length;
    const all = linesOf(pollerId);
    expect(firstLines.length).toBeGreaterThanOrEqual(3);
    expect(sumOf(all, 'Fires')).toBe(fired);
    const precision = all.flatMap((line) => valuesOf(line, 'ControllerPrecisionMs'));
    expect(precision).toHaveLength(fired);
    for (const line of all) {
      expect(valuesOf(line, 'ControllerPrecisionMs').length).toBeLessThanOrEqual(MAX_VALUES_PER_METRIC);
    }
    // The simulated clock wakes exactly on time: every fire went out on its millisecond.
    expect(new Set(precision)).toEqual(new Set([0]));
    expect(sumOf(firstLines, 'LoopStarts')).toBe(1);
    expect(sumOf(all, 'LoopStarts')).toBe(1);
  });

  it('writes per table by default: namespace, the ControlTable dimension, zeros for what did not happen', async () => {
    // prepare
    const pollerId = 'per-table';
    store.put(pollerId, runningItem('1'));

    // act
    await runRound({ state: { pollerId }, executionId: 'exec-1' }, deps(), deadlineIn(3_000));

    // assess
    const [line] = linesOf(pollerId);
    expect(line).toMatchObject({
      ControlTable: TABLE_NAME,
      _aws: { CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [['ControlTable']] }] },
      FailedFires: 0,
      SkippedTicks: 0,
      OverlapSkips: 0,
    });
    expect(line).not.toHaveProperty('PollerId');
  });

  it('adds the [ControlTable, PollerId] dimension set when per-poller metrics are on', async () => {
    // prepare
    const pollerId = 'per-poller';
    store.put(pollerId, runningItem('1'));

    // act
    await runRound({ state: { pollerId }, executionId: 'exec-1' }, deps(true), deadlineIn(3_000));

    // assess
    const [line] = linesOf(pollerId);
    expect(line).toMatchObject({
      ControlTable: TABLE_NAME,
      PollerId: pollerId,
      _aws: { CloudWatchMetrics: [{ Dimensions: [['ControlTable'], ['ControlTable', 'PollerId']] }] },
    });
  });

  it('writes a line per wall-clock minute in a long stay-awake round, each dated in the minute its fires went out', async () => {
    // prepare
    const pollerId = 'one-second';
    store.put(pollerId, runningItem('1'));
    const minuteOf = (ms: number) => Math.floor(ms / METRICS_FLUSH_INTERVAL_MS);

    // act: 150 s awake, across at least two minute boundaries
    await runRound({ state: { pollerId }, executionId: 'exec-1' }, deps(), deadlineIn(150_000));

    // assess: one line per minute, each holding exactly the fires released in its minute
    const pollerLines = linesOf(pollerId);
    const minutes = pollerLines.map((line) => minuteOf((line._aws as { Timestamp: number }).Timestamp));
    expect(pollerLines.length).toBeGreaterThanOrEqual(3);
    expect(new Set(minutes).size).toBe(minutes.length);
    const firesByMinute = new Map<number, number>();
    for (const fire of firesOf(pollerId)) {
      const minute = minuteOf(fire.receivedAt);
      firesByMinute.set(minute, (firesByMinute.get(minute) ?? 0) + 1);
    }
    expect(new Map(pollerLines.map((line, index) => [minutes[index], line.Fires]))).toEqual(firesByMinute);
  });

  it('counts the loop start of a first round with no tick to fire, with the write that records its heartbeat', async () => {
    // prepare: a poller paused all week, so its first round fires nothing
    const pollerId = 'paused-start';
    store.put(pollerId, runningItem('1', { [FIELD.windows]: { S: 'Mon-Sun 00:00-24:00 pause' } }));
    const writesBefore = store.writes.length;

    // act
    const output = await runRound({ state: { pollerId }, executionId: 'exec-1' }, deps(), deadlineIn(3_000));

    // assess
    expect(firesOf(pollerId)).toEqual([]);
    expect(output.loop).toBeDefined();
    expect(sumOf(linesOf(pollerId), 'LoopStarts')).toBe(1);
    expect(store.writes.length).toBeGreaterThan(writesBefore);
  });

  it('does not count a loop start whose first claim lost the race to another start', async () => {
    // prepare: another start takes the poller (a newer generation) just before this round's first claim lands
    const pollerId = 'lost-race';
    store.put(pollerId, runningItem('1'));
    store.beforeRecord = (write) => {
      if (write.record.claimedSeq !== undefined)
        store.setField(pollerId, FIELD.generation, { N: String(write.guard.generation + 1) });
    };

    // act
    await runRound({ state: { pollerId }, executionId: 'exec-1' }, deps(), deadlineIn(3_000)).catch(
      () => undefined,
    );

    // assess: nothing fired, no loop started
    expect(firesOf(pollerId)).toEqual([]);
    expect(sumOf(linesOf(pollerId), 'LoopStarts')).toBe(0);
  });

  it('never lets a failing sink change how a round ends, nor stop its ticks', async () => {
    // prepare: a sink that throws on every line; an operator turns the poller off at its 90th tick (past a
    // minute boundary, so that lines fall due mid-round too)
    const pollerId = 'throwing-sink';
    store.put(pollerId, runningItem('1'));
    invoker.onInvoke = (invoke) => {
      if (invoke.event.pollerId === pollerId && invoke.event.seq === 90)
        store.setField(pollerId, FIELD.running, { BOOL: false });
    };
    const throwing: ControllerDeps = {
      ...deps(),
      metrics: {
        sink: () => {
          throw new Error('stdout closed');
        },
        table: TABLE_NAME,
        perPoller: false,
      },
    };

    // act
    const round = runRound({ state: { pollerId }, executionId: 'exec-1' }, throwing, deadlineIn(200_000));

    // assess: the round still ends with its stop signal, after all its ticks
    await expect(round).rejects.toMatchObject({ name: 'PollerStopped' });
    invoker.onInvoke = undefined;
    expect(firesOf(pollerId).map((fire) => fire.event.seq)).toEqual(
      Array.from({ length: 90 }, (_, i) => i + 1),
    );
  });

  it('counts failed fires: an invoke Lambda refused', async () => {
    // prepare
    const pollerId = 'refused';
    store.put(pollerId, runningItem('1', { [FIELD.target]: { S: `${THROTTLED_PREFIX}worker` } }));

    // act
    await runRound({ state: { pollerId }, executionId: 'exec-1' }, deps(), deadlineIn(3_500));

    // assess: each tick's invoke went out and was refused; none counts as fired
    const refused = invoker.released.filter((invoke) => invoke.event.pollerId === pollerId).length;
    expect(refused).toBeGreaterThanOrEqual(2);
    expect(sumOf(linesOf(pollerId), 'FailedFires')).toBe(refused);
    expect(sumOf(linesOf(pollerId), 'Fires')).toBe(0);
  });

  it('counts skipped ticks and the lateness of the tick that went out, as the item counts them', async () => {
    // prepare: 1 s ticks; the first claim write takes 1.4 s, so seq 1 goes out 400 ms late
    const pollerId = 'late';
    store.put(pollerId, runningItem('1'));
    let delayed = false;
    store.beforeRecord = (write) => {
      if (write.kind === 'record' && write.record.claimedSeq !== undefined && !delayed) {
        delayed = true;
        clock.advance(1_400);
      }
    };

    // act
    const output: ControllerOutput = await runRound(
      { state: { pollerId }, executionId: 'exec-1' },
      deps(),
      deadlineIn(6_000),
    );

    // assess
    const precision = linesOf(pollerId).flatMap((line) => valuesOf(line, 'ControllerPrecisionMs'));
    expect(precision[0]).toBe(400);
    expect(sumOf(linesOf(pollerId), 'SkippedTicks')).toBe(output.loop.skippedTicks);
  });

  it('counts every tick that slow claim writes made too late, as the item counts them', async () => {
    // prepare: every claim write of a 1 s poller takes 1.6 s
    const pollerId = 'late-wait';
    store.put(pollerId, runningItem('1'));
    store.beforeRecord = (write) => {
      if (write.kind === 'record' && write.record.claimedSeq !== undefined) clock.advance(1_600);
    };

    // act
    const output = await runRound({ state: { pollerId }, executionId: 'exec-1' }, deps(), deadlineIn(6_000));

    // assess: every tick the slow claims made late is counted, in the metric as on the item
    const skipped = sumOf(linesOf(pollerId), 'SkippedTicks');
    expect(skipped).toBeGreaterThan(0);
    expect(skipped).toBe(output.loop.skippedTicks);
    expect(Number(store.image(pollerId)?.[FIELD.skippedTicks]?.N)).toBe(skipped);
  });

  it('writes its line when the round ends by a stop, too', async () => {
    // prepare: a running poller whose operator turns it off after the first tick
    const pollerId = 'stopping';
    store.put(pollerId, runningItem('1'));
    invoker.onInvoke = (invoke) => {
      if (invoke.event.pollerId === pollerId) store.setField(pollerId, FIELD.running, { BOOL: false });
    };

    // act
    await expect(
      runRound({ state: { pollerId }, executionId: 'exec-1' }, deps(), deadlineIn(6_000)),
    ).rejects.toMatchObject({ name: 'PollerStopped' });
    invoker.onInvoke = undefined;

    // assess
    expect(sumOf(linesOf(pollerId), 'Fires')).toBe(1);
    expect(sumOf(linesOf(pollerId), 'LoopStarts')).toBe(1);
  });
});
