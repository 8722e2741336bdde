import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  APPLICATION_LINE_PREFIX_BYTES,
  LOG_EVENT_OVERHEAD_BYTES,
  PLATFORM_LOG_BYTES_PER_INVOCATION,
} from '../../../functions/scheduling/cost-model';
import { emfLine } from '../../../functions/shared/metrics';
import {
  AWAKE_INVOCATION_MS,
  precisionValuesOf,
  ShardWindowMeter,
  shardControllerSize,
  shardsForLoad,
} from '../../../scripts/bench/shard-window';
import {
  LOCAL_CONTROLLER_NAME,
  LOCAL_STATE_MACHINE_NAME,
  LOCAL_WORKER_NAME,
  localStateMachineArn,
} from '../../../scripts/local-stack/local-endpoints';

const arn = `${localStateMachineArn('us-east-1', LOCAL_STATE_MACHINE_NAME).replace(':stateMachine:', ':execution:')}:shard-s0-1`;

describe('ShardWindowMeter: one window of a shard fleet, counted', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps only the window: its transitions, units, index writes, awake time and log bytes', () => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    const counter = new ShardWindowMeter(shardControllerSize(undefined));
    const { meter } = counter;
    const invocation = (functionName: string, startedAt: number) =>
      counter.onInvocationStart({
        functionName,
        invocationType: 'RequestResponse',
        event: {},
        startedAt,
        requestedAt: startedAt,
      });
    // Before the window: the fleet start and a shard's round begin; none of it is counted but the round's time.
    meter.historyEvent(arn, 'TaskStateEntered', 'RunController');
    meter.dynamoDbCapacity?.('UpdateItem', 1, {
      UpdateExpression: 'SET #s = :s',
      ExpressionAttributeNames: { '#s': 'shard' },
    });
    invocation(LOCAL_CONTROLLER_NAME, 0);
    counter.onSandboxLine({ functionName: LOCAL_CONTROLLER_NAME, pid: 1, stream: 'stdout', line: 'before' });

    vi.setSystemTime(10_000);
    counter.openWindow();
    meter.dynamoDbCapacity?.('Query', 2.5, { IndexName: 'shard-index' });
    meter.dynamoDbCapacity?.('UpdateItem', 1, {
      UpdateExpression: 'SET #c = :c',
      ExpressionAttributeNames: { '#c': 'claimedSeq' },
    });
    meter.dynamoDbCapacity?.('UpdateItem', 2, {
      UpdateExpression: 'SET #r = :r',
      ExpressionAttributeNames: { '#r': 'recentResults' },
    });
    meter.dynamoDbCapacity?.('Scan', 40, {});
    counter.onSandboxLine({ functionName: LOCAL_CONTROLLER_NAME, pid: 1, stream: 'stdout', line: '{"a":1}' });
    counter.onSandboxLine({ functionName: LOCAL_WORKER_NAME, pid: 2, stream: 'stdout', line: 'worker' });
    // A watchdog invocation inside the window: 100 ms.
    invocation(LOCAL_CONTROLLER_NAME, 20_000);
    vi.setSystemTime(20_100);
    meter.lambdaInvocation(LOCAL_CONTROLLER_NAME, 'RequestResponse', 100);

    const window = counter.closeWindow({ startMs: 10_000, endMs: 70_000 }, 10, 3);
    const awakeMs = 60_000 + 100; // the shard's round across the whole window, and the watchdog
    const derived = awakeMs / AWAKE_INVOCATION_MS;
    expect(window.controllerAwakeMs).toBe(awakeMs);
    expect(window.controllerInvocations).toBe(1);
    expect(window.derivedHandBackRounds).toBeCloseTo(derived, 12);
    expect(window.readUnitsByOperation).toEqual({ Query: 2.5 });
    expect(window.plannerScanReadUnits).toBe(3);
    expect(window.outcomeWriteUnits).toBe(2);
    expect(window.controllerLogLines).toBe(1);
    expect(window.counts).toMatchObject({
      pollers: 10,
      windowSeconds: 60,
      controllerBilledMs: awakeMs,
      readUnits: 5.5,
      writeUnits: 1,
      indexWriteUnits: 1,
    });
    expect(window.counts.stateTransitions).toBeCloseTo(derived * 2, 12);
    expect(window.counts.logBytes).toBeCloseTo(
      7 +
        APPLICATION_LINE_PREFIX_BYTES +
        LOG_EVENT_OVERHEAD_BYTES +
        (1 + derived) * PLATFORM_LOG_BYTES_PER_INVOCATION,
      9,
    );
    expect(window.cost.usdPerDay).toBeGreaterThan(0);
  });
});

describe('shardsForLoad', () => {
  it('opens as many shards as the load needs at the committed capacity, at least one', () => {
    expect(shardsForLoad(0, 100)).toBe(1);
    expect(shardsForLoad(100, 100)).toBe(1);
    expect(shardsForLoad(100.5, 100)).toBe(2);
    expect(shardsForLoad(1000, 100)).toBe(10);
  });
});

describe('precisionValuesOf: the shard controllers own precision, read from their EMF lines', () => {
  it('reads a list or a single value, and nothing from other lines', () => {
    const many = emfLine({ table: 't', timestampMs: 0, values: { controllerPrecisionMs: [0, 1.5, 12] } });
    const one = emfLine({ table: 't', timestampMs: 0, values: { controllerPrecisionMs: [3] } });
    const other = emfLine({ table: 't', timestampMs: 0, values: { fires: 4 } });
    expect(precisionValuesOf(many ?? '')).toEqual([0, 1.5, 12]);
    expect(precisionValuesOf(one ?? '')).toEqual([3]);
    expect(precisionValuesOf(other ?? '')).toEqual([]);
    expect(precisionValuesOf('{"level":"info","msg":"ControllerPrecisionMs is not json')).toEqual([]);
  });

  it('keeps the values of the window only, as percentiles', () => {
    const counter = new ShardWindowMeter(shardControllerSize(undefined));
    const line = (values: number[]) => ({
      functionName: LOCAL_CONTROLLER_NAME,
      pid: 1,
      stream: 'stdout' as const,
      line: emfLine({ table: 't', timestampMs: 0, values: { controllerPrecisionMs: values } }) ?? '',
    });
    counter.onSandboxLine(line([900]));
    counter.openWindow();
    counter.onSandboxLine(line([1, 2, 3, 4]));
    const window = counter.closeWindow({ startMs: 0, endMs: 60_000 }, 4, 0);
    expect(window.controllerPrecisionMs).toMatchObject({ count: 4, max: 4 });
  });
});
