import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD } from '../../../functions/shared/contract';
import { ControlTable } from '../../../functions/shared/control-table';
import { silentLogger } from '../../../functions/shared/logger';
import { METRIC_NAMESPACE } from '../../../functions/shared/metrics';
import { runWatchdog, type WatchdogDeps } from '../../../functions/watchdog/run-watchdog';
import { starterDepsFor } from '../../support/fault-probes';
import { type Harness, startHarness } from '../../support/local-stack-harness';

/**
 * The watchdog's sweep on the local stack (dynalite, the local Step Functions, the real SDK clients): one EMF line
 * a sweep with what it saw and what it did, per table.
 */
describe('runWatchdog: EMF metrics', () => {
  let harness: Harness;
  let deps: WatchdogDeps;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    harness = await startHarness({ everySeconds: 1, startLoops: false, sandbox: 'in-process' });
    deps = {
      ...starterDepsFor(harness.stack),
      log: silentLogger,
      metrics: {
        sink: (line) => lines.push(JSON.parse(line)),
        table: harness.stack.tableName,
        perPoller: false,
      },
    };
    const nowIso = (agoMs: number) => new Date(Date.now() - agoMs).toISOString();
    // Off: not counted at all.
    await harness.setFields({ [FIELD.running]: { BOOL: false } }, DEFAULT_POLLER_ID);
    // A live loop: a heartbeat just now.
    await harness.setFields(
      {
        [FIELD.running]: { BOOL: true },
        [FIELD.waitSeconds]: { N: '60' },
        [FIELD.generation]: { N: '2' },
        [FIELD.heartbeatAt]: { S: nowIso(0) },
      },
      'live',
    );
    // A loop that died 5 minutes ago: stale, and the sweep restarts it.
    await harness.setFields(
      {
        [FIELD.running]: { BOOL: true },
        [FIELD.waitSeconds]: { N: '60' },
        [FIELD.generation]: { N: '3' },
        [FIELD.heartbeatAt]: { S: nowIso(300_000) },
      },
      'dead',
    );
    // A live loop that fires nothing (every tick skipped): its heartbeat is fresh, its last tick 10 minutes old.
    await harness.setFields(
      {
        [FIELD.running]: { BOOL: true },
        [FIELD.waitSeconds]: { N: '1' },
        [FIELD.generation]: { N: '4' },
        [FIELD.heartbeatAt]: { S: nowIso(0) },
        [FIELD.lastTickAt]: { S: nowIso(600_000) },
        [FIELD.nextTickAt]: { S: nowIso(1_000) },
      },
      'skipping',
    );
    // Running, but a cadence no loop can run: stale, and not restarted.
    await harness.setFields({ [FIELD.running]: { BOOL: true }, [FIELD.waitSeconds]: { S: 'abc' } }, 'broken');
  }, 60_000);

  afterAll(async () => {
    await harness?.stack.stop();
  });

  it('counts active and stale running pollers (live loops that fire nothing too) and its restarts, one line per table, zeros included', async () => {
    // act: a sweep, then the next one
    const first = await runWatchdog(deps, Date.now());
    const second = await runWatchdog(deps, Date.now());

    // assess
    expect(first).toMatchObject({ active: 2, stale: 2, notTicking: ['skipping'] });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [['ControlTable']] }] },
      ControlTable: harness.stack.tableName,
      ActivePollers: 2,
      StalePollers: 3,
      WatchdogRestarts: 1,
    });
    // The restarted loop's take wrote a fresh heartbeat: it counts as active; the broken one stays stale.
    expect(second).toMatchObject({ active: 3, stale: 1, notTicking: ['skipping'], restarted: [] });
    expect(lines[1]).toMatchObject({ ActivePollers: 3, StalePollers: 2, WatchdogRestarts: 0 });
    expect(lines[1]).not.toHaveProperty('PollerId');
  });

  it('finishes its sweep when the sink throws: the line is dropped, the report stands', async () => {
    // prepare
    const throwing: WatchdogDeps = {
      ...deps,
      metrics: {
        sink: () => {
          throw new Error('stdout closed');
        },
        table: harness.stack.tableName,
        perPoller: false,
      },
    };

    // act
    const report = await runWatchdog(throwing, Date.now());

    // assess
    expect(report).toMatchObject({ stale: 1, restarted: [] });
  });

  it('writes no line when its scan fails (the alarm reads the missing minute as a watchdog that did not look)', async () => {
    // prepare: a table that does not exist
    const before = lines.length;
    const missingTable = new ControlTable(harness.stack.dynamoDb, 'no-such-table');

    // act
    const sweep = runWatchdog({ ...deps, table: missingTable }, Date.now());

    // assess
    await expect(sweep).rejects.toThrow();
    expect(lines).toHaveLength(before);
  });
});
