import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { DEMO_FEEDS } from '../../../scripts/local-stack/demo-feeds';
import {
  type LocalStackEvent,
  LocalStackOptionsError,
  startLocalStack,
} from '../../../scripts/local-stack/local-stack';
import { readPollerFile } from '../../../scripts/local-stack/poller-file';
import { duplicateSeqs, executionsOf, shortestFireGapMs, waitUntil } from '../../support/fault-probes';
import { type Harness, scheduleGaps, startHarness } from '../../support/local-stack-harness';
import { freePortPair, LocalStackProcess } from '../../support/local-stack-process';

type SeededEvent = Extract<LocalStackEvent, { event: 'seeded' }>;
const isSeeded = (event: LocalStackEvent): event is SeededEvent => event.event === 'seeded';

/** `npm start -- --pollers FILE` and `--demo`: a declared fleet is seeded, and each running poller gets one loop. */
describe('a fleet seeded from a file', () => {
  let harness: Harness | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('fires each running poller at its own cadence, one loop each; a stopped one is created and never fires', async () => {
    // prepare: a file of three running pollers at 1, 2 and 3 s, and one stopped
    dir = await mkdtemp(join(tmpdir(), 'fleet-'));
    const file = join(dir, 'fleet.yaml');
    await writeFile(
      file,
      [
        '- { id: fast, every: 1 }',
        '- { id: medium, every: 2, payload: { feed: medium } }',
        '- { id: slow, every: 3 }',
        '- { id: parked, every: 1, running: false }',
      ].join('\n'),
    );

    // act
    harness = await startHarness({ fleet: { source: file, pollers: await readPollerFile(file) } });
    await harness.waitForFires(4, 12_000, 'slow');

    // assess: what was seeded, from where, and which loops the stack started
    expect(harness.events.find(isSeeded)).toEqual({
      event: 'seeded',
      source: file,
      pollers: [
        { id: 'fast', every: 1, running: true, outcome: 'created' },
        { id: 'medium', every: 2, running: true, outcome: 'created' },
        { id: 'slow', every: 3, running: true, outcome: 'created' },
        { id: 'parked', every: 1, running: false, outcome: 'created' },
      ],
    });
    expect(harness.events.findIndex(isSeeded)).toBeLessThan(
      harness.events.findIndex((e) => e.event === 'ready'),
    );
    expect(harness.events.find((event) => event.event === 'ready')).toMatchObject({
      pollers: ['fast', 'medium', 'slow'],
    });
    for (const [id, intervalMs] of [
      ['fast', 1_000],
      ['medium', 2_000],
      ['slow', 3_000],
    ] as const) {
      const fires = harness.fires(id);
      expect(fires.length, id).toBeGreaterThanOrEqual(3);
      expect(new Set(scheduleGaps(fires)), id).toEqual(new Set([intervalMs]));
      expect(duplicateSeqs(fires), id).toEqual([]);
      expect(shortestFireGapMs(fires), id).toBeGreaterThanOrEqual(intervalMs / 2);
      expect(executionsOf(harness.stack, id).length, id).toBe(1);
    }
    expect(harness.fires('parked')).toEqual([]);
    expect(executionsOf(harness.stack, 'parked')).toEqual([]);
    expect((await harness.readItem('parked'))?.[FIELD.running]).toEqual({ BOOL: false });
    expect((await harness.readItem('medium'))?.[FIELD.payload]).toEqual({ M: { feed: { S: 'medium' } } });
  });

  it('with --data, makes a listed poller say what the file says and continues its loop above its last seq', async () => {
    // prepare: a persisted table where `a` ran at 1 s with a payload
    dir = await mkdtemp(join(tmpdir(), 'fleet-data-'));
    harness = await startHarness({
      dataDir: dir,
      fleet: {
        source: 'first.yaml',
        pollers: [{ id: 'a', fields: { running: true, waitSeconds: 1, payload: { v: 1 } } }],
      },
    });
    const before = await harness.waitForFires(2, 5_000, 'a');
    await harness.stack.stop();
    const lastSeq = Math.max(
      ...harness.fires('a').map((fire) => fire.seq),
      ...before.map((fire) => fire.seq),
    );

    // act: the file now says 2 s and no payload, and lists a new poller
    harness = await startHarness({
      dataDir: dir,
      fleet: {
        source: 'second.yaml',
        pollers: [
          { id: 'a', fields: { running: true, waitSeconds: 2 } },
          { id: 'b', fields: { running: false, waitSeconds: 5 } },
        ],
      },
    });
    const after = await harness.waitForFires(2, 6_000, 'a');

    // assess
    expect(harness.events.find(isSeeded)?.pollers).toEqual([
      { id: 'a', every: 2, running: true, outcome: 'updated' },
      { id: 'b', every: 5, running: false, outcome: 'created' },
    ]);
    const item = await harness.readItem('a');
    expect(item?.[FIELD.waitSeconds]).toEqual({ N: '2' });
    expect(item?.[FIELD.payload]).toBeUndefined();
    expect(after[0]?.seq).toBeGreaterThan(lastSeq);
    expect(scheduleGaps(after)).toEqual([2_000]);
    expect(executionsOf(harness.stack, 'a', 'RUNNING').length).toBe(1);
  });
});

describe('a fleet and the default poller', () => {
  it('are not asked for together: the stack refuses before anything starts', async () => {
    const fleet = { source: 'fleet.yaml', pollers: [{ id: 'a', fields: { running: true, waitSeconds: 1 } }] };
    await expect(startLocalStack({ port: 0, startLoops: false, fleet, everySeconds: 2 })).rejects.toThrow(
      LocalStackOptionsError,
    );
    await expect(startLocalStack({ port: 0, startLoops: false, fleet, pollerId: 'b' })).rejects.toThrow(
      'a declared fleet (fleet.yaml) seeds its own pollers; everySeconds and pollerId are for the default poller',
    );
  });
});

describe('npm start with a fleet', () => {
  let child: LocalStackProcess | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await child?.kill();
    child = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('--demo: the three pollers fetch their feeds from the local demo server, which answers each', async () => {
    // act
    child = new LocalStackProcess(['--demo', '--port', String(await freePortPair())]);
    const served = (path: string) =>
      (child?.events ?? []).filter(
        (event) => event.event === 'feed' && event.path === path && event.status === 200,
      );
    await waitUntil(
      () => DEMO_FEEDS.every((feed) => served(feed.path).length >= 1) || !child?.running,
      30_000,
      'a request to each demo feed',
    );
    await child.kill('SIGINT');
    const exit = await child.exited;

    // assess: seeded from the demo, every poller fired, and each feed was fetched by the worker's payload.url
    expect(exit, child.stderr.join('\n')).toEqual({ code: 0, signal: null });
    const seeded = child.events.find(isSeeded);
    expect(seeded?.source).toBe('demo');
    expect(seeded?.pollers.map(({ id, every }) => [id, every])).toEqual(
      DEMO_FEEDS.map((feed) => [feed.pollerId, feed.everySeconds]),
    );
    for (const feed of DEMO_FEEDS) {
      expect(served(feed.path).length, feed.path).toBeGreaterThanOrEqual(1);
      expect(
        child.fires().filter((fire) => fire.poller === feed.pollerId).length,
        feed.pollerId,
      ).toBeGreaterThanOrEqual(1);
    }
    // The fastest feed was fetched as often as its poller fired, give or take the fetches under way at the stop.
    const vehicles = DEMO_FEEDS.find((feed) => feed.path === '/vehicles');
    const vehicleFires = child.fires().filter((fire) => fire.poller === vehicles?.pollerId).length;
    expect(served('/vehicles').length).toBeGreaterThanOrEqual(vehicleFires - 1);
  });

  it.each([
    [
      'a bad file',
      (file: string) => ['--pollers', file],
      'poller \'bus\': unknown field "evrey" (did you mean "every"?)',
    ],
    [
      'a file that does not exist',
      (file: string) => ['--pollers', `${file}.missing`],
      'cannot read the file (ENOENT)',
    ],
    ['--pollers with --every', (file: string) => ['--pollers', file, '--every', '2'], 'give one of --every'],
  ])('refuses %s: exit code 2, one line, nothing started or written', async (_name, args, message) => {
    // prepare
    dir = await mkdtemp(join(tmpdir(), 'fleet-bad-'));
    const file = join(dir, 'fleet.yaml');
    await writeFile(file, '- id: bus\n  evrey: 2\n');
    const dataDir = join(dir, 'data');

    // act
    child = new LocalStackProcess([...args(file), '--data', dataDir, '--port', String(await freePortPair())]);
    const exit = await child.exited;

    // assess
    expect(exit).toEqual({ code: 2, signal: null });
    expect(child.stderr.join('\n')).toContain(message);
    expect(child.events).toEqual([]);
    expect(existsSync(dataDir)).toBe(false);
  });
});
