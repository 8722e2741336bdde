import {
  DEFAULT_LEASE_TIMING,
  type LeaseTiming,
  released,
  renewalDue,
  renewed,
  type ShardLease,
} from '../fleet/shard-lease';
import {
  DEFAULT_SHARD_TIMING,
  type PollerRecord,
  planShardRound,
  type ShardContinuation,
  type ShardState,
  type ShardTick,
  type ShardTiming,
} from '../fleet/shard-round';
import {
  batchMembers,
  type ClaimNeed,
  claimsNeeded,
  decideLeaseStart,
  handBackInstant,
  historyAfterRound,
  nextTickAtOf,
  noMemberReadAgainAt,
  ranOutStillOurs,
  recordedState,
  recordNews,
  releaseOf,
  retaken,
  supersededReason,
  ticksUndecidedAtHandBack,
} from '../fleet/shard-steps';
import type { PollerWrite, PollerWriteOutcome, ShardMemberRead, ShardStore } from '../fleet/shard-store';
import type { LambdaSize } from '../scheduling/cost-model';
import { historyEventsBeforeRound } from '../scheduling/history-budget';
import type { Timing } from '../scheduling/plan-round';
import { type Clock, sleepUntil } from '../shared/clock';
import {
  describeCause,
  HandOverRequestedSignal,
  InvalidControllerInputError,
  PollerStoppedSignal,
  WorkerInvokeError,
} from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { MetricsSetup } from '../shared/metrics';
import type { FireAnswer, SendHold, WorkerInvoker } from '../shared/worker-invoker';
import { type ParsedShardInput, parseShardInput, type ShardLoopState } from './parse-shard-input';
import { RoundMetrics } from './round-metrics';
import { type Deadline, isoSecond } from './run-round';

/** What a shard round needs (the shard controller's composition root builds it: shardControllerDepsFrom). */
export interface ShardControllerDeps {
  readonly store: ShardStore;
  readonly invoker: WorkerInvoker;
  readonly defaultTarget: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly timing?: Timing;
  readonly leaseTiming?: LeaseTiming;
  readonly size?: LambdaSize;
  readonly metrics?: MetricsSetup;
}

/** What a shard round hands back to Step Functions: `pollerId` is the shard item's key (`~shard/s0`). */
export interface ShardOutput {
  readonly pollerId: string;
  readonly wakeAt: string;
  readonly loop: Readonly<Record<string, unknown>>;
}

/** Poller writes in flight at once: enough to record a batch of hundreds quickly, few enough to stay polite. */
const WRITE_CONCURRENCY = 16;
/**
 * How long a tick waits past its due time for its poller's join claim, with nothing opened meanwhile (its request
 * opens once the claim is written); the release then decides as ever (a tick half an interval late is withheld).
 */
const JOIN_CLAIM_WAIT_MS = 1_000;

/**
 * One round of a shard execution (input `{ "pollerId": "~shard/s0" }`; docs/design/fleet.md): take or renew the
 * lease, then batch after batch read the shard's pollers (one Query), plan with planShardRound, write what it
 * records and the claims the batch needs (in the background, bounded), fire each tick at its due millisecond on
 * the held-request path, renew the lease when due, and follow the continuation: the next batch, or a hand-back to
 * the Wait state with the lease released. Ends by PollerStoppedSignal when superseded, when another execution
 * serves the shard, or when no poller names it; by HandOverRequestedSignal when the history budget is spent.
 *
 * Every decision is a pure function (planShardRound, functions/fleet/shard-steps.ts); this carries them out.
 */
export async function runShardRound(
  event: unknown,
  deps: ShardControllerDeps,
  deadline: Deadline,
): Promise<ShardOutput> {
  let input: ParsedShardInput;
  try {
    input = parseShardInput(event);
  } catch (error) {
    if (!(error instanceof InvalidControllerInputError)) throw error;
    deps.log.error('invalid shard input, stopping', { pollerId: error.pollerId, error: error.message });
    throw new PollerStoppedSignal(error.pollerId, error.message);
  }
  const round = new ShardRound(input, deps, deadline);
  try {
    return await round.run();
  } catch (error) {
    // A batch still firing goes out (or is withheld), and its writes are made, before the invocation ends: no
    // request is left to a frozen sandbox.
    await round.firedOut();
    throw error;
  } finally {
    round.flushMetrics();
  }
}

/** A synchronous fire (overlap `skip`) of this invocation, and its answer once it came. */
interface TrackedFire {
  readonly seq: number;
  answer: FireAnswer | undefined;
}

/** Per poller, what this invocation fired and counted since its last write. */
interface PollerProgress {
  lastSeq: number | undefined;
  lastDueAt: number | undefined;
  skipped: number;
  failedFires: number;
  overlapSkips: number;
  /** The last fire that failed, not yet written (it goes into `lastError` with the next claim). */
  fireError: { message: string; at: string } | undefined;
}

/** What a poller's next write ADDs to its item (and the `lastError` of its last failed fire). */
type CountsAdded = Pick<
  Extract<PollerWrite, { kind: 'claim' }>,
  'skippedTicksAdded' | 'failedFiresAdded' | 'overlapSkipsAdded' | 'fireError'
>;

class ShardRound {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #store: ShardStore;
  readonly #leaseTiming: LeaseTiming;
  readonly #timing: ShardTiming;
  readonly #shardKey: string;
  #lease: ShardLease | undefined;
  #state: ShardState = new Map();
  /** The highest claim known per poller (the item's as read, or one this invocation wrote). */
  readonly #claimed = new Map<string, number>();
  /** The claim confirmed on the item: a tick above it is not sent. */
  readonly #confirmed = new Map<string, number>();
  /** Pollers this invocation's epoch wrote a claim on (the base table confirmed them this shard's): none at start. */
  readonly #recorded = new Set<string>();
  /** Claim writes under way, by poller (one at a time each): settled when the write is. */
  readonly #claiming = new Map<string, Promise<void>>();
  /** Pollers this invocation handed over to another shard. */
  readonly #leftBehind = new Set<string>();
  /**
   * Pollers a planned batch hands over once its ticks went out (their flip not yet written): the next batch, planned
   * while they still fire, leaves them out whatever its read shows (the read may predate the flip).
   */
  readonly #leaving = new Set<string>();
  /**
   * The batch still firing, with what follows its last tick (its flips, counts and metrics): the next batch is read
   * and planned while it fires (#dispatchBatch). Nothing ends the invocation before it settled (#settleSends).
   */
  #dispatching: Promise<void> | undefined;
  /** Pollers whose item refused a write as not this shard's: nothing more is fired or written for them. */
  readonly #refused = new Set<string>();
  readonly #progress = new Map<string, PollerProgress>();
  readonly #runningFires = new Map<string, TrackedFire>();
  readonly #sends = new Set<Promise<void>>();
  readonly #writes = new WriteQueue(WRITE_CONCURRENCY);
  readonly #shardMetrics: RoundMetrics | undefined;
  readonly #pollerMetrics = new Map<string, RoundMetrics>();
  #lastFiredDueMs: number | undefined;
  /** Set by a re-take (#retake): the instant the next batch resumes every poller at, rebuilt from the items. */
  #resumeAfterRetake: number | undefined;
  #fired = 0;
  #skippedTotal = 0;

  readonly #input: ParsedShardInput;
  readonly #deps: ShardControllerDeps;
  readonly #deadline: Deadline;

  constructor(input: ParsedShardInput, deps: ShardControllerDeps, deadline: Deadline) {
    this.#input = input;
    this.#deps = deps;
    this.#deadline = deadline;
    this.#shardKey = input.shardKey;
    this.#log = deps.log.child({ pollerId: input.shardKey, executionId: input.executionId });
    this.#clock = deps.clock;
    this.#store = deps.store;
    this.#leaseTiming = deps.leaseTiming ?? DEFAULT_LEASE_TIMING;
    this.#timing = {
      ...DEFAULT_SHARD_TIMING,
      tick: deps.timing ?? DEFAULT_SHARD_TIMING.tick,
      guardMs: this.#leaseTiming.guardMs,
    };
    this.#shardMetrics =
      deps.metrics === undefined || deps.metrics.perPoller
        ? undefined
        : new RoundMetrics(deps.metrics).forPoller(input.shardKey);
  }

  async run(): Promise<ShardOutput> {
    const input = this.#input;
    const clock = this.#clock;
    const counted = input.loop?.executionId === input.executionId ? input.loop.historyEvents : 0;
    const history = historyAfterRound(
      counted,
      historyEventsBeforeRound(input, clock.now()),
      input.historyBudget,
    );
    if (history.handOver) {
      // The previous round released the lease at its hand-back; an attempt that failed after taking it did not:
      // release it now, so the fresh execution takes the next epoch at once instead of waiting it out.
      const held = (await this.#store.readShard(input.shard))?.lease;
      if (held?.owner === input.executionId && held.validUntilMs > clock.now()) {
        await this.#store.releaseLease(input.shard, released(held, clock.now()), clock.now());
      }
      this.#log.info('handing over to a fresh execution', { historyEvents: history.events });
      throw new HandOverRequestedSignal(this.#shardKey, history.events, input.historyBudget);
    }
    // Set for a batch that rebuilds the state from the items: the first, and the first after a re-take.
    let resumeFromMs: number | undefined = await this.#acquireLease();
    const firstRound = input.loop?.executionId !== input.executionId;
    let firstReadAtMs: number | undefined;
    let renewNow = false;
    for (;;) {
      const lease = await this.#renewIfDue(renewNow);
      resumeFromMs = this.#takeResumeAfterRetake() ?? resumeFromMs;
      let reads: ShardMemberRead[];
      try {
        reads = await this.#store.queryMembers(input.shard);
      } catch (error) {
        // Nothing fired yet: Step Functions retries the round, which resumes where this lease was released (held,
        // it would resume at its end, 30 s on). Else hand back (after the batch still firing); the next round reads again.
        if (this.#fired === 0 && this.#sends.size === 0 && this.#dispatching === undefined) {
          await this.#releaseQuietly();
          throw error;
        }
        this.#log.error('reading the shard failed, handing back', { error: describeCause(error) });
        return this.#handBack(
          { kind: 'hand-back', wakeAt: clock.now(), nextDueAt: undefined },
          lease,
          history.events,
        );
      }
      firstReadAtMs ??= clock.now();
      if (reads.length === 0 && this.#state.size === 0) {
        const again = noMemberReadAgainAt(
          firstRound,
          firstReadAtMs,
          clock.now(),
          this.#deadline() - this.#timing.tick.handBackMarginMs,
        );
        if (again !== undefined) {
          await sleepUntil(clock, again);
          continue;
        }
        await this.#release(undefined);
        this.#log.info('no pollers name the shard: stopping');
        throw new PollerStoppedSignal(this.#shardKey, 'no pollers');
      }
      if (resumeFromMs !== undefined) this.#state = recordedState(reads, input.shard);
      this.#noteRead(reads);
      const items = new Map(reads.map((read) => [read.item.pollerId, read.item] as const));
      const before = this.#state;
      const plan = planShardRound({
        shard: input.shard,
        executionId: input.executionId,
        members: batchMembers(
          reads.filter((read) => !this.#leaving.has(read.item.pollerId)),
          before,
          input.shard,
          this.#leftBehind,
          this.#refused,
        ),
        state: before,
        lease,
        resumeFromMs,
        nowMs: clock.now(),
        deadlineMs: this.#deadline(),
        timing: this.#timing,
        ...(this.#deps.size ? { size: this.#deps.size } : {}),
      });
      resumeFromMs = undefined;
      this.#state = plan.state;
      for (const [pollerId, count] of plan.skipped) this.#noteSkipped(pollerId, count);
      // A poller leaving flips to its new shard once this batch's ticks (all due before movedAt) went out, so that
      // the flip carries what they counted.
      const records = recordNews(plan.records, items);
      const flips = records.filter((record) => record.kind === 'moved-out');
      for (const flip of flips) this.#leaving.add(flip.pollerId);
      this.#writeRecords(
        records.filter((record) => record.kind !== 'moved-out'),
        reads,
        lease.epoch,
      );
      this.#writeClaims(
        claimsNeeded({
          ticks: plan.ticks,
          state: plan.state,
          before,
          records: plan.records,
          claimed: this.#claimed,
          recorded: this.#recorded,
          nowMs: clock.now(),
        }),
        lease.epoch,
      );
      await this.#dispatchBatch(plan.ticks, flips, reads, lease);
      renewNow = plan.heldByLease.length > 0;
      if (plan.continuation.kind === 'hand-back')
        return this.#handBack(plan.continuation, lease, history.events);
      await sleepUntil(clock, plan.continuation.readAt);
    }
  }

  /** Waits for the batch still firing, whatever its end, then for its sends and the writes queued. */
  async firedOut(): Promise<void> {
    await this.#dispatching?.catch(() => {});
    await Promise.all([...this.#sends]);
    await this.#writes.drain();
  }

  flushMetrics(): void {
    this.#shardMetrics?.flush();
    for (const metrics of this.#pollerMetrics.values()) metrics.flush();
  }

  /** Takes or renews the lease (decision 3); returns the instant every poller resumes at. */
  async #acquireLease(): Promise<number> {
    const input = this.#input;
    const clock = this.#clock;
    const current = await this.#store.readShard(input.shard);
    const carried =
      input.loop === undefined
        ? undefined
        : {
            laterRound: input.loop.executionId === input.executionId,
            epoch: input.loop.epoch,
            handedBackAtMs: input.loop.handedBackAtMs,
          };
    const start = decideLeaseStart(current, input.executionId, carried, clock.now(), this.#leaseTiming);
    if (start.kind === 'end') {
      this.#log.info('not taking the shard', { reason: start.reason });
      throw new PollerStoppedSignal(this.#shardKey, start.reason);
    }
    const written =
      start.kind === 'take'
        ? await this.#store.takeLease(input.shard, start.lease, start.expected)
        : await this.#store.renewLease(input.shard, start.lease, clock.now());
    if (written.kind === 'lost') {
      const reason =
        start.kind === 'take'
          ? `shard already served by ${written.current?.lease?.owner ?? 'another execution'}`
          : supersededReason(written.current);
      this.#log.info('lost the shard', { reason });
      throw new PollerStoppedSignal(this.#shardKey, reason);
    }
    this.#lease = written.lease;
    if (start.kind === 'take')
      this.#log.info('took the shard', { epoch: written.lease.epoch, resumeFromMs: start.resumeFromMs });
    return start.resumeFromMs;
  }

  /**
   * The lease to plan with: renewed when due (decision 3). A lease that ran out while this invocation held it
   * (frozen, or the table out of reach past its end) is re-taken at the next epoch on exactly that read, and the
   * new epoch fires no poller before its own claim on it was written (#retake). A refused renewal or take of a
   * lease another execution holds ends the shard at once.
   */
  async #renewIfDue(force: boolean): Promise<ShardLease> {
    const lease = this.#heldLease();
    const nowMs = this.#clock.now();
    if (!force && !renewalDue(lease, nowMs, this.#leaseTiming)) return lease;
    try {
      const written = await this.#store.renewLease(
        this.#input.shard,
        renewed(lease, nowMs, this.#leaseTiming),
        nowMs,
      );
      if (written.kind === 'written') {
        this.#lease = written.lease;
        return written.lease;
      }
      const retaken = ranOutStillOurs(lease, written.current, this.#clock.now())
        ? await this.#retake(lease)
        : undefined;
      if (retaken !== undefined) return retaken;
      await this.#settleSends();
      await this.#writes.drain();
      const reason = supersededReason(written.current);
      this.#logSummary('superseded', { reason });
      throw new PollerStoppedSignal(this.#shardKey, reason);
    } catch (error) {
      if (error instanceof PollerStoppedSignal) throw error;
      // The lease held still covers what it covers; planning holds back every tick beyond it.
      this.#log.error('renewing the lease failed', { error: describeCause(error) });
      return lease;
    }
  }

  /**
   * Re-takes this invocation's own lease that ran out, at the next epoch on exactly the lease read. Its pollers may
   * have been reassigned meanwhile (the planner judged the shard dead): every poller's ticks wait for a claim of the
   * new epoch, written on the condition that the item still names this shard. Undefined when the take lost.
   */
  async #retake(expired: ShardLease): Promise<ShardLease | undefined> {
    const next = retaken(expired, expired.owner, this.#clock.now(), this.#leaseTiming);
    const written = await this.#store.takeLease(this.#input.shard, next, expired);
    if (written.kind === 'lost') return undefined;
    this.#lease = written.lease;
    this.#recorded.clear();
    // A poller refused under the old epoch (reassigned away meanwhile) may name this shard again: judged anew.
    this.#refused.clear();
    // The next batch rebuilds the state from the items, as a new invocation would: a poller reassigned away and
    // back meanwhile carries another shard's loop, which the memory of this one does not know.
    this.#resumeAfterRetake = Math.max(
      expired.validUntilMs,
      (this.#lastFiredDueMs ?? Number.NEGATIVE_INFINITY) + 1,
    );
    this.#log.info('re-took the shard after its lease ran out', {
      epoch: written.lease.epoch,
      ranOutAt: new Date(expired.validUntilMs).toISOString(),
    });
    return written.lease;
  }

  /** The resume instant a re-take asked for, once. */
  #takeResumeAfterRetake(): number | undefined {
    const resumeAtMs = this.#resumeAfterRetake;
    this.#resumeAfterRetake = undefined;
    return resumeAtMs;
  }

  #heldLease(): ShardLease {
    if (this.#lease === undefined) throw new Error('no lease held');
    return this.#lease;
  }

  /**
   * What the items say was claimed (by any owner: the claim the worker kit needs). Not what they say this epoch
   * recorded: the read is the index's, eventually consistent, so a poller counts as this epoch's (#recorded) only
   * once this invocation's own claim write on it succeeded, its condition (the item names this shard, no later
   * epoch wrote there) checked on the base table: one write per poller per invocation.
   */
  #noteRead(reads: readonly ShardMemberRead[]): void {
    for (const { item } of reads) {
      if (item.claimedSeq !== undefined) {
        this.#claimed.set(item.pollerId, Math.max(item.claimedSeq, this.#claimed.get(item.pollerId) ?? 0));
        this.#confirmed.set(
          item.pollerId,
          Math.max(item.claimedSeq, this.#confirmed.get(item.pollerId) ?? 0),
        );
      }
    }
  }

  #writeRecords(records: readonly PollerRecord[], reads: readonly ShardMemberRead[], epoch: number): void {
    if (records.length === 0) return;
    const at = new Date(this.#clock.now()).toISOString();
    // The shard a poller moves to: its pending move as read (the flip holds only while the item still names it).
    const moveTo = new Map(
      reads.map((read) => [read.item.pollerId, read.item.moveTo ?? read.placement.shard]),
    );
    for (const record of records) {
      if (record.kind === 'moved-out') this.#leftBehind.add(record.pollerId);
      const to = moveTo.get(record.pollerId);
      const write: PollerWrite | undefined =
        record.kind === 'stopped'
          ? { kind: 'stopped', reason: record.reason, at }
          : record.kind === 'notes'
            ? { kind: 'notes', notes: record.notes, at }
            : record.kind === 'moved-out' && to !== undefined
              ? { kind: 'moved-out', to, loop: record.loop }
              : undefined; // schedule-changed: a claim with the re-anchored loop (claimsNeeded)
      if (write === undefined) continue;
      if (record.kind === 'stopped')
        this.#log.info('poller stopped', { poller: record.pollerId, reason: record.reason });
      if (write.kind !== 'moved-out') {
        this.#enqueueWrite(record.pollerId, epoch, write);
        continue;
      }
      // The last write this shard makes on the item: once the sends under way settled, it carries their counts.
      const sends = [...this.#sends];
      this.#enqueueWrite(record.pollerId, epoch, async () => {
        await Promise.all(sends);
        return { ...write, ...this.#takeCounts(record.pollerId) };
      });
    }
  }

  #writeClaims(needs: readonly ClaimNeed[], epoch: number): void {
    for (const need of needs) {
      if (this.#claiming.has(need.pollerId) || this.#refused.has(need.pollerId)) continue;
      let settled: () => void = () => {};
      this.#claiming.set(
        need.pollerId,
        new Promise((resolve) => {
          settled = resolve;
        }),
      );
      this.#claimed.set(need.pollerId, Math.max(need.claimedSeq, this.#claimed.get(need.pollerId) ?? 0));
      const progress = this.#progressOf(need.pollerId);
      const counts = this.#takeCounts(need.pollerId);
      const write: PollerWrite = {
        kind: 'claim',
        loop: need.loop,
        claimedSeq: need.claimedSeq,
        lastSeq: progress.lastSeq,
        lastTickAt: progress.lastDueAt === undefined ? undefined : new Date(progress.lastDueAt).toISOString(),
        nextTickAt: nextTickAtOf(this.#state.get(need.pollerId)),
        ...counts,
      };
      this.#enqueueWrite(need.pollerId, epoch, write, (outcome) => {
        this.#claiming.delete(need.pollerId);
        if (outcome === 'written') {
          // A write of an epoch this invocation has since re-taken confirms nothing for the new one.
          if (epoch === this.#lease?.epoch) this.#recorded.add(need.pollerId);
          this.#confirmed.set(
            need.pollerId,
            Math.max(need.claimedSeq, this.#confirmed.get(need.pollerId) ?? 0),
          );
        } else {
          // Not written: the counts ride on the next write; the claim is asked for again.
          this.#restoreCounts(need.pollerId, counts);
          this.#claimed.set(need.pollerId, this.#confirmed.get(need.pollerId) ?? 0);
        }
        settled();
      });
    }
  }

  /**
   * The counts noted since the poller's last write, as the next write ADDs them (only those above 0); taken, so a
   * write that fails gives them back (#restoreCounts).
   */
  #takeCounts(pollerId: string): CountsAdded {
    const progress = this.#progressOf(pollerId);
    const added: CountsAdded = {
      ...(progress.skipped > 0 ? { skippedTicksAdded: progress.skipped } : {}),
      ...(progress.failedFires > 0 ? { failedFiresAdded: progress.failedFires } : {}),
      ...(progress.overlapSkips > 0 ? { overlapSkipsAdded: progress.overlapSkips } : {}),
      ...(progress.fireError !== undefined ? { fireError: progress.fireError } : {}),
    };
    progress.skipped = 0;
    progress.failedFires = 0;
    progress.overlapSkips = 0;
    progress.fireError = undefined;
    return added;
  }

  #restoreCounts(pollerId: string, added: CountsAdded): void {
    const progress = this.#progressOf(pollerId);
    progress.skipped += added.skippedTicksAdded ?? 0;
    progress.failedFires += added.failedFiresAdded ?? 0;
    progress.overlapSkips += added.overlapSkipsAdded ?? 0;
    progress.fireError ??= added.fireError;
  }

  /**
   * A write in the background (bounded): never awaited by a tick. 'not-ours' stops the poller at once. A write
   * given as a function is made when its turn comes (it may wait for what it reports).
   */
  #enqueueWrite(
    pollerId: string,
    epoch: number,
    write: PollerWrite | (() => Promise<PollerWrite>),
    settled: (outcome: PollerWriteOutcome | 'failed') => void = () => {},
  ): void {
    this.#writes.push(async () => {
      let outcome: PollerWriteOutcome | 'failed';
      const made = typeof write === 'function' ? await write() : write;
      try {
        outcome = await this.#store.writePoller(pollerId, this.#input.shard, epoch, made);
      } catch (error) {
        this.#log.error('writing a poller failed', {
          poller: pollerId,
          write: made.kind,
          error: describeCause(error),
        });
        outcome = 'failed';
      }
      if (outcome === 'not-ours') {
        this.#refused.add(pollerId);
        this.#log.info("poller is no longer this shard's", { poller: pollerId, write: made.kind });
      }
      settled(outcome);
    });
  }

  /**
   * Starts firing a batch and returns once the batch before it is done: the loop then sleeps to the next batch's
   * read-ahead and reads and plans it while this one fires. Read after the last tick instead, the Query's round trip
   * and the planning fell on the next batch's first ticks (a third of the late releases of a 320 MB shard at 100
   * fires/s). The batches' ticks do not interleave (each plans from the state after the one before), so two timelines
   * at most run at once. A poller leaving flips once its last ticks went out, carrying what they counted.
   */
  async #dispatchBatch(
    ticks: readonly ShardTick[],
    flips: readonly PollerRecord[],
    reads: readonly ShardMemberRead[],
    lease: ShardLease,
  ): Promise<void> {
    const before = this.#dispatching;
    // Settled once this batch fired and the one before is done (its flips first); a failure of the one before is
    // this one's too (its post-work skipped: the round is failing).
    const done = this.#dispatch(ticks, lease)
      .then(() => before)
      .then(() => {
        this.#writeRecords(flips, reads, lease.epoch);
        for (const flip of flips) this.#leaving.delete(flip.pollerId);
        // Skips are written within a batch of being counted, not with the next claim minutes later: an invocation
        // that ends on a failure (the table out of reach, superseded) takes no count it held with it.
        this.#writeCounts(lease.epoch, true);
        this.#flushMetricsIfDue();
      });
    // Awaited by the next batch or #settleSends; a failure is the round's, never an unhandled rejection meanwhile.
    done.catch(() => {});
    this.#dispatching = done;
    await before;
  }

  /**
   * Fires the batch's ticks in due order on one timeline: each invoke is opened sendOpenLeadMs ahead and released
   * at its due millisecond (sleepUntil, never a spin); whether it still goes out is decided at the release.
   */
  async #dispatch(ticks: readonly ShardTick[], lease: ShardLease): Promise<void> {
    const lead = this.#timing.tick.sendOpenLeadMs;
    const steps = ticks
      .flatMap((tick) => [
        { at: tick.dueAt - lead, open: true, tick },
        { at: tick.dueAt, open: false, tick },
      ])
      .sort((a, b) => a.at - b.at || (a.open === b.open ? 0 : a.open ? -1 : 1));
    const gates = new Map<ShardTick, () => void>();
    for (const step of steps) {
      await sleepUntil(this.#clock, step.at);
      if (step.open) {
        const gate = this.#open(step.tick, lease);
        if (gate !== undefined) gates.set(step.tick, gate);
        continue;
      }
      const gate = gates.get(step.tick);
      if (gate !== undefined) gate();
      else this.#releaseUnopened(step.tick, lease);
    }
  }

  /** Opens a tick's invoke; returns the function that releases it, or undefined when nothing was opened. */
  #open(tick: ShardTick, lease: ShardLease): (() => void) | undefined {
    if (this.#refused.has(tick.pollerId) || this.#leftBehind.has(tick.pollerId)) return undefined;
    // An `overlap: skip` poller whose fire still runs: nothing is prepared; decided at the tick (releaseUnopened).
    const running = this.#runningFires.get(tick.pollerId);
    if (tick.config.overlap === 'skip' && running !== undefined && running.answer === undefined)
      return undefined;
    if (this.#joinClaimUnderWay(tick) !== undefined) return undefined;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#send(tick, lease, released);
    return release;
  }

  /** At the release of a tick not opened: an `overlap: skip` poller's fire may have answered meanwhile. */
  #releaseUnopened(tick: ShardTick, lease: ShardLease): void {
    if (this.#refused.has(tick.pollerId) || this.#leftBehind.has(tick.pollerId)) return;
    const running = this.#runningFires.get(tick.pollerId);
    if (running !== undefined && running.answer === undefined) {
      this.#progressOf(tick.pollerId).overlapSkips += 1;
      this.#metricsFor(tick.pollerId)?.noteOverlapSkip(this.#clock.now());
      return;
    }
    const claim = this.#joinClaimUnderWay(tick);
    this.#send(
      tick,
      lease,
      Promise.resolve(),
      claim && Promise.race([claim, this.#clock.sleep(JOIN_CLAIM_WAIT_MS)]),
    );
  }

  /**
   * The claim this invocation is writing on joining the tick's poller, if the tick comes first (a starved sandbox,
   * a slow table; rounds that start in phase with a cadence would meet it every round): the tick waits for it, a
   * while, instead of being withheld at once. Not for `overlap: skip` pollers: two of their ticks could then wait
   * and go out together.
   */
  #joinClaimUnderWay(tick: ShardTick): Promise<void> | undefined {
    if (tick.config.overlap === 'skip' || this.#recorded.has(tick.pollerId)) return undefined;
    return this.#claiming.get(tick.pollerId);
  }

  /** Sends a tick (after `first`, if given: nothing is opened until then), decided at its release. */
  #send(tick: ShardTick, lease: ShardLease, releasedAt: Promise<void>, first?: Promise<void>): void {
    const target = tick.config.target ?? this.#deps.defaultTarget;
    const event = {
      pollerId: tick.pollerId,
      seq: tick.seq,
      scheduledAt: new Date(tick.dueAt).toISOString(),
      ...(tick.config.payload ? { payload: tick.config.payload } : {}),
    };
    let precisionMs = 0;
    const hold: SendHold = {
      openAt: async () => {},
      releaseAt: async () => {
        await releasedAt;
        const nowMs = this.#clock.now();
        const verdict = this.#refused.has(tick.pollerId)
          ? 'unclaimed'
          : releaseOf(
              tick,
              lease,
              this.#confirmedFor(tick.pollerId),
              nowMs,
              this.#timing.guardMs,
              this.#timing.tick.sendAllowanceMs,
            );
        precisionMs = nowMs - tick.dueAt;
        return verdict === 'send';
      },
    };
    const sending = (async () => {
      await first;
      try {
        if (tick.config.overlap === 'skip') {
          const fire = await this.#deps.invoker.fireAwaitingAnswer(target, event, hold);
          if (fire === 'withheld') return this.#noteWithheld(tick);
          const tracked: TrackedFire = { seq: fire.seq, answer: undefined };
          this.#runningFires.set(tick.pollerId, tracked);
          void fire.answer.then((answer) => {
            tracked.answer = answer;
            if (answer.kind === 'failed') this.#noteFailedFire(tick.pollerId, answer.message);
          });
        } else if ((await this.#deps.invoker.fire(target, event, hold)) === 'withheld') {
          return this.#noteWithheld(tick);
        }
        this.#noteFired(tick, precisionMs);
      } catch (error) {
        if (!(error instanceof WorkerInvokeError)) throw error;
        // It may have arrived: it counts as fired, and the failure is counted and logged.
        this.#noteFired(tick, precisionMs);
        this.#noteFailedFire(tick.pollerId, error.message);
      }
    })();
    const tracked = sending.catch((error: unknown) => {
      this.#log.error('a fire failed unexpectedly', {
        poller: tick.pollerId,
        seq: tick.seq,
        error: describeCause(error),
      });
    });
    this.#sends.add(tracked);
    void tracked.finally(() => this.#sends.delete(tracked));
  }

  /**
   * The claim a tick of the poller may fire under: none until this epoch recorded the poller's grid (its join
   * claim written). A poller moved in is resumed at `movedAt` from the loop on its item, so ticks fired before this
   * shard's own record would be fired again by the next invocation; after the record it resumes from that.
   */
  #confirmedFor(pollerId: string): number {
    return this.#recorded.has(pollerId) ? (this.#confirmed.get(pollerId) ?? 0) : 0;
  }

  #noteFired(tick: ShardTick, precisionMs: number): void {
    const progress = this.#progressOf(tick.pollerId);
    progress.lastSeq = tick.seq;
    progress.lastDueAt = tick.dueAt;
    this.#lastFiredDueMs = Math.max(this.#lastFiredDueMs ?? tick.dueAt, tick.dueAt);
    this.#fired += 1;
    this.#metricsFor(tick.pollerId)?.noteFire(precisionMs, this.#clock.now());
  }

  /**
   * Every tick withheld is skipped (counted). One withheld because the lease ran out before its release (a starved
   * or frozen sandbox woke late) is due before the lease's end, so no later owner fires it either: a takeover
   * resumes at that end, this shard's next round at its release, both after the tick.
   */
  #noteWithheld(tick: ShardTick): void {
    this.#noteSkipped(tick.pollerId, 1);
  }

  #noteSkipped(pollerId: string, count: number): void {
    this.#progressOf(pollerId).skipped += count;
    this.#skippedTotal += count;
    this.#metricsFor(pollerId)?.noteSkipped(count, this.#clock.now());
  }

  #noteFailedFire(pollerId: string, message: string): void {
    const progress = this.#progressOf(pollerId);
    progress.failedFires += 1;
    progress.fireError = { message, at: new Date(this.#clock.now()).toISOString() };
    this.#metricsFor(pollerId)?.noteFailedFire(this.#clock.now());
    this.#log.error('fire failed', { poller: pollerId, error: message });
  }

  #progressOf(pollerId: string): PollerProgress {
    let progress = this.#progress.get(pollerId);
    if (progress === undefined) {
      progress = {
        lastSeq: undefined,
        lastDueAt: undefined,
        skipped: 0,
        failedFires: 0,
        overlapSkips: 0,
        fireError: undefined,
      };
      this.#progress.set(pollerId, progress);
    }
    return progress;
  }

  #metricsFor(pollerId: string): RoundMetrics | undefined {
    const setup = this.#deps.metrics;
    if (setup === undefined || !setup.perPoller) return this.#shardMetrics;
    let metrics = this.#pollerMetrics.get(pollerId);
    if (metrics === undefined) {
      metrics = new RoundMetrics(setup).forPoller(pollerId);
      this.#pollerMetrics.set(pollerId, metrics);
    }
    return metrics;
  }

  #flushMetricsIfDue(): void {
    const nowMs = this.#clock.now();
    this.#shardMetrics?.flushIfDue(nowMs);
    for (const metrics of this.#pollerMetrics.values()) metrics.flushIfDue(nowMs);
  }

  /** Every batch fired and every send settled (its 202, or its withholding): nothing of it is left in flight. */
  async #settleSends(): Promise<void> {
    const dispatching = this.#dispatching;
    await dispatching;
    if (this.#dispatching === dispatching) this.#dispatching = undefined;
    await Promise.all([...this.#sends]);
  }

  /**
   * Hands back to the Wait state: the sends and writes settle, the fires of `overlap: skip` pollers may answer
   * until the hand-back point, the skips counted since the last claim are written, and the lease is released with
   * `sleepUntil` = wakeAt (decision 3).
   */
  async #handBack(
    continuation: Extract<ShardContinuation, { kind: 'hand-back' }>,
    lease: ShardLease,
    historyEvents: number,
  ): Promise<ShardOutput> {
    await this.#settleSends();
    await this.#answersUntil(
      Math.min(continuation.wakeAt, this.#deadline() - this.#timing.tick.handBackMarginMs),
    );
    // The next round resumes at the release: the ticks that fell due since this one's last batch are decided here.
    const releaseAtMs = handBackInstant(this.#lastFiredDueMs, this.#clock.now());
    for (const [pollerId, count] of ticksUndecidedAtHandBack(this.#state, releaseAtMs)) {
      if (!this.#leftBehind.has(pollerId) && !this.#refused.has(pollerId)) this.#noteSkipped(pollerId, count);
    }
    // A claim still under way holds no count noted after it left: drained first, those ride on one more write.
    await this.#writes.drain();
    this.#writeCounts(lease.epoch);
    await this.#writes.drain();
    const handedBackAtMs = await this.#release(continuation.wakeAt, releaseAtMs);
    this.#logSummary('handing back', { wakeAt: new Date(continuation.wakeAt).toISOString() });
    const loop: ShardLoopState = {
      shard: this.#input.shard,
      epoch: lease.epoch,
      executionId: this.#input.executionId,
      historyEvents,
      historyBudget: this.#input.historyBudget,
      handedBackAtMs,
    };
    return {
      pollerId: this.#shardKey,
      wakeAt: isoSecond(continuation.wakeAt),
      loop: { ...loop },
    };
  }

  /**
   * Releases the lease (after every fired tick) at `atMs` (a hand-back counted the ticks up to it) or now; returns
   * the instant released at. Refused: superseded.
   */
  async #release(sleepUntilMs: number | undefined, atMs?: number): Promise<number> {
    await this.#settleSends();
    await this.#writes.drain();
    atMs ??= handBackInstant(this.#lastFiredDueMs, this.#clock.now());
    const written = await this.#store.releaseLease(
      this.#input.shard,
      released(this.#heldLease(), atMs),
      sleepUntilMs ?? atMs,
    );
    if (written.kind === 'lost') {
      const reason = supersededReason(written.current);
      this.#logSummary('superseded', { reason });
      throw new PollerStoppedSignal(this.#shardKey, reason);
    }
    return atMs;
  }

  /** Releases the lease before a failure Step Functions retries; a failure to release leaves it to run out. */
  async #releaseQuietly(): Promise<void> {
    const nowMs = this.#clock.now();
    try {
      await this.#store.releaseLease(this.#input.shard, released(this.#heldLease(), nowMs), nowMs);
    } catch (error) {
      this.#log.error('releasing the lease failed', { error: describeCause(error) });
    }
  }

  /** Waits (on timers, a look every 100 ms) for the answers of running synchronous fires until `untilMs`. */
  async #answersUntil(untilMs: number): Promise<void> {
    const unanswered = () => [...this.#runningFires.values()].some((fire) => fire.answer === undefined);
    while (unanswered() && this.#clock.now() < untilMs) {
      await this.#clock.sleep(Math.min(untilMs - this.#clock.now(), 100));
    }
  }

  /**
   * Counts since a poller's last write ride on a claim write (rare: late ticks, failures), at the hand-back or,
   * `joinedOnly`, after a batch: then only for pollers this epoch has joined, since a join claim still to come
   * carries them, and a write of counts in its place would hold that claim back and its ticks with it (after a
   * re-take, a hundred pollers counting the ticks withheld unclaimed kept their claims waiting batch after batch).
   */
  #writeCounts(epoch: number, joinedOnly = false): void {
    for (const [pollerId, progress] of this.#progress) {
      const poller = this.#state.get(pollerId);
      const counted = progress.skipped + progress.failedFires + progress.overlapSkips;
      if (counted === 0 || poller?.loop === undefined || this.#claiming.has(pollerId)) continue;
      if (joinedOnly && !this.#recorded.has(pollerId)) continue;
      const claimedSeq = this.#confirmed.get(pollerId) ?? 0;
      this.#writeClaims([{ pollerId, claimedSeq, loop: poller.loop, why: 'ahead' }], epoch);
    }
  }

  #logSummary(event: string, extra: Record<string, unknown> = {}): void {
    this.#log.info(event, {
      epoch: this.#lease?.epoch,
      pollers: this.#state.size,
      fired: this.#fired,
      skipped: this.#skippedTotal,
      ...extra,
    });
  }
}

/** Runs tasks with at most `limit` at once; a task never throws (each catches its own failure). */
class WriteQueue {
  readonly #waiting: (() => Promise<void>)[] = [];
  #running = 0;
  #idle: Promise<void> = Promise.resolve();
  #markIdle: () => void = () => {};

  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  push(task: () => Promise<void>): void {
    if (this.#running === 0 && this.#waiting.length === 0) {
      this.#idle = new Promise((resolve) => {
        this.#markIdle = resolve;
      });
    }
    this.#waiting.push(task);
    this.#next();
  }

  /** Resolves once every task pushed so far (and any pushed meanwhile) has settled. */
  drain(): Promise<void> {
    return this.#running === 0 && this.#waiting.length === 0 ? Promise.resolve() : this.#idle;
  }

  #next(): void {
    while (this.#running < this.#limit) {
      const task = this.#waiting.shift();
      if (task === undefined) break;
      this.#running += 1;
      void task()
        .catch(() => {})
        .finally(() => {
          this.#running -= 1;
          if (this.#running === 0 && this.#waiting.length === 0) this.#markIdle();
          else this.#next();
        });
    }
  }
}
