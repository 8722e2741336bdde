import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD } from '../../../functions/shared/contract';
import type { LocalStack } from '../../../scripts/local-stack/local-stack';
import { startLocalStack } from '../../../scripts/local-stack/local-stack';
import { ctl, readItem, setFields } from './ctl-harness';

/** Every command against a real local stack: dynalite and the local Step Functions API, on free ports. */
describe('ctl against the local stack', () => {
  let stack: LocalStack;
  beforeEach(async () => {
    // The stack seeds the default poller with running=true and waitseconds=2, and starts no loop by itself.
    stack = await startLocalStack({ port: 0, startLoops: false, everySeconds: 2 });
  });
  afterEach(async () => {
    await stack.stop();
  });

  describe('set --every', () => {
    it('changes waitseconds and leaves every other field as it was', async () => {
      await setFields(stack, {
        [FIELD.payload]: { M: { url: { S: 'https://example.com/health' }, retries: { N: '3' } } },
        [FIELD.target]: { S: 'my-worker' },
      });
      const before = await readItem(stack);

      const run = await ctl(['set', '--every', '5', '--local'], stack);

      expect(run).toMatchObject({ exitCode: 0, stderr: [] });
      expect(run.stdout).toEqual(["poller 'default': waitseconds=5; the loop uses it from its next tick"]);
      expect(await readItem(stack)).toEqual({ ...before, [FIELD.waitSeconds]: { N: '5' } });
    });
  });

  describe('stop', () => {
    it('sets running=false and says the loop ends at its next tick', async () => {
      const run = await ctl(['stop', '--local'], stack);

      expect(run.exitCode).toBe(0);
      expect(run.stdout[0]).toMatch(/^poller 'default': running set to false; /);
      expect((await readItem(stack))?.[FIELD.running]).toEqual({ BOOL: false });
    });

    it('names the loop that will end when the item records one', async () => {
      const executionArn = stack.startLoop(DEFAULT_POLLER_ID);
      await setFields(stack, { [FIELD.executionArn]: { S: executionArn } });

      const run = await ctl(['stop', '--local'], stack);

      expect(run.stdout[0]).toContain(`the loop (${executionArn})`);
    });

    it('says before which tick a live loop ends, in the future, even when the item’s record has passed', async () => {
      const nowMs = Date.parse('2030-01-01T00:10:00.000Z');
      // A loop at 2 s whose last claim (seq 41-55, written 27 s ago) named a first tick that is now 26 s past.
      await setFields(stack, {
        [FIELD.seq]: { N: '40' },
        [FIELD.claimedSeq]: { N: '55' },
        [FIELD.generation]: { N: '3' },
        [FIELD.nextTickAt]: { S: '2030-01-01T00:09:34.000Z' },
        [FIELD.heartbeatAt]: { S: '2030-01-01T00:09:33.000Z' },
      });

      const run = await ctl(['stop', '--local'], stack, () => nowMs);

      expect(run.stdout).toEqual([
        "poller 'default': running set to false; the loop reads it before its next tick and ends without firing it: seq about 55 due about 2030-01-01T00:10:02.000Z (in 2 s)",
      ]);
    });

    it('says a loop held by a pause window ends at its next check-in, not at the pause’s end', async () => {
      const nowMs = Date.parse('2030-01-01T00:10:00.000Z'); // a Tuesday
      await setFields(stack, {
        [FIELD.windows]: { L: [{ S: 'Tue 00:00-06:00 pause' }] },
        [FIELD.generation]: { N: '3' },
        [FIELD.seq]: { N: '40' },
        [FIELD.nextTickAt]: { S: '2030-01-01T06:00:00.000Z' },
        [FIELD.heartbeatAt]: { S: '2030-01-01T00:09:30.000Z' },
      });

      const run = await ctl(['stop', '--local'], stack, () => nowMs);

      expect(run.stdout).toEqual([
        "poller 'default': running set to false; the loop is held by a pause window and ends at its next check-in, within a minute",
      ]);
    });

    it('says there is no live loop to end when the item records a stop', async () => {
      await setFields(stack, {
        [FIELD.generation]: { N: '3' },
        [FIELD.stoppedReason]: { S: 'running is false' },
      });

      const run = await ctl(['stop', '--local'], stack);

      expect(run.stdout).toEqual([
        "poller 'default': running set to false; no live loop to end (the loop stopped: running is false)",
      ]);
    });

    it('refuses a missing item with a clear error and creates nothing', async () => {
      const run = await ctl(['stop', '--poller', 'ghost', '--local'], stack);

      expect(run.exitCode).toBe(1);
      expect(run.stderr).toEqual([
        `ctl: no control item for poller 'ghost' in table ${stack.tableName}; nothing to stop (create it with \`ctl create ghost --every S\`)`,
      ]);
      expect(await readItem(stack, 'ghost')).toBeUndefined();
    });
  });

  describe('start', () => {
    it('starts exactly one execution while the stream starter reacts to the same change', async () => {
      // A stack whose change feed starts loops the way the deployed stream does.
      const withStarter = await startLocalStack({ port: 0, everySeconds: 2 });
      try {
        await setFields(withStarter, { [FIELD.running]: { BOOL: false } });
        const stopped = Date.now();
        while (
          withStarter.stepFunctions.listExecutions('RUNNING').length > 0 &&
          Date.now() - stopped < 5_000
        ) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const before = withStarter.stepFunctions.listExecutions().length;

        const run = await ctl(['start', '--local'], withStarter);
        // The change feed scans every 250 ms: give the starter time to react as well.
        await new Promise((resolve) => setTimeout(resolve, 1_500));

        expect(run.exitCode).toBe(0);
        expect(withStarter.stepFunctions.listExecutions()).toHaveLength(before + 1);
        expect(withStarter.stepFunctions.listExecutions('RUNNING')).toHaveLength(1);
      } finally {
        await withStarter.stop();
      }
    });

    it('starts exactly one execution with the poller id in its input and prints its ARN', async () => {
      await setFields(stack, { [FIELD.running]: { BOOL: false } });

      const run = await ctl(['start', '--local'], stack);

      const running = stack.stepFunctions.listExecutions('RUNNING');
      expect(running).toHaveLength(1);
      expect(JSON.parse(running[0]?.input ?? '{}')).toMatchObject({ pollerId: DEFAULT_POLLER_ID });
      expect(run).toMatchObject({
        exitCode: 0,
        stdout: [`started: ${running[0]?.executionArn}`],
        stderr: [],
      });
      expect((await readItem(stack))?.[FIELD.running]).toEqual({ BOOL: true });
    });

    it('says already running and starts nothing when the loop runs', async () => {
      const first = await ctl(['start', '--local'], stack);
      const [execution] = stack.stepFunctions.listExecutions('RUNNING');

      const second = await ctl(['start', '--local'], stack);

      expect(first.exitCode).toBe(0);
      expect(second).toMatchObject({
        exitCode: 0,
        stdout: [`already running: ${execution?.executionArn}`],
        stderr: [],
      });
      expect(stack.stepFunctions.listExecutions()).toHaveLength(1);
    });

    it('says already running when a console-started loop owns the poller, and starts nothing', async () => {
      const executionArn = stack.startLoop(DEFAULT_POLLER_ID);
      // The console start's first round takes the poller: the item then names its execution, with a heartbeat.
      const startedAt = Date.now();
      while (
        (await readItem(stack))?.[FIELD.executionArn]?.S !== executionArn &&
        Date.now() - startedAt < 5_000
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }

      const run = await ctl(['start', '--local'], stack);

      expect(run.stdout).toEqual([`already running: ${executionArn}`]);
      expect(stack.stepFunctions.listExecutions()).toHaveLength(1);
    });

    it('refuses a missing item without --every and starts nothing', async () => {
      const run = await ctl(['start', '--poller', 'ghost', '--local'], stack);

      expect(run.exitCode).toBe(1);
      expect(run.stderr).toEqual([
        `ctl: no control item for poller 'ghost' in table ${stack.tableName}; create it with \`ctl create ghost --every S\` (or \`ctl start ghost --every S\`)`,
      ]);
      expect(stack.stepFunctions.listExecutions()).toEqual([]);
    });

    it('creates a missing item from --every and starts its loop', async () => {
      const run = await ctl(['start', '--every', '3', '--poller', 'orders', '--local'], stack);

      expect(run.exitCode).toBe(0);
      expect(run.stdout[0]).toMatch(
        /^poller 'orders': created its control item; started: arn:aws:states:.*:execution:.*:orders-g1-[0-9a-z]+$/,
      );
      expect(await readItem(stack, 'orders')).toMatchObject({
        [FIELD.running]: { BOOL: true },
        [FIELD.waitSeconds]: { N: '3' },
      });
      expect(stack.stepFunctions.listExecutions('RUNNING')).toHaveLength(1);
    });
  });

  describe('status --all', () => {
    it('prints every poller in id order, each with its generation, heartbeat and restarts', async () => {
      await ctl(['create', 'orders', '--every', '0.5', '--stopped', '--local'], stack);
      await setFields(stack, { [FIELD.generation]: { N: '3' }, [FIELD.restarts]: { N: '1' } });

      const run = await ctl(['status', '--all', '--local', '--json'], stack);

      expect(run.exitCode).toBe(0);
      const report = JSON.parse(run.stdout[0] ?? '') as {
        pollers: { pollerId: string; generation: number | null; restarts: number }[];
      };
      expect(report.pollers.map((poller) => [poller.pollerId, poller.generation, poller.restarts])).toEqual([
        [DEFAULT_POLLER_ID, 3, 1],
        ['orders', null, 0],
      ]);
    });
  });

  describe('status', () => {
    const nowMs = Date.parse('2030-01-01T00:10:00.000Z');

    it('prints every field, the default worker and how long ago the last error was', async () => {
      await setFields(stack, {
        [FIELD.seq]: { N: '42' },
        [FIELD.lastTickAt]: { S: '2030-01-01T00:09:58.000Z' },
        [FIELD.nextTickAt]: { S: '2030-01-01T00:10:00.000Z' },
        [FIELD.skippedTicks]: { N: '3' },
        [FIELD.failedFires]: { N: '1' },
        [FIELD.overlap]: { S: 'skip' },
        [FIELD.overlapSkips]: { N: '5' },
        [FIELD.lastFinishedSeq]: { N: '41' },
        [FIELD.lastFireMs]: { N: '1520' },
        [FIELD.failedTicks]: { N: '2' },
        [FIELD.lastResult]: { S: 'failed' },
        [FIELD.lastResultSeq]: { N: '41' },
        [FIELD.lastResultAt]: { S: '2030-01-01T00:09:57.000Z' },
        [FIELD.lastResultMs]: { N: '12' },
        [FIELD.lastResultDetail]: { S: 'HTTP 404' },
        [FIELD.generation]: { N: '4' },
        [FIELD.claimedSeq]: { N: '60' },
        [FIELD.heartbeatAt]: { S: '2030-01-01T00:09:45.000Z' },
        [FIELD.restarts]: { N: '2' },
        [FIELD.lastRestartAt]: { S: '2030-01-01T00:01:00.000Z' },
        [FIELD.lastRestartReason]: { S: 'watchdog: heartbeat 95 s old (threshold 90 s)' },
        [FIELD.stoppedReason]: { S: 'running is false' },
        [FIELD.lastError]: {
          M: { message: { S: 'firing tick 40 failed' }, at: { S: '2030-01-01T00:05:00.000Z' } },
        },
      });

      const run = await ctl(['status', '--local'], stack, () => nowMs);

      expect(run).toMatchObject({ exitCode: 0, stderr: [] });
      expect(run.stdout[0]?.split('\n')).toEqual([
        `poller         default (table ${stack.tableName})`,
        'running        true',
        'waitseconds    2',
        'target         default worker',
        'timezone       UTC',
        'windows        none',
        'cadence now    2 s (base)',
        'seq            42',
        'lastTickAt     2030-01-01T00:09:58.000Z (2 s ago)',
        'nextTickAt     none: no live loop (the loop stopped: running is false)',
        'skippedTicks   3',
        'failedFires    1',
        'failedTicks    2 (reported by the worker)',
        'lastResult     failed: HTTP 404 (seq 41, 12 ms, 3 s ago); successes are sampled, failures always recorded',
        'triggers       0',
        'overlap        skip',
        'overlapSkips   5 (last finished: seq 41 in 1520 ms)',
        'generation     4 (claimed through seq 60)',
        'heartbeat      15 s ago (2030-01-01T00:09:45.000Z)',
        'restarts       2, last 2030-01-01T00:01:00.000Z (9 min ago): watchdog: heartbeat 95 s old (threshold 90 s)',
        'executionArn   -',
        'stoppedReason  running is false',
        'lastError      firing tick 40 failed (5 min ago)',
      ]);
    });

    it('shows a loop 12 ticks in as it runs, though its item was last written with its first claim', async () => {
      // Started 24 s ago at 2 s: one claim (seq 1-15) named its first tick, due 23 s ago; no seq recorded yet.
      await setFields(stack, {
        [FIELD.generation]: { N: '1' },
        [FIELD.claimedSeq]: { N: '15' },
        [FIELD.nextTickAt]: { S: '2030-01-01T00:09:37.000Z' },
        [FIELD.heartbeatAt]: { S: '2030-01-01T00:09:36.000Z' },
      });

      const run = await ctl(['status', '--local'], stack, () => nowMs + 500);

      const rows = run.stdout[0]?.split('\n') ?? [];
      expect(rows.filter((row) => /^(seq|lastTickAt|nextTickAt) /.test(row))).toEqual([
        'seq            about 12 (the item says seq - as of its last write, 25 s ago: it is written per claim (~30 s) and hand-back, not per tick)',
        'lastTickAt     about 2030-01-01T00:09:59.000Z (1.5 s ago)',
        'nextTickAt     about 2030-01-01T00:10:01.000Z (in 0.5 s), seq about 13',
      ]);
    });

    it('prints the execution ARN with the status DescribeExecution gives', async () => {
      const executionArn = stack.startLoop(DEFAULT_POLLER_ID);
      await setFields(stack, {
        [FIELD.executionArn]: { S: executionArn },
        [FIELD.target]: { S: 'my-worker' },
      });

      const run = await ctl(['status', '--local'], stack);

      expect(run.stdout[0]).toContain(`executionArn   ${executionArn} (RUNNING)`);
      expect(run.stdout[0]).toContain('target         my-worker');
    });

    it('counts no ticks for a loop whose execution was aborted, however fresh its heartbeat', async () => {
      const executionArn = stack.startLoop(DEFAULT_POLLER_ID);
      stack.stepFunctions.stopExecution(executionArn);
      // Its last claim (seq 41-55) named a tick 1 s ago; the heartbeat is fresh: only the execution says it ended.
      await setFields(stack, {
        [FIELD.generation]: { N: '4' },
        [FIELD.executionArn]: { S: executionArn },
        [FIELD.seq]: { N: '40' },
        [FIELD.lastTickAt]: { S: '2030-01-01T00:09:57.000Z' },
        [FIELD.claimedSeq]: { N: '55' },
        [FIELD.nextTickAt]: { S: '2030-01-01T00:09:59.000Z' },
        [FIELD.heartbeatAt]: { S: '2030-01-01T00:09:58.000Z' },
      });

      const run = await ctl(['status', '--local'], stack, () => nowMs);

      const rows = run.stdout[0]?.split('\n') ?? [];
      expect(rows.filter((row) => /^(seq|lastTickAt|nextTickAt|executionArn) /.test(row))).toEqual([
        'seq            40',
        'lastTickAt     2030-01-01T00:09:57.000Z (3 s ago)',
        `nextTickAt     none: no live loop (its execution ${executionArn} has ended)`,
        `executionArn   ${executionArn} (ABORTED)`,
      ]);
    });

    it('says before which tick a stopped Wait-state loop ends, as `stop` does (it may fire one within 2 s)', async () => {
      // 60 s is above the break-even: the loop read the item on waking, up to 2 s before its tick (seq 11, due in
      // 1.5 s), and fires it without reading again.
      await setFields(stack, {
        [FIELD.running]: { BOOL: false },
        [FIELD.waitSeconds]: { N: '60' },
        [FIELD.generation]: { N: '3' },
        [FIELD.seq]: { N: '10' },
        [FIELD.claimedSeq]: { N: '10' },
        [FIELD.lastTickAt]: { S: '2030-01-01T00:09:01.500Z' },
        [FIELD.nextTickAt]: { S: '2030-01-01T00:10:01.500Z' },
        [FIELD.heartbeatAt]: { S: '2030-01-01T00:09:02.000Z' },
      });

      const status = await ctl(['status', '--local'], stack, () => nowMs);
      const stop = await ctl(['stop', '--local'], stack, () => nowMs);

      const tick = 'seq about 12 due about 2030-01-01T00:11:01.500Z (in 62 s)';
      expect(status.stdout[0]).toContain(
        `nextTickAt     none: running=false; the loop ends before its tick ${tick}`,
      );
      expect(stop.stdout[0]).toContain(`ends without firing it: ${tick}`);
    });

    it('prints unknown when DescribeExecution fails', async () => {
      const gone = `${stack.stateMachineArn.replace(':stateMachine:', ':execution:')}:gone`;
      await setFields(stack, { [FIELD.executionArn]: { S: gone } });

      const run = await ctl(['status', '--local'], stack);

      expect(run.exitCode).toBe(0);
      expect(run.stdout[0]).toContain(`executionArn   ${gone} (unknown: ExecutionDoesNotExist: `);
    });

    it('shows the time zone, the window rules in order and the cadence in force', async () => {
      // 00:10 UTC on a Tuesday is 05:40 in Kolkata: the first rule is in force, not the pause after it.
      await setFields(stack, {
        [FIELD.timezone]: { S: 'Asia/Kolkata' },
        [FIELD.windows]: { L: [{ S: 'Tue 05:00-06:00 every 0.5' }, { S: 'daily 00:00-24:00 pause' }] },
      });

      const run = await ctl(['status', '--local'], stack, () => nowMs);

      expect(run.stdout[0]).toContain('timezone       Asia/Kolkata');
      expect(run.stdout[0]).toContain(
        'windows        1. Tue 05:00-06:00 every 0.5; 2. daily 00:00-24:00 pause',
      );
      expect(run.stdout[0]).toContain('cadence now    0.5 s (window)');
    });

    it('shows an invalid field in the controller’s words', async () => {
      await setFields(stack, { [FIELD.waitSeconds]: { S: 'abc' } });

      const run = await ctl(['status', '--local'], stack);

      expect(run.stdout[0]).toContain('waitseconds    invalid (see problem below)');
      expect(run.stdout[0]).toContain(
        `problem        poller 'default': waitseconds must be a number (N) of seconds from 0.1 to 3600, decimals allowed; got S "abc"`,
      );
    });

    it('prints one JSON object with --json', async () => {
      await setFields(stack, {
        [FIELD.lastError]: { M: { message: { S: 'boom' }, at: { S: '2030-01-01T00:09:00.000Z' } } },
      });

      const run = await ctl(['status', '--local', '--json'], stack, () => nowMs);

      expect(run.stdout).toHaveLength(1);
      expect(JSON.parse(run.stdout[0] ?? '')).toEqual({
        command: 'status',
        pollerId: DEFAULT_POLLER_ID,
        table: stack.tableName,
        running: true,
        waitSeconds: 2,
        target: null,
        timeZone: 'UTC',
        windows: [],
        cadenceNow: { seconds: 2, source: 'base' },
        seq: null,
        shard: null,
        lastTickAt: null,
        nextTickAt: null,
        progress: { last: null, next: null, alive: false },
        endsBefore: null,
        notAliveBecause: 'no loop was ever started',
        skippedTicks: 0,
        failedFires: 0,
        overlap: 'allow',
        overlapSkips: 0,
        lastFinishedSeq: null,
        lastFireMs: null,
        failedTicks: 0,
        lastResult: null,
        triggers: 0,
        lastTrigger: null,
        generation: null,
        claimedSeq: null,
        heartbeatAt: null,
        heartbeatAgeSeconds: null,
        restarts: 0,
        lastRestartAt: null,
        lastRestartReason: null,
        executionArn: null,
        executionStatus: null,
        stoppedReason: null,
        lastError: { message: 'boom', at: '2030-01-01T00:09:00.000Z', ageSeconds: 60 },
        problems: [],
        reportedAtMs: nowMs,
      });
    });

    it('exits 1 with the clear error when the item is missing', async () => {
      const run = await ctl(['status', '--poller', 'ghost', '--local'], stack);

      expect(run).toMatchObject({
        exitCode: 1,
        stdout: [],
        stderr: [
          `ctl: no control item for poller 'ghost' in table ${stack.tableName}; create it with \`ctl create ghost --every S\``,
        ],
      });
    });

    it('exits 1 with one line naming the refused connection when the stack is gone', async () => {
      await stack.stop();

      const run = await ctl(['status', '--local'], stack);

      expect(run.exitCode).toBe(1);
      expect(run.stderr).toHaveLength(1);
      expect(run.stderr[0]).toMatch(
        /^ctl: reading poller 'default' from table .* failed: .*ECONNREFUSED.* \(is `npm start` running\?/,
      );
      expect(run.stderr[0]).not.toContain('\n');
    });
  });
});
