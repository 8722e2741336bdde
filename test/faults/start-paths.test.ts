import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD } from '../../functions/shared/contract';
import { silentLogger } from '../../functions/shared/logger';
import { startLoop } from '../../functions/starter/start-loop';
import { runWatchdog } from '../../functions/watchdog/run-watchdog';
import { ctl } from '../scripts/ctl/ctl-harness';
import {
  duplicateSeqs,
  executionsOf,
  reportFault,
  shortestFireGapMs,
  sleep,
  starterDepsFor,
  waitUntil,
} from '../support/fault-probes';
import { type Harness, startHarness } from '../support/local-stack-harness';

/**
 * Every way a user starts a poller, on the local stack with its change feed starting loops the way the deployed
 * stream does, and Step Functions' rule that an execution name is never reused. One loop per poller whatever the
 * path: never two fires closer than half the interval, never a poller that cannot be started again.
 */
describe('fault: every start path gives one loop', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  const running = (pollerId = DEFAULT_POLLER_ID) =>
    executionsOf(harness?.stack as Harness['stack'], pollerId, 'RUNNING');

  it('ctl start after ctl stop, five times, while the stream starter reacts to the same change', async () => {
    harness = await startHarness({ everySeconds: 1 });
    const stack = harness.stack;
    await harness.waitForFires(2, 5_000);
    const cycles: string[] = [];

    for (let cycle = 0; cycle < 5; cycle += 1) {
      expect((await ctl(['stop', '--local'], stack)).exitCode).toBe(0);
      await waitUntil(() => running().length === 0, 4_000, 'the loop to end after ctl stop');
      const firesBefore = harness.fires().length;
      const executionsBefore = executionsOf(stack, DEFAULT_POLLER_ID).length;

      const run = await ctl(['start', '--local'], stack);
      await harness.waitForFires(firesBefore + 3, 6_000);

      cycles.push(
        `${run.stdout[0]?.split(':')[0]}→${executionsOf(stack, DEFAULT_POLLER_ID).length - executionsBefore}`,
      );
      expect(run.exitCode).toBe(0);
      // Whichever of ctl and the stream starter comes second finds the other's loop running.
      expect(run.stdout[0]).toMatch(/^(started|already running): /);
      expect(executionsOf(stack, DEFAULT_POLLER_ID).length - executionsBefore).toBe(1);
      expect(running()).toHaveLength(1);
    }

    const fires = harness.fires();
    reportFault('ctl start after stop ×5', {
      'outcome→new executions': cycles.join(' '),
      fires: fires.length,
      duplicates: duplicateSeqs(fires).length,
      'shortest fire gap ms': shortestFireGapMs(fires),
    });
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(shortestFireGapMs(fires)).toBeGreaterThanOrEqual(500);
    expect(harness.events.filter((event) => event.event === 'error')).toEqual([]);
  });

  it('ctl start --poller new-feed --every 2 on a new item: one execution, one fire per tick', async () => {
    harness = await startHarness({ everySeconds: 1, startLoops: true });
    const stack = harness.stack;

    const run = await ctl(['start', '--poller', 'new-feed', '--every', '2', '--local'], stack);
    await harness.waitForFires(4, 9_000, 'new-feed');

    const fires = harness.fires('new-feed');
    reportFault('ctl start of a new poller', {
      executions: executionsOf(stack, 'new-feed').length,
      fires: fires.length,
      'shortest fire gap ms': shortestFireGapMs(fires),
    });
    expect(run.exitCode).toBe(0);
    expect(executionsOf(stack, 'new-feed')).toHaveLength(1);
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(shortestFireGapMs(fires)).toBeGreaterThanOrEqual(1_000);
  });

  it('the watchdog, ctl start, a starter start and a console start racing on a poller whose loop died', async () => {
    harness = await startHarness({ everySeconds: 1, startLoops: false });
    const stack = harness.stack;
    const deps = starterDepsFor(stack);
    // A loop that died long ago: generation 3, a heartbeat 5 minutes old, no execution left.
    await harness.setFields({
      [FIELD.generation]: { N: '3' },
      [FIELD.claimedSeq]: { N: '90' },
      [FIELD.heartbeatAt]: { S: new Date(Date.now() - 300_000).toISOString() },
    });

    try {
      await Promise.all([
        runWatchdog({ ...deps, log: silentLogger }, Date.now()),
        ctl(['start', '--local'], stack),
        startLoop(DEFAULT_POLLER_ID, deps),
        Promise.resolve().then(() => stack.startLoop(DEFAULT_POLLER_ID)),
      ]);
      await harness.waitForFires(4, 6_000);
      await sleep(1_000);
    } finally {
      deps.sfn.destroy();
    }

    const fires = harness.fires();
    const item = await harness.readItem();
    reportFault('four start paths racing', {
      executions: executionsOf(stack, DEFAULT_POLLER_ID).length,
      running: running().length,
      generation: item?.[FIELD.generation]?.N ?? '-',
      restarts: item?.[FIELD.restarts]?.N ?? '0',
      'first seq': fires[0]?.seq ?? '-',
      'shortest fire gap ms': shortestFireGapMs(fires),
    });
    expect(running()).toHaveLength(1);
    expect(item?.[FIELD.generation]).toEqual({ N: '4' });
    expect(fires[0]?.seq).toBe(91);
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(shortestFireGapMs(fires)).toBeGreaterThanOrEqual(500);
  });
});

describe('fault: no sequence of operator edits leaves a poller that cannot be started', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  const putItem = (pollerId: string, fields: Record<string, unknown>) =>
    harness?.stack.dynamoDb.send(
      new PutItemCommand({
        TableName: harness.stack.tableName,
        Item: { [FIELD.id]: { S: pollerId }, ...(fields as Record<string, { S: string }>) },
      }),
    );

  it('an item created running with waitseconds "abc": the problem is recorded, and fixing it starts the loop', async () => {
    harness = await startHarness({ everySeconds: 1 });
    const stack = harness.stack;

    await putItem('feed', { [FIELD.running]: { BOOL: true }, [FIELD.waitSeconds]: { S: 'abc' } });
    await harness.waitFor(
      (event) => event.event === 'error' && event.poller === 'feed' && event.message.includes('"abc"'),
      3_000,
    );
    const refused = await ctl(['start', '--poller', 'feed', '--local'], stack);
    await harness.setFields({ [FIELD.waitSeconds]: { N: '1' } }, 'feed');
    const fixedAt = Date.now();
    await harness.waitForFires(3, 5_000, 'feed');

    const firstFireAfterFixMs = Date.parse(harness.fires('feed')[0]?.firedAt ?? '') - fixedAt;
    reportFault('invalid waitseconds fixed', {
      'ctl start while invalid': refused.stderr[0] ?? '',
      'first fire after the fix': `${firstFireAfterFixMs} ms`,
      executions: executionsOf(stack, 'feed').length,
    });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr[0]).toMatch(/not started: .*waitseconds .*got S "abc"/);
    // The change feed's scan (250 ms), the stream invocation of the control plane (a cold sandbox at 128 MB: up to
    // ~700 ms) and the first tick, 1 s after a start.
    expect(firstFireAfterFixMs).toBeLessThan(3_000);
    expect(executionsOf(stack, 'feed')).toHaveLength(1);
  });

  it('a loop that stopped on an invalid configuration starts again when the operator fixes it', async () => {
    harness = await startHarness({ everySeconds: 1 });
    await harness.waitForFires(2, 5_000);
    await harness.setFields({ [FIELD.waitSeconds]: { S: 'abc' }, [FIELD.running]: { BOOL: false } });
    await waitUntil(() => harness?.events.some((event) => event.event === 'stopped') ?? false, 4_000, 'stop');
    // running=true with a bad cadence and no valid configuration carried: the start records why it cannot run.
    await harness.setFields({ [FIELD.running]: { BOOL: true } });
    await sleep(1_500);
    const firesWhileInvalid = harness.fires().length;

    await harness.setFields({ [FIELD.waitSeconds]: { N: '1' } });
    await harness.waitForFires(firesWhileInvalid + 3, 5_000);

    expect(duplicateSeqs(harness.fires())).toEqual([]);
    expect(executionsOf(harness.stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
  });

  it('an item deleted and created again fires again (its generation starts anew, execution names do not)', async () => {
    harness = await startHarness({ everySeconds: 1 });
    const stack = harness.stack;
    await harness.waitForFires(2, 5_000);

    await stack.dynamoDb.send(
      new DeleteItemCommand({ TableName: stack.tableName, Key: { [FIELD.id]: { S: DEFAULT_POLLER_ID } } }),
    );
    await waitUntil(() => executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING').length === 0, 4_000, 'the end');
    const firesBefore = harness.fires().length;
    await putItem(DEFAULT_POLLER_ID, { [FIELD.running]: { BOOL: true }, [FIELD.waitSeconds]: { N: '1' } });
    await harness.waitForFires(firesBefore + 3, 5_000);

    const names = executionsOf(stack, DEFAULT_POLLER_ID).map((execution) => execution.name);
    reportFault('item deleted and created again', { executions: names.join(' ') });
    expect(new Set(names).size).toBe(names.length);
    expect(executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
    expect(shortestFireGapMs(harness.fires())).toBeGreaterThanOrEqual(500);
  });

  it('running flipped back to false before the first tick, then true again: fires', async () => {
    harness = await startHarness({ everySeconds: 1, startLoops: true });
    await harness.setFields({ [FIELD.running]: { BOOL: false } });
    await waitUntil(
      () => executionsOf(harness?.stack as Harness['stack'], DEFAULT_POLLER_ID, 'RUNNING').length === 0,
      4_000,
      'stop',
    );
    // Start and stop within the first tick's 250 ms, then start for good.
    await harness.setFields({ [FIELD.running]: { BOOL: true } });
    await sleep(100);
    await harness.setFields({ [FIELD.running]: { BOOL: false } });
    await sleep(1_000);
    const firesBefore = harness.fires().length;
    await harness.setFields({ [FIELD.running]: { BOOL: true } });
    await harness.waitForFires(firesBefore + 3, 5_000);

    expect(executionsOf(harness.stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
    expect(shortestFireGapMs(harness.fires())).toBeGreaterThanOrEqual(500);
  });

  it('ctl start on an item whose generation was hand-edited to S "3": fires, one loop, the problem recorded', async () => {
    harness = await startHarness({ everySeconds: 1, startLoops: false });
    const stack = harness.stack;
    // A loop that died long ago, whose generation an operator (or a bad import) rewrote as text.
    await harness.setFields({
      [FIELD.generation]: { S: '3' },
      [FIELD.claimedSeq]: { N: '20' },
      [FIELD.heartbeatAt]: { S: new Date(Date.now() - 300_000).toISOString() },
    });

    const run = await ctl(['start', '--local'], stack);
    await harness.waitForFires(3, 5_000);

    const fires = harness.fires();
    const item = await harness.readItem();
    reportFault('ctl start on a corrupt generation', {
      'ctl start': run.stdout[0] ?? run.stderr[0] ?? '',
      generation: item?.[FIELD.generation]?.N ?? '-',
      lastError: item?.[FIELD.lastError]?.M?.message?.S ?? '-',
    });
    expect(run.exitCode).toBe(0);
    expect(run.stdout[0]).toMatch(/^started: /);
    expect(executionsOf(stack, DEFAULT_POLLER_ID)).toHaveLength(1);
    expect(item?.[FIELD.generation]).toEqual({ N: '4' });
    expect(item?.[FIELD.lastError]?.M?.message?.S).toContain('generation must be a whole number (N)');
    expect(item?.[FIELD.lastError]?.M?.message?.S).toContain('got S "3"');
    expect(fires[0]?.seq).toBe(21);
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(shortestFireGapMs(fires)).toBeGreaterThanOrEqual(500);
  });

  it('a loop whose execution was stopped by hand: ctl start starts a new one at once', async () => {
    harness = await startHarness({ everySeconds: 1 });
    const stack = harness.stack;
    await harness.waitForFires(2, 5_000);
    const [execution] = executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING');
    const deps = starterDepsFor(stack);
    try {
      await deps.sfn.send(new StopExecutionCommand({ executionArn: execution?.executionArn }));
    } finally {
      deps.sfn.destroy();
    }
    const firesBefore = harness.fires().length;

    const run = await ctl(['start', '--local'], stack);
    await harness.waitForFires(firesBefore + 2, 4_000);

    expect(run.stdout[0]).toMatch(/^started: /);
    expect(executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
  });
});
