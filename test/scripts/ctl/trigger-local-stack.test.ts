import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD } from '../../../functions/shared/contract';
import { ControlTable, claimTrigger } from '../../../functions/shared/control-table';
import type { TriggerResult } from '../../../scripts/ctl/commands/trigger';
import { type Harness, startHarness } from '../../support/local-stack-harness';
import { freePortPair, runCli } from './cli-runner';

/**
 * `ctl trigger` as an operator runs it: the real CLI process (`--local --port N`) against a local stack whose
 * loop really runs (the same ASL, handlers, worker kit and SDK calls).
 */
describe('ctl trigger on the local stack', () => {
  let harness: Harness | undefined;
  let port = 0;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  const start = async () => {
    port = await freePortPair();
    harness = await startHarness({ port, everySeconds: 1 });
    return harness;
  };
  const trigger = (...args: string[]) =>
    runCli(['trigger', '--local', '--port', String(port), '--json', ...args]);
  const triggerFires = (h: Harness) => h.fires().filter((fire) => fire.trigger !== undefined);
  const scheduledFires = (h: Harness) => h.fires().filter((fire) => fire.trigger === undefined);

  it('fires one extra event carrying trigger on a running 1 s poller; the loop’s seqs keep no gap, no duplicate', async () => {
    const h = await start();
    await h.waitForFires(3, 6_000);

    const run = await trigger('--id', 'op-1');

    expect(run).toMatchObject({ exitCode: 0, stderr: '' });
    const result = JSON.parse(run.stdout) as TriggerResult;
    expect(result).toMatchObject({
      outcome: 'fired',
      requestId: 'op-1',
      seq: -1,
      statusCode: 202,
      target: 'SubMinuteLambdaExecutor-local-worker',
      running: true,
    });
    const fired = await h.waitFor((event) => event.event === 'fire' && event.trigger === 'op-1', 3_000);
    expect(fired).toMatchObject({ seq: -1, scheduledAt: result.firedAt });
    // The worker kit records a trigger's outcome every time (no sampling), listed with its request id.
    await h.waitFor((event) => event.event === 'outcome' && event.trigger === 'op-1', 3_000);

    // The same request again (a retried script): nothing fires again, and it says the earlier one fired.
    const again = await trigger('--id', 'op-1');
    expect(again.exitCode).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'duplicate', earlierState: 'fired', seq: -1 });

    const lastSeq = scheduledFires(h).at(-1)?.seq ?? Number.NaN;
    await h.waitFor((event) => event.event === 'fire' && event.seq >= lastSeq + 3, 5_000);
    const seqs = scheduledFires(h).map((fire) => fire.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, index) => index + 1));
    expect(triggerFires(h).map((fire) => fire.trigger)).toEqual(['op-1']);

    const item = await h.readItem();
    expect(item?.[FIELD.triggers]).toEqual({ N: '1' });
    expect(item?.[FIELD.lastTrigger]?.M?.state).toEqual({ S: 'fired' });
    const recorded = item?.[FIELD.recentResults]?.L?.filter((entry) => entry.M?.trigger?.S === 'op-1');
    expect(recorded).toHaveLength(1);
    expect(recorded?.[0]?.M?.seq).toEqual({ N: '-1' });
    // The outcome of a trigger never takes lastResultSeq from the scheduled ticks.
    expect(Number(item?.[FIELD.lastResultSeq]?.N ?? '1')).toBeGreaterThan(0);

    const status = await runCli(['status', '--local', '--port', String(port)]);
    expect(status.stdout).toMatch(/^triggers +1, last op-1 fired /m);
    // history lists it by the time its work ended, not last by its negative seq: ahead of tick 1 (the sandbox's
    // first success, always recorded, before the trigger).
    const history = await runCli(['history', '--local', '--port', String(port), '--limit', '14']);
    const rows = history.stdout.split('\n');
    const triggerRow = rows.findIndex((row) => /^-1 \(trigger op-1\) /.test(row));
    const firstTickRow = rows.findIndex((row) => /^1 +20/.test(row));
    expect(triggerRow).toBeGreaterThan(0);
    expect(firstTickRow).toBeGreaterThan(triggerRow);
  });

  it('fires a stopped poller once; it stays stopped', async () => {
    const h = await start();
    await h.waitForFires(2, 6_000);
    const stop = await runCli(['stop', '--local', '--port', String(port)]);
    expect(stop.exitCode).toBe(0);
    await h.waitFor((event) => event.event === 'stopped', 6_000);
    const scheduledBefore = scheduledFires(h).length;

    const run = await trigger();

    expect(run).toMatchObject({ exitCode: 0, stderr: '' });
    const result = JSON.parse(run.stdout) as TriggerResult;
    expect(result).toMatchObject({ outcome: 'fired', running: false, seq: -1 });
    await h.waitFor((event) => event.event === 'fire' && event.trigger === result.requestId, 3_000);
    await h.waitFor((event) => event.event === 'outcome' && event.trigger === result.requestId, 3_000);
    // Three of its ticks later: no loop started, nothing scheduled fired.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(scheduledFires(h)).toHaveLength(scheduledBefore);
    expect(triggerFires(h)).toHaveLength(1);
    const item = await h.readItem();
    expect(item?.[FIELD.running]).toEqual({ BOOL: false });
    expect(item?.[FIELD.stoppedReason]).toBeDefined();
  });

  it('a request another run recorded and never confirmed (it died before its invoke) is not fired again: exit 1', async () => {
    const h = await start();
    await h.waitForFires(1, 6_000);
    const table = new ControlTable(h.stack.dynamoDb, h.stack.tableName);
    const item = await table.read(DEFAULT_POLLER_ID);
    if (item === undefined) throw new Error('no item');
    const request = { id: 'op-9', claim: 'a-run-that-died', at: new Date().toISOString(), target: 'x' };
    await claimTrigger(h.stack.dynamoDb, h.stack.tableName, DEFAULT_POLLER_ID, request, item);

    const run = await trigger('--id', 'op-9');

    expect(run.exitCode).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'duplicate', earlierState: 'claimed' });
    expect(triggerFires(h)).toEqual([]);
  });

  it('refuses a missing poller and an invalid target before any write', async () => {
    const h = await start();
    await h.waitForFires(1, 6_000);

    const missing = await trigger('ghost');
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/^ctl: no control item for poller 'ghost'/);
    expect(await h.readItem('ghost')).toBeUndefined();

    await h.setFields({ [FIELD.target]: { S: 'not a function name!' } });
    const invalid = await trigger();
    expect(invalid.exitCode).toBe(1);
    expect(invalid.stderr).toMatch(/^ctl: poller 'default' not triggered: .*target/);
    expect((await h.readItem())?.[FIELD.lastTrigger]).toBeUndefined();
  });

  it('a refused invoke (no such function) fires nothing: recorded as refused and in lastError, exit 1', async () => {
    const h = await start();
    await h.waitForFires(1, 6_000);
    await h.setFields({ [FIELD.target]: { S: 'no-such-function' } });

    const run = await trigger('--id', 'r-1');

    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/^ctl: poller 'default': trigger r-1 not fired: invoking no-such-function: /);
    const item = await h.readItem();
    expect(item?.[FIELD.lastTrigger]?.M?.state).toEqual({ S: 'refused' });
    expect(item?.[FIELD.lastError]?.M?.message?.S).toMatch(/^trigger r-1 not fired: /);
    expect(triggerFires(h)).toEqual([]);

    // Tried again with the same id once the target exists: it fires with the seq it was recorded with.
    await h.setFields({ [FIELD.target]: { S: 'SubMinuteLambdaExecutor-local-worker' } });
    const retried = await trigger('--id', 'r-1');
    expect(retried.exitCode).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({ outcome: 'fired', seq: -1 });
    await h.waitFor((event) => event.event === 'fire' && event.trigger === 'r-1', 3_000);
    expect(triggerFires(h).map((fire) => fire.seq)).toEqual([-1]);
  });
});
