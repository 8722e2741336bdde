import { describe, expect, it } from 'vitest';
import { DEFAULT_LEASE_TIMING, type ShardLease } from '../../../functions/fleet/shard-lease';
import type { PollerRecord, ShardState, ShardTick } from '../../../functions/fleet/shard-round';
import {
  batchMembers,
  CLAIM_AHEAD_MS,
  CLAIM_RENEW_WITHIN_MS,
  claimsNeeded,
  decideLeaseStart,
  handBackInstant,
  historyAfterRound,
  noMemberReadAgainAt,
  ranOutStillOurs,
  recordedState,
  recordNews,
  releaseOf,
  supersededReason,
  ticksUndecidedAtHandBack,
} from '../../../functions/fleet/shard-steps';
import type { ShardMemberRead } from '../../../functions/fleet/shard-store';
import { memberOf } from '../../../functions/fleet/shard-table';
import { HISTORY_EVENTS_PER_ROUND } from '../../../functions/scheduling/history-budget';
import { loopAfterTick } from '../../../functions/scheduling/plan-round';
import { FIELD, type LoopState } from '../../../functions/shared/contract';
import { decodePollerItem, type RawItem } from '../../../functions/shared/control-item';
import { simulatedClock } from '../../support/simulated-clock';

/** The shard controller's pure decisions, on a simulated clock (time moves only when a test moves it). */
const T0 = Date.parse('2030-01-01T00:00:00.250Z');
const TIMING = DEFAULT_LEASE_TIMING;

const lease = (owner: string, epoch: number, validUntilMs: number): ShardLease => ({
  owner,
  epoch,
  validUntilMs,
});

function loop(intervalMs: number, nextSeq: number, anchorAt = T0): LoopState {
  return {
    nextSeq,
    anchorAt,
    anchorSeq: nextSeq,
    claimedThroughSeq: nextSeq - 1,
    generation: 1,
    config: { running: true, intervalMs, target: undefined, payload: undefined },
    executionId: 'exec',
    historyEvents: 0,
    historyBudget: 20_000,
    skippedTicks: 0,
  };
}

/** A poller as the shard's Query returns it (decoded by the one item decoder, mapped as ShardTable maps it). */
function read(pollerId: string, fields: RawItem, queried = 's1'): ShardMemberRead {
  return memberOf(
    decodePollerItem(pollerId, {
      [FIELD.id]: { S: pollerId },
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '1' },
      ...fields,
    }),
    queried,
  );
}

const recordedLoop = (value: LoopState, by?: string) => ({
  S: JSON.stringify(by === undefined ? value : { by, ...value }),
});

describe('noMemberReadAgainAt', () => {
  it("reads again every second for 10 s in an execution's first round, within its deadline; a later round ends", () => {
    // arrange
    const clock = simulatedClock({ startMs: T0 });
    const firstRead = clock.now();
    const farDeadline = T0 + 60_000;

    // act
    const reads: number[] = [];
    for (let at = noMemberReadAgainAt(true, firstRead, clock.now(), farDeadline); at !== undefined; ) {
      reads.push(at - T0);
      clock.advance(at - clock.peek());
      at = noMemberReadAgainAt(true, firstRead, clock.now(), farDeadline);
    }

    // assess
    expect(reads).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((second) => second * 1_000));
    expect(noMemberReadAgainAt(false, T0, T0, farDeadline)).toBeUndefined();
    expect(noMemberReadAgainAt(true, T0, T0 + 2_500, T0 + 3_000)).toBeUndefined();
    expect(noMemberReadAgainAt(true, T0, T0 + 2_000, T0 + 3_000)).toBe(T0 + 3_000);
  });
});

describe('decideLeaseStart', () => {
  const clock = simulatedClock({ startMs: T0 });

  it('takes a shard nobody held at epoch 1, resuming now', () => {
    expect(decideLeaseStart(undefined, 'arn:a', undefined, clock.now(), TIMING)).toEqual({
      kind: 'take',
      lease: lease('arn:a', 1, T0 + TIMING.durationMs),
      expected: undefined,
      resumeFromMs: T0,
    });
  });

  it('ends at once while another owner holds a live lease, and takes epoch+1 once it ran out', () => {
    // arrange
    const held = lease('arn:a', 3, clock.peek() + 5_000);
    const item = { shard: 's1', lease: held, sleepUntilMs: undefined };

    // act
    const racing = decideLeaseStart(item, 'arn:b', undefined, clock.now(), TIMING);
    clock.advance(5_000);
    const taking = decideLeaseStart(item, 'arn:b', undefined, clock.now(), TIMING);

    // assess
    expect(racing).toEqual({ kind: 'end', reason: 'shard already served by arn:a' });
    expect(taking).toEqual({
      kind: 'take',
      lease: lease('arn:b', 4, clock.peek() + TIMING.durationMs),
      expected: held,
      resumeFromMs: held.validUntilMs,
    });
  });

  it('renews its own live lease (a retried attempt), resuming after what the lease covered', () => {
    // arrange
    const nowMs = clock.now();
    const crashed = lease('arn:a', 2, nowMs + 20_000);

    // act
    const retried = decideLeaseStart(
      { shard: 's1', lease: crashed, sleepUntilMs: undefined },
      'arn:a',
      { laterRound: true, epoch: 2, handedBackAtMs: nowMs - 60_000 },
      nowMs,
      TIMING,
    );

    // assess: a crashed attempt of this execution may have fired up to its lease's end: resumed there.
    expect(retried).toEqual({
      kind: 'renew',
      lease: lease('arn:a', 2, nowMs + TIMING.durationMs),
      resumeFromMs: nowMs + 20_000,
    });
  });

  it('re-takes its own lease that ran out at the next epoch, on exactly the lease read, never renewing it', () => {
    // arrange: released at the hand-back, or held by an owner frozen past its end.
    const nowMs = clock.now();
    const releasedAt = lease('arn:a', 2, nowMs - 4_000);
    const frozen = lease('arn:a', 5, nowMs - 1);

    // act
    const afterWait = decideLeaseStart(
      { shard: 's1', lease: releasedAt, sleepUntilMs: nowMs },
      'arn:a',
      { laterRound: true, epoch: 2, handedBackAtMs: nowMs - 4_000 },
      nowMs,
      TIMING,
    );
    const thawed = decideLeaseStart(
      { shard: 's1', lease: frozen, sleepUntilMs: undefined },
      'arn:a',
      undefined,
      nowMs,
      TIMING,
    );

    // assess
    expect(afterWait).toEqual({
      kind: 'take',
      lease: lease('arn:a', 3, nowMs + TIMING.durationMs),
      expected: releasedAt,
      resumeFromMs: nowMs - 4_000,
    });
    expect(thawed).toEqual({
      kind: 'take',
      lease: lease('arn:a', 6, nowMs + TIMING.durationMs),
      expected: frozen,
      resumeFromMs: nowMs - 1,
    });
  });

  it('a later round whose epoch another execution took ends superseded, even once that lease was released', () => {
    // arrange: it slept at epoch 1; a fresh execution woke the shard at epoch 2 and has since handed back too.
    const nowMs = clock.now();
    const fresh = lease('arn:fresh', 2, nowMs - 2_000);
    const carried = { laterRound: true, epoch: 1, handedBackAtMs: nowMs - 30_000 };

    // act
    const woke = decideLeaseStart(
      { shard: 's1', lease: fresh, sleepUntilMs: nowMs },
      'arn:a',
      carried,
      nowMs,
      TIMING,
    );
    const gone = decideLeaseStart(undefined, 'arn:a', carried, nowMs, TIMING);
    const handedOver = decideLeaseStart(
      { shard: 's1', lease: fresh, sleepUntilMs: nowMs },
      'arn:a',
      { ...carried, laterRound: false },
      nowMs,
      TIMING,
    );

    // assess
    expect(woke).toEqual({ kind: 'end', reason: 'superseded by epoch 2' });
    expect(gone).toEqual({ kind: 'end', reason: 'superseded: the shard item was removed' });
    // A hand-over's first round (another execution's loop) takes the released lease as any fresh start does.
    expect(handedOver).toMatchObject({ kind: 'take', lease: { owner: 'arn:a', epoch: 3 } });
  });

  it('ranOutStillOurs: only the very lease held, run out by this clock', () => {
    const nowMs = clock.now();
    const held = lease('arn:a', 4, nowMs);
    const item = (l: ShardLease) => ({ shard: 's1', lease: l, sleepUntilMs: undefined });
    expect(ranOutStillOurs(held, item(held), nowMs)).toBe(true);
    expect(ranOutStillOurs(held, item(held), nowMs - 1)).toBe(false);
    expect(ranOutStillOurs(held, item(lease('arn:b', 5, nowMs - 10)), nowMs)).toBe(false);
    expect(ranOutStillOurs(held, item(lease('arn:a', 5, nowMs - 10)), nowMs)).toBe(false);
    expect(ranOutStillOurs(held, undefined, nowMs)).toBe(false);
  });

  it('names the epoch that superseded it', () => {
    expect(supersededReason({ shard: 's1', lease: lease('arn:b', 7, T0), sleepUntilMs: undefined })).toBe(
      'superseded by epoch 7',
    );
    expect(supersededReason(undefined)).toBe('superseded: the shard item was removed');
  });
});

describe('recordedState and batchMembers', () => {
  const own = loop(1_000, 40);
  const theirs = loop(1_000, 90);

  it("rebuilds the loops this shard recorded; a moved-in poller's loop is a hand-over, a stop is kept", () => {
    // arrange
    const reads = [
      read('mine', {
        [FIELD.shard]: { S: 's1' },
        [FIELD.shardLoop]: recordedLoop(own),
        [FIELD.shardEpoch]: { N: '2' },
      }),
      read('moved-in', {
        [FIELD.shard]: { S: 's1' },
        [FIELD.shardLoop]: recordedLoop(theirs),
        [FIELD.movedAt]: { N: String(T0) },
      }),
      read('stopped', { [FIELD.shard]: { S: 's1' }, [FIELD.stoppedReason]: { S: 'running is false' } }),
      read('new', { [FIELD.shard]: { S: 's1' } }),
    ];

    // act
    const state = recordedState(reads, 's1');
    const members = batchMembers(reads, state, 's1', new Set(), new Set());

    // assess
    expect([...state.keys()].sort()).toEqual(['mine', 'stopped']);
    expect(state.get('mine')).toEqual({ loop: own, stoppedReason: undefined, notes: [] });
    expect(state.get('stopped')).toEqual({ loop: undefined, stoppedReason: 'running is false', notes: [] });
    const handedOver = new Map(members.map((member) => [member.item.pollerId, member.handedOver]));
    expect(handedOver.get('mine')).toBeUndefined();
    expect(handedOver.get('moved-in')).toEqual(theirs);
    expect(handedOver.get('new')).toBeUndefined();
    expect(members.find((member) => member.item.pollerId === 'moved-in')?.placement).toEqual({
      shard: 's1',
      movedAtMs: T0,
    });
  });

  it("tells its own record from another shard's that a hand edit of `shard` left: that one is an unannounced hand-over", () => {
    // arrange: all three name s1 and carry an epoch; s0 recorded 'hand-edited' and still fences it.
    const reads = [
      read('by-us', {
        [FIELD.shard]: { S: 's1' },
        [FIELD.shardLoop]: recordedLoop(own, 's1'),
        [FIELD.shardEpoch]: { N: '2' },
      }),
      read('hand-edited', {
        [FIELD.shard]: { S: 's1' },
        [FIELD.shardLoop]: recordedLoop(theirs, 's0'),
        [FIELD.shardEpoch]: { N: '7' },
      }),
      read('unnamed', {
        [FIELD.shard]: { S: 's1' },
        [FIELD.shardLoop]: recordedLoop(own),
        [FIELD.shardEpoch]: { N: '2' },
      }),
    ];

    // act
    const state = recordedState(reads, 's1');
    const members = batchMembers(reads, state, 's1', new Set(), new Set());

    // assess: a record naming no shard (older than `by`) is taken as this shard's, as it was before
    expect([...state.keys()].sort()).toEqual(['by-us', 'unnamed']);
    const byId = new Map(members.map((member) => [member.item.pollerId, member]));
    expect(byId.get('hand-edited')?.handedOver).toEqual(theirs);
    expect(byId.get('hand-edited')?.unannounced).toBe(true);
    expect(byId.get('by-us')?.unannounced).toBeUndefined();
    expect(byId.get('unnamed')?.unannounced).toBeUndefined();
  });

  it('leaves out a poller it handed over while the index still shows the pending move, and one refused as not its own', () => {
    // arrange: the index lags the flip; a stale record would hand its old loop back to this shard.
    const stale = read('left', {
      [FIELD.shard]: { S: 's1' },
      [FIELD.moveTo]: { S: 's2' },
      [FIELD.movedAt]: { N: String(T0) },
      [FIELD.shardLoop]: recordedLoop(own),
    });
    const back = read('came-back', {
      [FIELD.shard]: { S: 's1' },
      [FIELD.movedAt]: { N: String(T0 + 60_000) },
    });
    const refused = read('refused', { [FIELD.shard]: { S: 's1' } });

    // act
    const members = batchMembers(
      [stale, back, refused],
      new Map(),
      's1',
      new Set(['left', 'came-back']),
      new Set(['refused']),
    );

    // assess
    expect(members.map((member) => member.item.pollerId)).toEqual(['came-back']);
  });
});

describe('recordNews', () => {
  it('drops notes the item already shows, keeps new ones and every other record', () => {
    // arrange
    const items = new Map([
      ['same', decodePollerItem('same', { [FIELD.lastError]: { M: { message: { S: 'a; b' } } } })],
      ['fixed', decodePollerItem('fixed', {})],
    ]);
    const records: PollerRecord[] = [
      { pollerId: 'same', kind: 'notes', notes: ['a', 'b'] },
      { pollerId: 'fixed', kind: 'notes', notes: [] },
      { pollerId: 'other', kind: 'notes', notes: ['c'] },
      { pollerId: 'same', kind: 'stopped', reason: 'running is false' },
    ];

    // act
    const news = recordNews(records, items);

    // assess
    expect(news).toEqual([records[2], records[3]]);
  });
});

describe('claimsNeeded', () => {
  const nowMs = T0;
  const at1s = loop(1_000, 11, T0);
  const ticks = (pollerId: string, from: LoopState, count: number): ShardTick[] => {
    const out: ShardTick[] = [];
    let current = from;
    for (let i = 0; i < count; i++) {
      const dueAt = current.anchorAt + (current.nextSeq - current.anchorSeq) * 1_000;
      out.push({ pollerId, seq: current.nextSeq, dueAt, config: current.config, at: current });
      current = loopAfterTick(current, dueAt);
    }
    return out;
  };
  const state = (loops: Record<string, LoopState>, stopped: Record<string, string> = {}): ShardState =>
    new Map(
      Object.entries({
        ...loops,
        ...Object.fromEntries(Object.keys(stopped).map((id) => [id, undefined])),
      }).map(([pollerId, value]) => [pollerId, { loop: value, stoppedReason: stopped[pollerId], notes: [] }]),
    );

  it('claims ~5 minutes ahead for a poller joining this epoch, and nothing for one covered', () => {
    // act
    const needs = claimsNeeded({
      ticks: [...ticks('joins', at1s, 2), ...ticks('covered', at1s, 2)],
      state: state({ joins: at1s, covered: at1s }),
      before: new Map(),
      records: [],
      claimed: new Map([['covered', 11 + (CLAIM_RENEW_WITHIN_MS + 10_000) / 1_000]]),
      recorded: new Set(['covered']),
      nowMs,
    });

    // assess
    expect(needs).toEqual([
      { pollerId: 'joins', claimedSeq: 11 + CLAIM_AHEAD_MS / 1_000 - 1, loop: at1s, why: 'joined' },
    ]);
  });

  it('renews a claim once it covers less than the renewal span, never below a seq of the batch', () => {
    // act
    const [need] = claimsNeeded({
      ticks: ticks('p', at1s, 3),
      state: state({ p: at1s }),
      before: new Map(),
      records: [],
      claimed: new Map([['p', 12]]),
      recorded: new Set(['p']),
      nowMs,
    });

    // assess
    expect(need?.why).toBe('ahead');
    expect(need?.claimedSeq).toBe(11 + CLAIM_AHEAD_MS / 1_000 - 1);
  });

  it('records a changed schedule and a restart, and claims nothing for a stopped poller', () => {
    // act
    const needs = claimsNeeded({
      ticks: [],
      state: state({ changed: at1s, restarted: at1s }, { off: 'running is false' }),
      before: state({ restarted: at1s }, { restarted: 'running is false' }),
      records: [{ pollerId: 'changed', kind: 'schedule-changed', loop: at1s }],
      claimed: new Map([
        ['changed', 1_000],
        ['restarted', 1_000],
      ]),
      recorded: new Set(['changed', 'restarted', 'off']),
      nowMs,
    });

    // assess
    expect(needs.map((need) => [need.pollerId, need.why, need.claimedSeq])).toEqual([
      ['changed', 'schedule-changed', 1_000],
      ['restarted', 'restarted', 1_000],
    ]);
  });
});

describe('releaseOf', () => {
  const at = loop(1_000, 5, T0);
  const tick: ShardTick = { pollerId: 'p', seq: 5, dueAt: T0, config: at.config, at };
  const held = lease('arn:a', 1, T0 + 10_000);

  it('sends a claimed tick on time, inside the lease', () => {
    expect(releaseOf(tick, held, 5, T0 + 3, 250, 20)).toBe('send');
  });

  it('withholds a tick half an interval late, one above the confirmed claim, one the lease no longer covers', () => {
    expect(releaseOf(tick, held, 5, T0 + 480, 250, 20)).toBe('late');
    expect(releaseOf(tick, held, 4, T0, 250, 20)).toBe('unclaimed');
    expect(releaseOf(tick, lease('arn:a', 1, T0 + 250), 5, T0, 250, 20)).toBe('lease-ended');
    expect(releaseOf(tick, lease('arn:a', 1, T0 + 1_000), 5, T0 + 760, 250, 20)).toBe('lease-ended');
  });
});

describe('ticksUndecidedAtHandBack', () => {
  it('counts, per running poller, the ticks from its next planned one up to the release (those the next round skips)', () => {
    // arrange: p1 at 1 s next due T0 (a slow batch left T0..T0+2 s unplanned), p2 at 5 s next due after the
    // release, p3 stopped with an old grid.
    const state = new Map([
      ['p1', { loop: loop(1_000, 7), stoppedReason: undefined, notes: [] }],
      ['p2', { loop: loop(5_000, 3, T0 + 4_000), stoppedReason: undefined, notes: [] }],
      ['p3', { loop: loop(1_000, 2, T0 - 60_000), stoppedReason: 'running is false', notes: [] }],
    ]);

    // act
    const undecided = ticksUndecidedAtHandBack(state, T0 + 2_500);

    // assert: T0, T0+1 s, T0+2 s of p1; nothing of p2 (due at T0+4 s) or of the stopped p3.
    expect([...undecided]).toEqual([['p1', 3]]);
    expect(ticksUndecidedAtHandBack(state, T0)).toEqual(new Map());
  });
});

describe('handBackInstant and historyAfterRound', () => {
  it('hands back after the last fired tick and not before now', () => {
    expect(handBackInstant(T0, T0)).toBe(T0 + 1);
    expect(handBackInstant(T0, T0 + 50)).toBe(T0 + 50);
    expect(handBackInstant(undefined, T0)).toBe(T0);
  });

  it('hands over once one more round would cross the budget', () => {
    expect(historyAfterRound(100, 3, 200)).toEqual({
      events: 103 + HISTORY_EVENTS_PER_ROUND,
      handOver: false,
    });
    expect(historyAfterRound(195, 0, 200)).toEqual({
      events: 195 + HISTORY_EVENTS_PER_ROUND,
      handOver: true,
    });
  });
});
