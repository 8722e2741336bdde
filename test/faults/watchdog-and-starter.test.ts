import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD } from '../../functions/shared/contract';
import { duplicateSeqs, executionsOf, reportFault, seconds, sleep, waitUntil } from '../support/fault-probes';
import { type Harness, startHarness } from '../support/local-stack-harness';

describe('fault: loops started and restarted by the change feed (starter) and the watchdog', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('a poller whose item flips running false → true gets exactly one loop from the change feed', async () => {
    harness = await startHarness({ everySeconds: 1 });
    const stack = harness.stack;
    await harness.waitForFires(2, 5_000);
    await harness.setFields({ [FIELD.running]: { BOOL: false } });
    await harness.waitFor((event) => event.event === 'stopped', 3_000);
    await waitUntil(
      () => executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING').length === 0,
      3_000,
      'no running loop',
    );
    const executionsBefore = executionsOf(stack, DEFAULT_POLLER_ID).length;
    const firesBefore = harness.fires().length;

    await harness.setFields({ [FIELD.running]: { BOOL: true } });
    const flippedAt = Date.now();
    const startedMs = await waitUntil(
      () => harness?.fires().some((fire) => Date.parse(fire.firedAt) > flippedAt) ?? false,
      4_000,
      'a fire from the loop the change feed started',
    );
    await sleep(3_000);

    const fires = harness.fires();
    const started = executionsOf(stack, DEFAULT_POLLER_ID).slice(executionsBefore);
    reportFault('starter running false -> true', {
      'fires before': firesBefore,
      'fires after': fires.length - firesBefore,
      duplicates: duplicateSeqs(fires).length,
      'loops started': started.map((execution) => `${execution.name}:${execution.status}`).join(' '),
      'first fire after flip': seconds(startedMs),
    });
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(started.map((execution) => [execution.name.replace(/-[0-9a-z]+$/, ''), execution.status])).toEqual(
      [[`${DEFAULT_POLLER_ID}-g2`, 'RUNNING']],
    );
    expect(fires.length - firesBefore).toBeGreaterThanOrEqual(3);
  });

  it('a loop whose execution is stopped behind its back is restarted by the watchdog above the old claim', async () => {
    harness = await startHarness({ everySeconds: 1, watchdogIntervalMs: 1_000 });
    const stack = harness.stack;
    await harness.waitForFires(2, 5_000);
    const [execution] = executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING');
    if (!execution) throw new Error('no running execution');

    stack.stepFunctions.stopExecution(execution.executionArn);
    // The stale threshold is at least 90 s: age the heartbeat instead of waiting for it.
    await harness.setFields({ [FIELD.heartbeatAt]: { S: new Date(Date.now() - 5 * 60_000).toISOString() } });
    const agedAt = Date.now();
    const claimBefore = Number((await harness.readItem())?.[FIELD.claimedSeq]?.N);
    const firesBefore = harness.fires().length;
    const restartedMs = await waitUntil(
      () => executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING').length === 1,
      5_000,
      'the watchdog to start a new loop',
    );
    await waitUntil(
      () => harness?.fires().some((fire) => fire.seq > claimBefore) ?? false,
      5_000,
      'a fire from the restarted loop',
    );
    await sleep(2_500);

    const fires = harness.fires();
    const item = await harness.readItem();
    const newFires = fires.filter((fire) => fire.seq > claimBefore);
    // Stopping the execution does not stop a controller invocation under way (nor does it on AWS): it fires on
    // under its claim until the new generation supersedes it.
    const orphanFires = fires.slice(firesBefore).filter((fire) => fire.seq <= claimBefore);
    reportFault('watchdog restart after StopExecution', {
      'fires before': firesBefore,
      'fires after': newFires.length,
      'orphan fires': orphanFires.length,
      duplicates: duplicateSeqs(fires).length,
      'old claim': claimBefore,
      'first new seq': newFires[0]?.seq ?? 'none',
      'restart after aging': seconds(restartedMs),
      'first new fire after aging': seconds(Date.parse(newFires[0]?.firedAt ?? '') - agedAt),
      restarts: item?.[FIELD.restarts]?.N ?? 'none',
      lastRestartReason: JSON.stringify(item?.[FIELD.lastRestartReason]?.S ?? ''),
    });
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(item?.[FIELD.restarts]?.N).toBe('1');
    expect(item?.[FIELD.lastRestartReason]?.S).toContain('heartbeat');
    expect(item?.[FIELD.lastRestartAt]?.S).toBeDefined();
    expect(newFires.length).toBeGreaterThanOrEqual(2);
    expect(
      fires
        .slice(fires.indexOf(newFires[0] as (typeof fires)[number]))
        .every((fire) => fire.seq > claimBefore),
    ).toBe(true);
    const running = executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING');
    expect(running.map((record) => record.name.replace(/-[0-9a-z]+$/, ''))).toEqual([
      `${DEFAULT_POLLER_ID}-g2`,
    ]);
    expect(executionsOf(stack, DEFAULT_POLLER_ID, 'ABORTED').map((record) => record.executionArn)).toEqual([
      execution.executionArn,
    ]);
  });
});
