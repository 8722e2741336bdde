import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ControllerDeps, type Deadline, runRound } from '../../../functions/controller/run-round';
import { HISTORY_EVENTS_PER_ROUND } from '../../../functions/scheduling/history-budget';
import { DEFAULT_TIMING, type Timing } from '../../../functions/scheduling/plan-round';
import { type ControllerOutput, FIELD, SIGNAL, STOP_REASON } from '../../../functions/shared/contract';
import type { ControlItemStore } from '../../../functions/shared/control-item-store';
import {
  ControlTableUnavailableError,
  describeCause,
  PollerStoppedSignal,
} from '../../../functions/shared/errors';
import { silentLogger } from '../../../functions/shared/logger';
import { InMemoryControlStore, type StoreWrite } from '../../support/in-memory-control-store';
import { InMemoryWorkerInvoker, type ReleasedInvoke } from '../../support/in-memory-worker-invoker';
import { simulatedClock } from '../../support/simulated-clock';

const TABLE_NAME = 'pollers';
const DEFAULT_TARGET = 'default-worker';
/** Invokes of functions whose name starts with this are refused as throttled, like a throttled async invoke. */
const THROTTLED_PREFIX = 'throttled-';
/** Short rounds: hand back 200 ms before a deadline 2.5 s away (the first tick comes 1 s after a start); claim 5 ticks of 100 ms at a time. */
const ROUND_MS = 2_500;
const TIMING: Timing = { ...DEFAULT_TIMING, handBackMarginMs: 200, claimWindowMs: 500 };

/**
 * The controller's clock: time moves only while it sleeps, so tick counts, deadlines and heartbeat ages do not
 * depend on how loaded the machine is. It starts at the real time so the item's ISO timestamps stay plausible.
 * The ports are in memory (the contract suite holds the store to ControlTable; run-round-adapters.test.ts runs a
 * round on the real adapters), so nothing waits for real I/O and the clock never yields to the event loop.
 */
const clock = simulatedClock({ startMs: Date.now() });

/** The control table; writes are observed as the controller asked for them (store.writes). */
const store = new InMemoryControlStore(TABLE_NAME);

/** A throttled async invoke, as the Lambda client reports it. */
function throttled(): Error {
  const error = new Error('Rate exceeded');
  error.name = 'TooManyRequestsException';
  return error;
}

const invoker = new InMemoryWorkerInvoker(clock, (target) =>
  target.startsWith(THROTTLED_PREFIX) ? throttled() : undefined,
);

interface Invocation extends ReleasedInvoke {
  /** The item's claimedSeq when the invoke arrived. */
  readonly claimedSeqAtFire: number | undefined;
}

const invocations: Invocation[] = [];
invoker.onInvoke = (invoke) => {
  const claimed = store.image(invoke.event.pollerId)?.[FIELD.claimedSeq]?.N;
  invocations.push({ ...invoke, claimedSeqAtFire: claimed === undefined ? undefined : Number(claimed) });
};
/** DryRun invokes: the controller warming its connection to Lambda before a tick. */
const dryRuns = () => invoker.opened.filter((request) => request.invocationType === 'DryRun');
/** Every Lambda request the controller opened, in order, with the (simulated) time it opened it. */
const lambdaRequests = invoker.opened;

function deps(tableOverride?: ControlItemStore): ControllerDeps {
  return {
    table: tableOverride ?? store,
    invoker,
    defaultTarget: DEFAULT_TARGET,
    clock,
    log: silentLogger,
    timing: TIMING,
  };
}

const deadlineIn = (ms: number): Deadline => {
  const deadlineMs = clock.peek() + ms;
  return () => deadlineMs;
};

const isoAgo = (ms: number) => new Date(clock.peek() - ms).toISOString();

async function putItem(pollerId: string, fields: Record<string, AttributeValue>): Promise<void> {
  store.put(pollerId, fields);
}

async function setField(pollerId: string, field: string, value: AttributeValue): Promise<void> {
  store.setField(pollerId, field, value);
}

async function readItem(pollerId: string): Promise<Record<string, AttributeValue> | undefined> {
  return store.image(pollerId);
}

const firedFor = (pollerId: string) =>
  invocations.filter((invocation) => invocation.event.pollerId === pollerId);
const seqsFor = (pollerId: string) => firedFor(pollerId).map((invocation) => invocation.event.seq);
const updatesFor = (pollerId: string) => store.writes.filter((write) => write.pollerId === pollerId);
const setsLastError = (write: StoreWrite) => write.kind === 'record' && write.record.lastError !== undefined;
const isClaim = (write: StoreWrite) => write.kind === 'record' && write.record.claimedSeq !== undefined;
const isTake = (write: StoreWrite) => write.kind === 'take';

const runningItem = (waitSeconds = '0.1', extra: Record<string, AttributeValue> = {}) => ({
  [FIELD.running]: { BOOL: true },
  [FIELD.waitSeconds]: { N: waitSeconds },
  ...extra,
});

async function freshRound(pollerId: string, executionId = 'exec-1'): Promise<ControllerOutput> {
  return runRound({ state: { pollerId }, executionId }, deps(), deadlineIn(ROUND_MS));
}

async function nextRound(previous: ControllerOutput, executionId = 'exec-1'): Promise<ControllerOutput> {
  return runRound({ state: previous, executionId }, deps(), deadlineIn(ROUND_MS));
}

describe('runRound: a fresh start', () => {
  const pollerId = 'fresh';
  const payload = { url: { S: 'https://example.com/poll' }, retries: { N: '3' }, tags: { L: [{ S: 'a' }] } };
  const operatorFields = runningItem('0.1', {
    [FIELD.target]: { S: 'my-worker' },
    [FIELD.payload]: { M: payload },
  });
  let startedAt: number;
  let output: ControllerOutput;
  let item: Record<string, AttributeValue> | undefined;

  beforeAll(async () => {
    await putItem(pollerId, operatorFields);
    startedAt = clock.peek();
    output = await freshRound(pollerId);
    item = await readItem(pollerId);
  });

  it('fires seq 1, 2, 3 … in order and hands back to wait', () => {
    // assess
    const seqs = seqsFor(pollerId);
    expect(output.loop.nextSeq).toBeGreaterThan(1);
    expect(seqs.length).toBeGreaterThanOrEqual(5);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(output.loop?.nextSeq).toBe(seqs.length + 1);
  });

  it('fires the ticks 100 ms apart on the grid', () => {
    // assess: due 100 ms apart, and each invoke complete at the endpoint at the time it was due (timers here are exact)
    const scheduled = firedFor(pollerId).map((invocation) => Date.parse(invocation.event.scheduledAt));
    const sentAt = firedFor(pollerId).map((invocation) => invocation.receivedAt);
    expect(scheduled.slice(1).map((at, i) => at - (scheduled[i] as number))).toEqual(
      Array.from({ length: scheduled.length - 1 }, () => 100),
    );
    expect(sentAt).toEqual(scheduled);
  });

  it('writes claimedSeq covering each tick before firing it', () => {
    // assess
    const unclaimed = firedFor(pollerId).filter(
      (invocation) =>
        invocation.claimedSeqAtFire === undefined || invocation.claimedSeqAtFire < invocation.event.seq,
    );
    expect(unclaimed).toEqual([]);
  });

  it('records seq, lastTickAt, heartbeatAt and executionArn at hand-back', () => {
    // assess
    const fired = firedFor(pollerId);
    const last = fired.at(-1)?.event;
    expect(item?.[FIELD.seq]).toEqual({ N: String(fired.length) });
    expect(item?.[FIELD.lastTickAt]).toEqual({ S: last?.scheduledAt });
    expect(item?.[FIELD.executionArn]).toEqual({ S: 'exec-1' });
    const heartbeatAt = Date.parse(item?.[FIELD.heartbeatAt]?.S ?? '');
    expect(heartbeatAt).toBeGreaterThanOrEqual(Date.parse(last?.scheduledAt ?? ''));
    expect(heartbeatAt).toBeLessThanOrEqual(clock.peek());
    expect(heartbeatAt).toBeGreaterThanOrEqual(startedAt);
  });

  it('records when the next tick is due at hand-back', () => {
    // assess
    const lastScheduledAt = Date.parse(firedFor(pollerId).at(-1)?.event.scheduledAt ?? '');
    expect(item?.[FIELD.nextTickAt]).toEqual({ S: new Date(lastScheduledAt + 100).toISOString() });
  });

  it('writes the item only to take its generation, for its claims and once at hand-back', () => {
    // assess
    const written = updatesFor(pollerId);
    const claims = written.filter(isClaim);
    const takes = written.filter(isTake);
    expect(takes).toHaveLength(1);
    expect(claims).toHaveLength(Math.ceil(firedFor(pollerId).length / 5));
    expect(written).toHaveLength(takes.length + claims.length + 1);
  });

  it('returns a whole-second wakeAt', () => {
    // assess
    expect(output.wakeAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('never modifies the operator fields', () => {
    // assess
    expect(item).toMatchObject({ [FIELD.id]: { S: pollerId }, ...operatorFields });
    expect(item?.[FIELD.payload]).toEqual({ M: payload });
  });

  it('warms its connection to the target with a DryRun invoke before the first tick of the invocation, once', () => {
    // assess
    const sent = lambdaRequests.filter((request) => request.functionName === 'my-worker');
    const firstFire = sent.findIndex((request) => request.invocationType === 'Event');
    expect(dryRuns().filter((dryRun) => dryRun.functionName === 'my-worker')).toHaveLength(1);
    expect(sent.filter((request) => request.invocationType === 'DryRun')).toHaveLength(1);
    expect(sent[0]?.invocationType).toBe('DryRun');
    expect(firstFire).toBeGreaterThan(0);
    expect(sent[0]?.sentAt).toBeLessThanOrEqual(Date.parse(firedFor(pollerId)[0]?.event.scheduledAt ?? ''));
  });

  it('fires the target the item names, asynchronously, with the operator payload', () => {
    // assess
    const fired = firedFor(pollerId);
    expect(new Set(fired.map((invocation) => invocation.functionName))).toEqual(new Set(['my-worker']));
    expect(new Set(fired.map((invocation) => invocation.invocationType))).toEqual(new Set(['Event']));
    expect(fired[0]?.event.payload).toEqual({ url: 'https://example.com/poll', retries: 3, tags: ['a'] });
  });
});

describe('runRound: continuing a loop', () => {
  it('continues seq from the previous output with no gap', async () => {
    // prepare
    const pollerId = 'continued';
    await putItem(pollerId, runningItem());
    const first = await freshRound(pollerId);
    const firstCount = seqsFor(pollerId).length;

    // act
    const second = await nextRound(first);

    // assess
    const seqs = seqsFor(pollerId);
    expect(second.loop.nextSeq).toBeGreaterThan(1);
    expect(seqs.length).toBeGreaterThan(firstCount);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect((await readItem(pollerId))?.[FIELD.seq]).toEqual({ N: String(seqs.length) });
  });

  it('keeps counting history events within the same execution', async () => {
    // prepare
    const pollerId = 'same-execution';
    await putItem(pollerId, runningItem());
    const first = await freshRound(pollerId, 'exec-1');

    // act
    const second = await nextRound(first, 'exec-1');

    // assess
    expect(first.loop?.historyEvents).toBe(HISTORY_EVENTS_PER_ROUND);
    expect(second.loop?.historyEvents).toBe(2 * HISTORY_EVENTS_PER_ROUND);
  });

  it('resets history events when a different execution carries the loop on', async () => {
    // prepare
    const pollerId = 'handed-over';
    await putItem(pollerId, runningItem());
    const first = await freshRound(pollerId, 'exec-1');

    // act
    const second = await nextRound(first, 'exec-2');

    // assess
    expect(second.loop).toMatchObject({ executionId: 'exec-2', historyEvents: HISTORY_EVENTS_PER_ROUND });
    expect((await readItem(pollerId))?.[FIELD.executionArn]).toEqual({ S: 'exec-2' });
  });
});

describe('runRound: a replayed round', () => {
  it('never reuses a seq that an earlier attempt of the same round fired', async () => {
    // prepare: round 2 runs, then Step Functions retries it with the same input (as after a crash)
    const pollerId = 'replayed';
    await putItem(pollerId, runningItem());
    const first = await freshRound(pollerId);
    await nextRound(first);
    const firedBeforeReplay = seqsFor(pollerId);

    // act
    const replay = await nextRound(first);

    // assess
    const replayed = seqsFor(pollerId).slice(firedBeforeReplay.length);
    expect(replay.loop.nextSeq).toBeGreaterThan(1);
    expect(replayed.length).toBeGreaterThan(0);
    expect(replayed.filter((seq) => firedBeforeReplay.includes(seq))).toEqual([]);
    expect(Math.min(...replayed)).toBeGreaterThan(Math.max(...firedBeforeReplay));
  });
});

describe('runRound: an invalid waitseconds', () => {
  const pollerId = 'bad-wait';
  let firstRound: ControllerOutput;
  let badRound: ControllerOutput;
  let badRoundUpdates: StoreWrite[];
  let badRoundSeqs: number[];

  beforeAll(async () => {
    await putItem(pollerId, runningItem());
    firstRound = await freshRound(pollerId);
    await setField(pollerId, FIELD.waitSeconds, { S: 'abc' });
    const updatesBefore = updatesFor(pollerId).length;
    const firedBefore = seqsFor(pollerId).length;
    badRound = await nextRound(firstRound);
    badRoundUpdates = updatesFor(pollerId).slice(updatesBefore);
    badRoundSeqs = seqsFor(pollerId).slice(firedBefore);
  });

  it('records lastError naming the field and the value', async () => {
    // assess
    const message = (await readItem(pollerId))?.[FIELD.lastError]?.M?.message?.S;
    expect(message).toContain('waitseconds');
    expect(message).toContain('S "abc"');
  });

  it('writes lastError once in a round, not once per tick', () => {
    // assess
    expect(badRoundSeqs.length).toBeGreaterThanOrEqual(5);
    expect(badRoundUpdates.filter(setsLastError)).toHaveLength(1);
  });

  it('keeps firing at the last valid cadence', () => {
    // assess
    const scheduled = firedFor(pollerId)
      .filter((invocation) => badRoundSeqs.includes(invocation.event.seq))
      .map((invocation) => Date.parse(invocation.event.scheduledAt));
    expect(badRound.loop.nextSeq).toBeGreaterThan(1);
    expect(badRound.loop?.config.intervalMs).toBe(100);
    expect(scheduled.slice(1).map((at, i) => at - (scheduled[i] as number))).toEqual(
      Array.from({ length: scheduled.length - 1 }, () => 100),
    );
  });

  it('does not write lastError again in the next round while the value stays wrong', async () => {
    // prepare
    const updatesBefore = updatesFor(pollerId).length;

    // act
    await nextRound(badRound);

    // assess
    expect(updatesFor(pollerId).slice(updatesBefore).filter(setsLastError)).toEqual([]);
  });

  // readConfig reports a persisting problem on every read; it must not cost an UpdateItem per tick (10 a second at
  // 0.1 s) on top of the claims and the hand-back.
  it('writes the item only for claims, the new error and the hand-back while the value stays wrong', () => {
    // assess: one claim per 5 ticks, one write for the new error, one for skipped ticks if any, one at hand-back
    const claims = badRoundUpdates.filter(isClaim);
    expect(claims.length).toBeGreaterThan(0);
    expect(badRoundUpdates.length).toBeLessThanOrEqual(claims.length + 3);
  });
});

describe('runRound: stopping', () => {
  it('ends a console start at once when running is false, leaving the item to whoever owns it', async () => {
    // prepare
    const pollerId = 'stopped-fresh';
    const fields = { [FIELD.running]: { BOOL: false }, [FIELD.waitSeconds]: { N: '0.1' } };
    await putItem(pollerId, fields);

    // act
    const outcome = await freshRound(pollerId).catch((error: unknown) => error);

    // assess
    expect(outcome).toBeInstanceOf(PollerStoppedSignal);
    expect(outcome).toMatchObject({ name: SIGNAL.stopped, pollerId, reason: STOP_REASON.runningFalse });
    expect(seqsFor(pollerId)).toEqual([]);
    expect(await readItem(pollerId)).toEqual({ [FIELD.id]: { S: pollerId }, ...fields });
  });

  it('records stoppedReason when running turned false between its start and its first round', async () => {
    // prepare: a start took generation 1 for exec-1, then the operator stopped the poller
    const pollerId = 'stopped-after-take';
    await putItem(pollerId, {
      ...runningItem(),
      [FIELD.running]: { BOOL: false },
      [FIELD.generation]: { N: '1' },
      [FIELD.executionArn]: { S: 'exec-1' },
      [FIELD.heartbeatAt]: { S: isoAgo(0) },
    });

    // act
    const outcome = await freshRound(pollerId).catch((error: unknown) => error);

    // assess
    expect(outcome).toMatchObject({ name: SIGNAL.stopped, reason: STOP_REASON.runningFalse });
    expect(seqsFor(pollerId)).toEqual([]);
    expect((await readItem(pollerId))?.[FIELD.stoppedReason]).toEqual({ S: STOP_REASON.runningFalse });
  });

  it('ends with the PollerStopped signal and records stoppedReason when an operator sets running to false', async () => {
    // prepare
    const pollerId = 'stopped-running';
    await putItem(pollerId, runningItem());
    const first = await freshRound(pollerId);
    await setField(pollerId, FIELD.running, { BOOL: false });
    const firedBefore = seqsFor(pollerId).length;

    // act
    const outcome = await nextRound(first).catch((error: unknown) => error);

    // assess
    expect(outcome).toMatchObject({ name: SIGNAL.stopped, message: STOP_REASON.runningFalse });
    expect(seqsFor(pollerId)).toHaveLength(firedBefore);
    expect((await readItem(pollerId))?.[FIELD.stoppedReason]).toEqual({ S: STOP_REASON.runningFalse });
  });
});

describe('runRound: failures', () => {
  it('records a throttled worker invoke in lastError and still hands back normally', async () => {
    // prepare
    const pollerId = 'throttled';
    await putItem(pollerId, runningItem('0.1', { [FIELD.target]: { S: `${THROTTLED_PREFIX}worker` } }));

    // act
    const output = await freshRound(pollerId);

    // assess
    const item = await readItem(pollerId);
    expect(output.loop.nextSeq).toBeGreaterThan(1);
    expect(seqsFor(pollerId).length).toBeGreaterThan(0);
    expect(item?.[FIELD.lastError]?.M?.message?.S).toContain('TooManyRequestsException');
    expect(item?.[FIELD.failedFires]).toEqual({ N: String(seqsFor(pollerId).length) });
  });

  it('records an outage the round was told of twice (carried, and caught by Step Functions) in lastError once', async () => {
    // prepare: the earlier round fired, could not read the table and carried the error; the attempt after it failed
    // on the same read, and the state machine's Catch put that into lastFailure beside the carried error.
    const pollerId = 'after-outage';
    await putItem(pollerId, runningItem('1'));
    const before = await freshRound(pollerId);
    const outage = new ControlTableUnavailableError(
      pollerId,
      TABLE_NAME,
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:44861'), { code: 'ECONNREFUSED' }),
    );
    const state = {
      ...before,
      pendingErrors: [describeCause(outage)],
      lastFailure: {
        Error: outage.name,
        Cause: JSON.stringify({ errorType: outage.name, errorMessage: outage.message }),
      },
    };

    // act
    await runRound({ state, executionId: 'exec-1' }, deps(), deadlineIn(ROUND_MS));

    // assess
    expect((await readItem(pollerId))?.[FIELD.lastError]?.M?.message?.S).toBe(
      `previous controller attempt failed: ${describeCause(outage)}`,
    );
  });

  it('throws ControlTableUnavailableError, firing nothing, when the table cannot be reached', async () => {
    // prepare
    const pollerId = 'no-table';
    const unreachable = new InMemoryControlStore(TABLE_NAME);
    unreachable.unreachable = true;

    // act
    const round = runRound(
      { state: { pollerId }, executionId: 'exec-1' },
      deps(unreachable),
      deadlineIn(ROUND_MS),
    );

    // assess
    await expect(round).rejects.toBeInstanceOf(ControlTableUnavailableError);
    await expect(round).rejects.toMatchObject({ name: 'ControlTableUnavailableError', pollerId });
    expect(seqsFor(pollerId)).toEqual([]);
  });
});

describe('runRound: the start rule (one loop per poller, whatever started it)', () => {
  const liveLoop = (executionArn: string, heartbeatAgoMs = 1_000) => ({
    ...runningItem('1'),
    [FIELD.generation]: { N: '4' },
    [FIELD.claimedSeq]: { N: '40' },
    [FIELD.seq]: { N: '33' },
    [FIELD.executionArn]: { S: executionArn },
    [FIELD.heartbeatAt]: { S: isoAgo(heartbeatAgoMs) },
  });

  it('ends a console start without firing or writing while another loop is alive', async () => {
    // prepare
    const pollerId = 'console-start-live';
    await putItem(pollerId, liveLoop('exec-live'));
    const before = await readItem(pollerId);

    // act
    const outcome = await freshRound(pollerId, 'exec-console').catch((error: unknown) => error);

    // assess
    expect(outcome).toBeInstanceOf(PollerStoppedSignal);
    expect((outcome as PollerStoppedSignal).reason).toMatch(
      new RegExp(`^${STOP_REASON.alreadyRunning}: execution exec-live \\(generation 4\\)`),
    );
    expect(seqsFor(pollerId)).toEqual([]);
    expect(updatesFor(pollerId)).toEqual([]);
    expect(await readItem(pollerId)).toEqual(before);
  });

  it('lets a console start take over a loop whose heartbeat is stale, above its claim', async () => {
    // prepare
    const pollerId = 'console-start-stale';
    await putItem(pollerId, liveLoop('exec-dead', 91_000));

    // act
    const output = await freshRound(pollerId, 'exec-console');

    // assess
    const item = await readItem(pollerId);
    expect(item?.[FIELD.generation]).toEqual({ N: '5' });
    expect(item?.[FIELD.executionArn]).toEqual({ S: 'exec-console' });
    expect(seqsFor(pollerId)[0]).toBe(41);
    expect(output.loop.generation).toBe(5);
  });

  it('lets a console start take over a loop that recorded a stop', async () => {
    // prepare
    const pollerId = 'console-start-stopped';
    await putItem(pollerId, { ...liveLoop('exec-old'), [FIELD.stoppedReason]: { S: 'running is false' } });

    // act
    await freshRound(pollerId, 'exec-console');

    // assess
    const item = await readItem(pollerId);
    expect(item?.[FIELD.generation]).toEqual({ N: '5' });
    expect(item?.[FIELD.stoppedReason]).toBeUndefined();
    expect(seqsFor(pollerId).length).toBeGreaterThan(0);
  });

  it('carries on instead of stopping when running turned true again before the stop was recorded', async () => {
    // prepare: a loop whose next round reads running=false …
    const pollerId = 'stop-then-start';
    await putItem(pollerId, runningItem());
    const first = await freshRound(pollerId);
    await setField(pollerId, FIELD.running, { BOOL: false });
    const fired = seqsFor(pollerId).length;
    // … and whose stop write finds running=true again: the operator started it meanwhile (injected at the
    // store's boundary, just before the write is applied)
    let raced = false;
    store.beforeRecord = (write) => {
      if (!raced && write.record.stoppedReason === STOP_REASON.runningFalse) {
        raced = true;
        store.setField(pollerId, FIELD.running, { BOOL: true });
      }
    };

    // act
    const output = await runRound(
      { state: first, executionId: 'exec-1' },
      deps(),
      deadlineIn(ROUND_MS),
    ).finally(() => {
      store.beforeRecord = undefined;
    });

    // assess
    expect(raced).toBe(true);
    expect(seqsFor(pollerId).length).toBeGreaterThan(fired);
    expect(output.loop.generation).toBe(first.loop.generation);
    expect((await readItem(pollerId))?.[FIELD.stoppedReason]).toBeUndefined();
  });

  it('stops a loop whose item was deleted and created again, even though the new generation has its number', async () => {
    // prepare: generation 1 runs, the item is replaced, and a new start takes generation 1 again
    const pollerId = 'recreated';
    await putItem(pollerId, runningItem());
    const first = await freshRound(pollerId, 'exec-old');
    await putItem(pollerId, runningItem());
    await freshRound(pollerId, 'exec-new');
    const firedByNew = seqsFor(pollerId).length;

    // act
    const outcome = await nextRound(first, 'exec-old').catch((error: unknown) => error);

    // assess
    expect(outcome).toMatchObject({ name: SIGNAL.stopped, reason: STOP_REASON.superseded });
    expect(seqsFor(pollerId)).toHaveLength(firedByNew);
  });
});

describe('runRound: a cadence the controller size cannot sustain', () => {
  const roundAt = (pollerId: string, memoryMb: number) =>
    runRound(
      { state: { pollerId }, executionId: 'exec-1' },
      { ...deps(), size: { memoryMb, architecture: 'arm64' } },
      deadlineIn(ROUND_MS),
    );

  it('keeps firing, and says in lastError that 0.1 s is below what 128 MB sustains and what to change', async () => {
    // prepare
    const pollerId = 'too-fast-for-128';
    await putItem(pollerId, runningItem('0.1'));

    // act
    await roundAt(pollerId, 128);

    // assess
    expect(seqsFor(pollerId).length).toBeGreaterThan(5);
    expect((await readItem(pollerId))?.[FIELD.lastError]?.M?.message?.S).toBe(
      "poller 'too-fast-for-128': waitseconds 0.1 is below the 1 s a 128 MB controller sustains; ticks may come late or be skipped (raise the stack's ControllerMemory parameter)",
    );
  });

  it('says nothing when the size sustains the cadence', async () => {
    // prepare
    const pollerId = 'fast-enough-at-512';
    await putItem(pollerId, runningItem('0.1'));

    // act
    await roundAt(pollerId, 512);

    // assess
    expect(seqsFor(pollerId).length).toBeGreaterThan(5);
    expect((await readItem(pollerId))?.[FIELD.lastError]).toBeUndefined();
  });
});

describe('runRound: a tick that can no longer go out on time', () => {
  /** A control table whose first claim write takes `claimMs` (a slow DynamoDB answer, or a starved CPU share). */
  function tableWithSlowFirstClaim(claimMs: number): { table: ControlItemStore; destroy: () => void } {
    let delayed = false;
    store.beforeRecord = (write) => {
      if (isClaim(write) && !delayed) {
        delayed = true;
        clock.advance(claimMs);
      }
    };
    return {
      table: store,
      destroy: () => {
        store.beforeRecord = undefined;
      },
    };
  }

  /** One 1 s poller's first round, its first claim write taking `claimMs`. */
  async function roundWithSlowFirstClaim(pollerId: string, claimMs: number) {
    await putItem(pollerId, runningItem('1'));
    const slow = tableWithSlowFirstClaim(claimMs);
    const startedAt = clock.peek();
    const output = await runRound(
      { state: { pollerId }, executionId: 'exec-1' },
      deps(slow.table),
      deadlineIn(6_000),
    );
    slow.destroy();
    return { output, startedAt };
  }

  it('withholds a tick the claim write made late by half an interval or more, keeps its seq for the next slot on the grid and counts the skip', async () => {
    // prepare: 1 s ticks; the first tick is due 1 s after the start, the claim write ends 1.6 s after it
    const pollerId = 'late-at-release';

    // act
    const { output, startedAt } = await roundWithSlowFirstClaim(pollerId, 1_600);

    // assess: seq 1 was due at +1 s and withheld (600 ms late); it fires at +2 s, the next slot on the grid
    const fired = firedFor(pollerId).map((invocation) => invocation.event);
    expect(fired[0]?.seq).toBe(1);
    expect(Date.parse(fired[0]?.scheduledAt ?? '')).toBe(startedAt + 2_000);
    expect(fired.map((event) => event.seq)).toEqual(fired.map((_, i) => i + 1));
    expect(output.loop.skippedTicks).toBe(1);
    expect((await readItem(pollerId))?.[FIELD.skippedTicks]?.N).toBe('1');
  });

  it('sends a tick late by less than half an interval', async () => {
    // prepare
    const pollerId = 'slightly-late-at-release';

    // act
    const { output, startedAt } = await roundWithSlowFirstClaim(pollerId, 1_400);

    // assess: seq 1 went out 400 ms late, for the time it was due
    const firstFire = firedFor(pollerId)[0];
    expect(firstFire?.event.seq).toBe(1);
    expect(Date.parse(firstFire?.event.scheduledAt ?? '')).toBe(startedAt + 1_000);
    expect(firstFire?.receivedAt).toBe(startedAt + 1_400);
    expect(output.loop.skippedTicks).toBe(0);
  });
});
