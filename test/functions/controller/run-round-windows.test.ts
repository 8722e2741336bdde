import { describe, expect, it } from 'vitest';
import { runRound } from '../../../functions/controller/run-round';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import { FIELD } from '../../../functions/shared/contract';
import { silentLogger } from '../../../functions/shared/logger';
import { STALE_FLOOR_MS } from '../../../functions/shared/loop-ownership';
import { InMemoryControlStore } from '../../support/in-memory-control-store';
import { InMemoryWorkerInvoker } from '../../support/in-memory-worker-invoker';
import { simulatedClock } from '../../support/simulated-clock';

/** HH:MM:SS of an instant on the zone's clock. */
function localTime(zone: string, instantMs: number): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(instantMs);
}

describe('runRound in a pause window', () => {
  it('fires nothing, checks in within a minute and writes its heartbeat and the pause end at each check-in', async () => {
    // prepare: a pause from 10 s ago to 5 min from now, on a whole second, in a zone where it does not cross midnight
    const clock = simulatedClock({ startMs: Math.ceil(Date.now() / 1000) * 1000 });
    const store = new InMemoryControlStore('pollers');
    const invoker = new InMemoryWorkerInvoker(clock, () => undefined);
    const deps = { table: store, invoker, defaultTarget: 'worker', clock, log: silentLogger };
    const startMs = clock.peek();
    const endMs = startMs + 300_000;
    const zone = localTime('Asia/Kolkata', startMs) < '23:50:00' ? 'Asia/Kolkata' : 'UTC';
    store.put('night', {
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '2' },
      [FIELD.timezone]: { S: zone },
      [FIELD.windows]: { S: `daily ${localTime(zone, startMs - 10_000)}-${localTime(zone, endMs)} pause` },
    });
    const round = (state: unknown) => {
      const deadlineMs = clock.peek() + 900_000;
      return runRound({ state, executionId: 'exec-1' }, deps, () => deadlineMs);
    };

    // act
    const first = await round({ pollerId: 'night' });
    const firstItem = store.image('night');
    clock.advanceTo(Date.parse(first.wakeAt));
    const second = await round(first);
    const secondItem = store.image('night');

    // assess
    expect(invoker.opened.filter((request) => request.invocationType !== 'DryRun')).toEqual([]);
    for (const [output, item, roundStartMs] of [
      [first, firstItem, startMs],
      [second, secondItem, Date.parse(first.wakeAt)],
    ] as const) {
      expect(output.loop.paused).toBe(true);
      expect(Date.parse(output.wakeAt) - roundStartMs).toBeLessThanOrEqual(DEFAULT_TIMING.pauseCheckInMs);
      expect(item?.[FIELD.nextTickAt]?.S).toBe(new Date(endMs).toISOString());
      expect(Date.parse(item?.[FIELD.heartbeatAt]?.S ?? '')).toBeGreaterThanOrEqual(roundStartMs);
    }
    expect(Date.parse(first.wakeAt) - startMs).toBeLessThan(STALE_FLOOR_MS);
    expect(secondItem?.[FIELD.lastError]).toBeUndefined();
  });
});

describe('runRound with a bad rule', () => {
  it('records a lastError naming the rule and the value, and keeps firing on the last valid rules', async () => {
    // prepare: every 1 s all day (the item's own interval is 2 s); rounds of 6 s
    const clock = simulatedClock({ startMs: Math.ceil(Date.now() / 1000) * 1000 + 250 });
    const store = new InMemoryControlStore('pollers');
    const fired: number[] = [];
    const invoker = new InMemoryWorkerInvoker(clock, () => undefined);
    invoker.onInvoke = (invoke) => fired.push(Date.parse(invoke.event.scheduledAt));
    const timing = { ...DEFAULT_TIMING, handBackMarginMs: 200 };
    const deps = { table: store, invoker, defaultTarget: 'worker', clock, log: silentLogger, timing };
    store.put('feed', {
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '2' },
      [FIELD.windows]: { L: [{ S: 'daily 00:00-24:00 every 1' }] },
    });
    const round = (state: unknown) => {
      const deadlineMs = clock.peek() + 6_000;
      return runRound({ state, executionId: 'exec-1' }, deps, () => deadlineMs);
    };

    // act
    const first = await round({ pollerId: 'feed' });
    store.setField('feed', FIELD.windows, { L: [{ S: 'daily 00:00-24:00 every 0' }] });
    const firedBefore = fired.length;
    await round(first);

    // assess
    const after = fired.slice(firedBefore);
    expect(after.length).toBeGreaterThan(3);
    expect(after.slice(1).map((at, i) => at - (after[i] ?? 0))).toEqual(after.slice(1).map(() => 1_000));
    expect(store.image('feed')?.[FIELD.lastError]?.M?.message?.S).toBe(
      `poller 'feed': windows[0] "daily 00:00-24:00 every 0": cadence must be a number of seconds from 0.1 to 3600, decimals allowed; got "0"`,
    );
  });
});

describe('runRound at a window edge', () => {
  it('records a tick crowded out by the edge after it as skipped on the item', async () => {
    // prepare: every 4.9 s in a 5 s window from 06:00 UTC, every 10 s outside it; the loop's first tick is the
    // window's first (06:00:00), its next (06:00:04.9) would fire 100 ms before the default tick at the close
    const clock = simulatedClock({ startMs: Date.parse('2026-03-09T05:59:59.000Z') });
    const store = new InMemoryControlStore('pollers');
    const fired: string[] = [];
    const invoker = new InMemoryWorkerInvoker(clock, () => undefined);
    invoker.onInvoke = (invoke) => fired.push(invoke.event.scheduledAt);
    const deps = { table: store, invoker, defaultTarget: 'worker', clock, log: silentLogger };
    store.put('edge', {
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '10' },
      [FIELD.windows]: { L: [{ S: 'daily 06:00:00-06:00:05 every 4.9' }] },
    });
    const round = (state: unknown) => {
      const deadlineMs = clock.peek() + 900_000;
      return runRound({ state, executionId: 'exec-1' }, deps, () => deadlineMs);
    };

    // act: rounds until the tick after the close has fired
    let output = await round({ pollerId: 'edge' });
    while (clock.peek() < Date.parse('2026-03-09T06:00:06.000Z')) {
      clock.advanceTo(Math.max(clock.peek(), Date.parse(output.wakeAt)));
      output = await round(output);
    }

    // assess
    expect(fired.slice(0, 2)).toEqual(['2026-03-09T06:00:00.000Z', '2026-03-09T06:00:05.000Z']);
    expect(store.image('edge')?.[FIELD.skippedTicks]?.N).toBe('1');
  });
});
