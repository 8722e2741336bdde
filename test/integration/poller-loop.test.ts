import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD, STOP_REASON } from '../../functions/shared/contract';
import { type Harness, scheduleGaps, startHarness } from '../support/local-stack-harness';

/**
 * Real timing at 1 s on the local stack: the same ASL, bundles and SDK calls as on AWS, each function in a
 * sandbox process confined to its memory's CPU share (where the machine allows it).
 */
describe('the poller loop on the local stack', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('fires at the cadence, anchored so that no latency accumulates', async () => {
    harness = await startHarness({ everySeconds: 1 });

    const fires = await harness.waitForFires(4, 8_000);

    expect(fires.map((fire) => fire.seq).slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(scheduleGaps(fires.slice(0, 4))).toEqual([1000, 1000, 1000]);
  });

  // In sandboxes confined to the controller's CPU share (where the machine allows), as on Lambda.
  it('fires within 50 ms of the schedule at the deployed 128 MB, once the worker is warm', async () => {
    harness = await startHarness({ everySeconds: 1 });

    // The first fire meets a cold worker sandbox (its start-up is in the lateness), and the worker kit records that
    // sandbox's first outcome after it: its first DynamoDB call, most of a second at 7% of a core, so the second
    // tick may find it still busy and meet a second cold sandbox (as Lambda would start one). The ones after do not.
    const fires = await harness.waitForFires(6, 11_000);

    for (const fire of fires.slice(2)) expect(fire.latenessMs).toBeLessThan(50);
  });

  it('fires sub-second ticks without skipping one on a controller size that sustains them (512 MB at 0.2 s)', async () => {
    harness = await startHarness({ everySeconds: 0.2, controllerMemoryMb: 512 });

    // Async invokes may reach the worker out of order (a cold sandbox for one, a warm one for the next), on AWS too:
    // judged in seq order once the first five seqs have all arrived.
    await harness.waitFor(() => {
      const seqs = new Set(harness?.fires().map((fire) => fire.seq));
      return [1, 2, 3, 4, 5].every((seq) => seqs.has(seq));
    }, 4_000);
    const firstFive = harness
      .fires()
      .filter((fire) => fire.seq <= 5)
      .sort((a, b) => a.seq - b.seq);

    expect(firstFive.map((fire) => fire.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(scheduleGaps(firstFive)).toEqual([200, 200, 200, 200]);
  });

  it('applies a waitseconds change at the next tick', async () => {
    harness = await startHarness({ everySeconds: 1 });
    await harness.waitForFires(2, 5_000);

    await harness.setFields({ [FIELD.waitSeconds]: { N: '2' } });
    const changedAt = harness.fires().length;
    const fires = await harness.waitForFires(changedAt + 3, 10_000);

    // One tick at most was already announced under the old cadence; every gap after it is the new one.
    const gapsAfterChange = scheduleGaps(fires.slice(changedAt));
    expect(gapsAfterChange.slice(-2)).toEqual([2000, 2000]);
    expect(gapsAfterChange.filter((gap) => gap !== 2000).length).toBeLessThanOrEqual(1);
  });

  it('ends the loop within one tick when running is set to false, and the execution ends', async () => {
    harness = await startHarness({ everySeconds: 1 });
    await harness.waitForFires(2, 5_000);

    await harness.setFields({ [FIELD.running]: { BOOL: false } });
    const stoppedAt = Date.now();
    const stopped = await harness.waitFor((event) => event.event === 'stopped', 3_000);
    const firesWhenStopped = harness.fires().length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    expect(stopped).toMatchObject({ poller: DEFAULT_POLLER_ID, reason: STOP_REASON.runningFalse });
    expect(Date.now() - stoppedAt).toBeLessThan(3_000);
    expect(harness.fires().length).toBe(firesWhenStopped);
    expect(harness.stack.stepFunctions.listExecutions('RUNNING')).toEqual([]);
    expect(harness.stack.stepFunctions.listExecutions('SUCCEEDED')).toHaveLength(1);
    expect((await harness.readItem())?.[FIELD.stoppedReason]?.S).toBe(STOP_REASON.runningFalse);
  });

  it('continues seq without a gap or a duplicate across forced self-restarts', async () => {
    // A short controller timeout makes it hand back every tick or two; a budget of about two rounds per
    // execution then makes the loop hand over to a fresh execution again and again.
    harness = await startHarness({ everySeconds: 1, historyBudget: 18, controllerTimeoutMs: 6_000 });

    const fires = await harness.waitForFires(7, 12_000);

    const seqs = fires.map((fire) => fire.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, index) => index + 1));
    expect(scheduleGaps(fires).every((gap) => gap === 1000)).toBe(true);
    const executions = harness.stack.stepFunctions.listExecutions();
    expect(executions.length).toBeGreaterThanOrEqual(3);
    expect(executions.filter((execution) => execution.status === 'RUNNING')).toHaveLength(1);
  });

  it('records a clear lastError for a bad waitseconds and keeps firing at the last valid cadence', async () => {
    harness = await startHarness({ everySeconds: 1 });
    await harness.waitForFires(2, 5_000);

    await harness.setFields({ [FIELD.waitSeconds]: { S: 'abc' } });
    const error = await harness.waitFor((event) => event.event === 'error', 4_000);
    const before = harness.fires().length;
    const fires = await harness.waitForFires(before + 2, 4_000);

    expect(error).toMatchObject({ poller: DEFAULT_POLLER_ID });
    expect(error.event === 'error' && error.message).toContain('waitseconds');
    expect(error.event === 'error' && error.message).toContain('S "abc"');
    const item = await harness.readItem();
    expect(item?.[FIELD.lastError]?.M?.message?.S).toContain('S "abc"');
    expect(item?.[FIELD.waitSeconds]).toEqual({ S: 'abc' });
    expect(scheduleGaps(fires.slice(-3))).toEqual([1000, 1000]);
  });

  it('records a missing target on the item and keeps the loop alive', async () => {
    harness = await startHarness({ everySeconds: 1 });
    await harness.waitForFires(1, 5_000);

    await harness.setFields({ [FIELD.target]: { S: 'no-such-function' } });
    const error = await harness.waitFor(
      (event) => event.event === 'error' && event.message.includes('no-such-function'),
      4_000,
    );
    await harness.setFields({ [FIELD.target]: { NULL: true } });
    const before = harness.fires().length;
    await harness.waitForFires(before + 1, 4_000);

    expect(error.event === 'error' && error.message).toContain('ResourceNotFoundException');
    expect(harness.events.some((event) => event.event === 'stopped')).toBe(false);
  });

  it('stops with the reason when the item was never valid', async () => {
    harness = await startHarness({ everySeconds: 1, startLoops: false });
    await harness.setFields({ [FIELD.running]: { S: 'yes' } });

    harness.stack.startLoop(DEFAULT_POLLER_ID);
    const stopped = await harness.waitFor((event) => event.event === 'stopped', 5_000);

    expect(stopped.event === 'stopped' && stopped.reason).toContain(STOP_REASON.invalidConfig);
    expect(stopped.event === 'stopped' && stopped.reason).toContain('running');
    expect(stopped.event === 'stopped' && stopped.reason).toContain('S "yes"');
    expect(harness.fires()).toEqual([]);
  });

  it('runs sub-second cadences awake in one invocation, follows a cadence change and stops mid-window', async () => {
    harness = await startHarness({ everySeconds: 0.2 });
    await harness.waitForFires(5, 3_000);

    await harness.setFields({ [FIELD.waitSeconds]: { N: '0.5' } });
    const changedAt = harness.fires().length;
    await harness.waitForFires(changedAt + 4, 4_000);
    await harness.setFields({ [FIELD.running]: { BOOL: false } });
    const stoppedAt = Date.now();
    await harness.waitFor((event) => event.event === 'stopped', 2_000);
    const stopDelayMs = Date.now() - stoppedAt;
    const firesAtStop = harness.fires().length;
    await new Promise((resolve) => setTimeout(resolve, 800));

    // In seq order: async invokes may start out of order (a worker sandbox still recording its outcome makes Lambda
    // start another one, whose cold start can let the next tick's invoke overtake it), as on AWS.
    const fires = [...harness.fires()].sort((left, right) => left.seq - right.seq);
    expect(scheduleGaps(fires.slice(changedAt)).slice(-2)).toEqual([500, 500]);
    expect(fires.map((fire) => fire.seq)).toEqual(
      Array.from({ length: fires.length }, (_, index) => index + 1),
    );
    expect(stopDelayMs).toBeLessThan(1_000);
    expect(harness.fires().length).toBe(firesAtStop);
    // Still the first execution: below a second the controller never handed back to a Wait state.
    expect(harness.stack.stepFunctions.listExecutions()).toHaveLength(1);
  });

  it('stops cleanly when the control item is deleted', async () => {
    harness = await startHarness({ everySeconds: 1 });
    await harness.waitForFires(1, 5_000);

    await harness.stack.dynamoDb.send(
      new DeleteItemCommand({
        TableName: harness.stack.tableName,
        Key: { [FIELD.id]: { S: DEFAULT_POLLER_ID } },
      }),
    );
    const stopped = await harness.waitFor((event) => event.event === 'stopped', 3_000);

    expect(stopped).toMatchObject({ reason: STOP_REASON.itemMissing });
    expect(await harness.readItem()).toBeUndefined();
  });
});
