import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD } from '../../../functions/shared/contract';
import type { PollerLine } from '../../../scripts/ctl/commands/list';
import { type LocalStack, startLocalStack } from '../../../scripts/local-stack/local-stack';
import { duplicateSeqs, executionsOf, shortestFireGapMs, sleep, waitUntil } from '../../support/fault-probes';
import { type Harness, scheduleGaps, startHarness, WAIT_PATIENCE } from '../../support/local-stack-harness';
import { ctl, readItem, setFields } from './ctl-harness';

const parseLines = (text: string | undefined): PollerLine[] => JSON.parse(text ?? '[]') as PollerLine[];

/** The fleet commands against a real local stack (dynalite and the local Step Functions API) that starts no loop. */
describe('ctl fleet commands on the local stack', () => {
  let stack: LocalStack;
  beforeEach(async () => {
    // The stack seeds the default poller with running=true and waitseconds=2, and starts no loop by itself.
    stack = await startLocalStack({ port: 0, startLoops: false, everySeconds: 2 });
  });
  afterEach(async () => {
    await stack.stop();
  });

  describe('list', () => {
    it('prints one line per poller in the order asked, and an array of objects with --json', async () => {
      await ctl(['create', 'orders', '--every', '0.5', '--stopped', '--local'], stack);
      await ctl(['create', 'billing', '--every', '10', '--stopped', '--local'], stack);
      // Both were just stopped: their loops are still alive (a fresh heartbeat) and end before their next tick.
      const live = { [FIELD.generation]: { N: '1' }, [FIELD.heartbeatAt]: { S: '2029-12-31T23:59:58.000Z' } };
      await setFields(stack, { ...live, [FIELD.nextTickAt]: { S: '2030-01-01T00:00:05.000Z' } }, 'orders');
      await setFields(stack, { ...live, [FIELD.nextTickAt]: { S: '2030-01-01T00:00:01.000Z' } }, 'billing');
      const nowMs = () => Date.parse('2030-01-01T00:00:00.000Z');

      const byId = await ctl(['list', '--local'], stack, nowMs);
      const byNext = await ctl(['list', '--sort', 'next', '--local', '--json'], stack, nowMs);

      expect(byId).toMatchObject({ exitCode: 0, stderr: [] });
      expect(byId.stdout[0]?.split('\n').map((line) => line.split(/\s+/).slice(0, 3))).toEqual([
        ['ID', 'STATE', 'CADENCE'],
        ['billing', 'stopping', '10'],
        ['default', 'stale', '2'],
        ['orders', 'stopping', '0.5'],
      ]);
      const lines = parseLines(byNext.stdout[0]);
      expect(lines.map((line) => [line.pollerId, line.nextTickInMs])).toEqual([
        ['billing', 1_000],
        ['orders', 5_000],
        [DEFAULT_POLLER_ID, null],
      ]);
      expect(lines[0]).toEqual({
        pollerId: 'billing',
        state: 'stopping',
        shard: null,
        stateReason: null,
        cadenceSeconds: 10,
        cadenceSource: 'base',
        nextTickAt: '2030-01-01T00:00:01.000Z',
        nextTickInMs: 1_000,
        lastTickAt: null,
        lastTickAgoMs: null,
        seq: null,
        ticksDerived: false,
        lateMs: null,
        skippedTicks: 0,
        failedFires: 0,
        overlapSkips: 0,
        failedTicks: 0,
        lastResult: null,
        lastError: null,
      });
    });

    it('says so when the table holds no poller', async () => {
      await ctl(['delete', DEFAULT_POLLER_ID, '--yes', '--local'], stack);

      const text = await ctl(['list', '--local'], stack);
      const json = await ctl(['list', '--local', '--json'], stack);

      expect(text.stdout).toEqual([`no pollers in table ${stack.tableName}`]);
      expect(json.stdout).toEqual(['[]']);
    });
  });

  describe('create', () => {
    it('writes the validated fields with running=false and starts nothing when --stopped', async () => {
      const run = await ctl(
        [
          'create',
          'orders',
          '--every',
          '2.5',
          '--target',
          'my-fn',
          '--payload',
          '{"url":"https://x"}',
          '--stopped',
          '--local',
        ],
        stack,
      );

      expect(run).toMatchObject({ exitCode: 0, stderr: [] });
      expect(run.stdout).toEqual([
        `poller 'orders': created in ${stack.tableName} (waitseconds=2.5, target=my-fn, payload={"url":"https://x"}) with running=false; start it with \`ctl start orders\``,
      ]);
      expect(await readItem(stack, 'orders')).toEqual({
        [FIELD.id]: { S: 'orders' },
        [FIELD.running]: { BOOL: false },
        [FIELD.waitSeconds]: { N: '2.5' },
        [FIELD.target]: { S: 'my-fn' },
        [FIELD.payload]: { M: { url: { S: 'https://x' } } },
      });
      expect(stack.stepFunctions.listExecutions()).toEqual([]);
    });

    it('refuses an existing id and writes nothing', async () => {
      await setFields(stack, { [FIELD.generation]: { N: '3' }, [FIELD.seq]: { N: '41' } });
      const before = await readItem(stack);

      const run = await ctl(['create', DEFAULT_POLLER_ID, '--every', '9', '--stopped', '--local'], stack);

      expect(run.exitCode).toBe(1);
      expect(run.stderr).toEqual([
        `ctl: poller 'default' already exists in table ${stack.tableName}; nothing was written (change it with \`ctl set default …\`, or \`ctl delete default --yes\` first)`,
      ]);
      expect(await readItem(stack)).toEqual(before);
      expect(stack.stepFunctions.listExecutions()).toEqual([]);
    });
  });

  describe('set', () => {
    it('changes and removes operator fields and leaves the system fields as they were', async () => {
      await setFields(stack, {
        [FIELD.target]: { S: 'old-fn' },
        [FIELD.payload]: { M: { a: { N: '1' } } },
        [FIELD.generation]: { N: '3' },
        [FIELD.seq]: { N: '41' },
      });
      const before = await readItem(stack);

      const run = await ctl(
        [
          'set',
          DEFAULT_POLLER_ID,
          '--every',
          '0.25',
          '--default-target',
          '--payload',
          '{"b":[true]}',
          '--local',
        ],
        stack,
      );

      expect(run).toMatchObject({ exitCode: 0, stderr: [] });
      expect(run.stdout).toEqual([
        `poller 'default': waitseconds=0.25, target removed (the default worker), payload={"b":[true]}; the loop uses it from its next tick`,
      ]);
      const { [FIELD.target]: _removed, ...kept } = before ?? {};
      expect(await readItem(stack)).toEqual({
        ...kept,
        [FIELD.waitSeconds]: { N: '0.25' },
        [FIELD.payload]: { M: { b: { L: [{ BOOL: true }] } } },
      });
    });

    it('refuses a missing id and creates nothing', async () => {
      const run = await ctl(['set', 'ghost', '--every', '5', '--local'], stack);

      expect(run.exitCode).toBe(1);
      expect(run.stderr).toEqual([
        `ctl: no control item for poller 'ghost' in table ${stack.tableName}; create it with \`ctl create ghost --every S\``,
      ]);
      expect(await readItem(stack, 'ghost')).toBeUndefined();
    });
  });

  describe('delete', () => {
    it('refuses a missing id with a clear error', async () => {
      const run = await ctl(['delete', 'ghost', '--yes', '--local'], stack);

      expect(run.exitCode).toBe(1);
      expect(run.stderr).toEqual([
        `ctl: no control item for poller 'ghost' in table ${stack.tableName}; nothing to stop (create it with \`ctl create ghost --every S\`)`,
      ]);
      expect(await readItem(stack, 'ghost')).toBeUndefined();
    });
  });

  describe('pause', () => {
    it('says before which tick each live loop ends, as stop does', async () => {
      const nowMs = Date.parse('2030-01-01T00:10:00.000Z');
      await setFields(stack, {
        [FIELD.generation]: { N: '2' },
        [FIELD.executionArn]: { S: 'arn:aws:states:us-east-1:000000000000:execution:local:default-g2' },
        [FIELD.seq]: { N: '9' },
        [FIELD.lastTickAt]: { S: '2030-01-01T00:09:59.500Z' },
        [FIELD.claimedSeq]: { N: '24' },
        [FIELD.nextTickAt]: { S: '2030-01-01T00:10:01.500Z' },
        [FIELD.heartbeatAt]: { S: '2030-01-01T00:09:58.000Z' },
      });

      const run = await ctl(['pause', DEFAULT_POLLER_ID, '--local'], stack, () => nowMs);

      expect(run.stdout[0]?.split('\n')).toEqual([
        'default  paused: running=false; the loop (arn:aws:states:us-east-1:000000000000:execution:local:default-g2) reads it before its next tick and ends without firing it: seq 10 due 2030-01-01T00:10:01.500Z (in 1.5 s)',
        'paused 1 of 1 poller',
      ]);
    });

    it('pauses the others when one poller fails, reports each, and exits 1', async () => {
      await ctl(['create', 'orders', '--every', '1', '--stopped', '--local'], stack);
      await setFields(stack, { [FIELD.running]: { BOOL: true } }, 'orders');

      const run = await ctl(['pause', 'orders', 'ghost', DEFAULT_POLLER_ID, '--local'], stack);

      expect(run.exitCode).toBe(1);
      expect(run.stdout[0]?.split('\n')).toEqual([
        'orders   paused: running=false',
        `ghost    failed: no control item for poller 'ghost' in table ${stack.tableName}; nothing to stop (create it with \`ctl create ghost --every S\`)`,
        'default  paused: running=false',
        'paused 2 of 3 pollers; 1 failed',
      ]);
      expect((await readItem(stack, 'orders'))?.[FIELD.running]).toEqual({ BOOL: false });
      expect((await readItem(stack))?.[FIELD.running]).toEqual({ BOOL: false });
      expect(await readItem(stack, 'ghost')).toBeUndefined();
    });
  });
});

/** The commands that start and stop loops, on a local stack whose table stream starts loops as on AWS. */
describe('ctl fleet commands with running loops', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  const runningExecutions = (pollerId: string) =>
    harness === undefined ? [] : executionsOf(harness.stack, pollerId, 'RUNNING');

  it('create starts one loop that fires once per tick while the stream starter reacts to the same item', async () => {
    harness = await startHarness({ everySeconds: 2 });
    await ctl(['stop', DEFAULT_POLLER_ID, '--local'], harness.stack);

    const run = await ctl(['create', 'orders', '--every', '1', '--local'], harness.stack);
    const fires = await harness.waitForFires(5, 8_000, 'orders');

    expect(run.exitCode).toBe(0);
    expect(run.stdout[0]).toMatch(
      /^poller 'orders': created in .* \(waitseconds=1\); (started|already running): arn:aws:states:.*:execution:.*:orders-g1-[0-9a-z]+$/,
    );
    expect(runningExecutions('orders')).toHaveLength(1);
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(shortestFireGapMs(fires)).toBeGreaterThanOrEqual(500);
  });

  it('create with window rules: the loop fires at the cadence of the window in force, not waitseconds', async () => {
    harness = await startHarness({ everySeconds: 2 });
    await ctl(['stop', DEFAULT_POLLER_ID, '--local'], harness.stack);

    const run = await ctl(
      [
        'create',
        'feed',
        '--every',
        '30',
        '--timezone',
        'Asia/Kolkata',
        '--window',
        'daily 00:00-24:00 every 1',
        '--local',
      ],
      harness.stack,
    );
    const fires = await harness.waitForFires(4, 8_000, 'feed');
    const listed = await ctl(['list', '--local', '--json'], harness.stack);

    expect(run.exitCode).toBe(0);
    expect(scheduleGaps(fires.slice(0, 4))).toEqual([1000, 1000, 1000]);
    expect(JSON.parse(listed.stdout[0] ?? '[]')).toContainEqual(
      expect.objectContaining({ pollerId: 'feed', cadenceSeconds: 1, cadenceSource: 'window' }),
    );
  });

  it('delete stops the loop, removes the item, and no tick fires after the next one', async () => {
    harness = await startHarness({ everySeconds: 1 });
    await harness.waitForFires(2, 6_000);

    const run = await ctl(['delete', DEFAULT_POLLER_ID, '--yes', '--local'], harness.stack);
    const deletedAtMs = Date.now();

    expect(run.exitCode).toBe(0);
    expect(run.stdout[0]).toMatch(
      /^poller 'default': running set to false and its control item deleted; its loop \(.*\) ends at its next tick without firing it$/,
    );
    expect(await harness.readItem()).toBeUndefined();
    // The loop reads running=false, or no item at all, before its next tick, and ends.
    const stopped = await harness.waitFor(
      (event) => event.event === 'stopped' && event.poller === DEFAULT_POLLER_ID,
      3_000,
    );
    expect(stopped).toMatchObject({
      reason: expect.stringMatching(/^(running is false|control item not found)$/),
    });
    await waitUntil(
      () => runningExecutions(DEFAULT_POLLER_ID).length === 0,
      3_000 * WAIT_PATIENCE,
      'the loop to end',
    );
    await sleep(1_500);
    const lateFires = harness.fires().filter((fire) => Date.parse(fire.scheduledAt) > deletedAtMs + 1_000);
    expect(lateFires).toEqual([]);
    expect(await harness.readItem()).toBeUndefined();
  });

  it('pause --all and resume --all switch three pollers off and on, one loop each', async () => {
    harness = await startHarness({ everySeconds: 2 });
    const stack = harness.stack;
    await ctl(['create', 'b', '--every', '2', '--local'], stack);
    await ctl(['create', 'c', '--every', '2', '--local'], stack);
    const pollers = [DEFAULT_POLLER_ID, 'b', 'c'];
    await waitUntil(
      () => pollers.every((id) => runningExecutions(id).length === 1),
      5_000 * WAIT_PATIENCE,
      'three loops',
    );

    const paused = await ctl(['pause', '--all', '--local'], stack);
    await waitUntil(
      () => pollers.every((id) => runningExecutions(id).length === 0),
      4_000 * WAIT_PATIENCE,
      'the loops to end',
    );
    const resumed = await ctl(['resume', '--all', '--local', '--json'], stack);

    expect(paused.exitCode).toBe(0);
    expect(paused.stdout[0]?.split('\n').at(-1)).toBe('paused 3 of 3 pollers');
    expect(
      paused.stdout[0]
        ?.split('\n')
        .slice(0, 3)
        .map((line) => line.split(/\s+/).slice(0, 2)),
    ).toEqual([
      ['b', 'paused:'],
      ['c', 'paused:'],
      [DEFAULT_POLLER_ID, 'paused:'],
    ]);
    expect(resumed.exitCode).toBe(0);
    expect(JSON.parse(resumed.stdout[0] ?? '')).toMatchObject({
      command: 'resume',
      succeeded: 3,
      failed: 0,
      pollers: [
        // Started by ctl, or by the stream starter reacting to running=true first: either way one loop.
        { pollerId: 'b', ok: true, outcome: expect.stringMatching(/^(started|already-running)$/) },
        { pollerId: 'c', ok: true, outcome: expect.stringMatching(/^(started|already-running)$/) },
        {
          pollerId: DEFAULT_POLLER_ID,
          ok: true,
          outcome: expect.stringMatching(/^(started|already-running)$/),
        },
      ],
    });
    // The stream starter reacts to running=true as well: still one loop per poller.
    await sleep(1_500);
    for (const id of pollers) {
      expect((await harness.readItem(id))?.[FIELD.running]).toEqual({ BOOL: true });
      expect(runningExecutions(id)).toHaveLength(1);
    }
  });
});
