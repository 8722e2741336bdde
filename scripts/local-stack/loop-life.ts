import type { ShardItem } from '../../functions/fleet/shard-store';
import { highestSeqOn } from '../../functions/scheduling/round-step';
import { decodePollerItem, type PollerItem } from '../../functions/shared/control-item';
import type { ItemChange } from './control-table-watcher';

/** A loop took its poller: which generation, and where its `seq` continues (above every seq fired or claimed). */
export interface LoopStartedEvent {
  readonly event: 'loop-started';
  readonly poller: string;
  readonly generation: number;
  /** The new loop's first tick is this + 1. */
  readonly continuesAfterSeq: number;
  readonly everySeconds: number | null;
  readonly executionArn: string | null;
  /** Set when the watchdog restarted a dead loop (its words). */
  readonly restartReason: string | null;
}

/** A `waitseconds` edit took effect: `seq` is the first tick fired on the new cadence. */
export interface CadenceChangedEvent {
  readonly event: 'cadence-changed';
  readonly poller: string;
  readonly fromSeconds: number;
  readonly toSeconds: number;
  readonly seq: number;
  readonly scheduledAt: string;
}

/** What `--data` brought back: the pollers the persisted table held, and where each one's next loop continues. */
export interface ResumedEvent {
  readonly event: 'resumed';
  readonly dataDir: string;
  readonly pollers: readonly {
    readonly id: string;
    readonly running: boolean;
    /** The last tick recorded as fired; null when none was. */
    readonly seq: number | null;
    readonly continuesAfterSeq: number;
  }[];
}

/** Fleet variant: an execution took a shard's lease (a new epoch): the shard's loop runs in it from now on. */
export interface ShardTakenEvent {
  readonly event: 'shard-taken';
  readonly shard: string;
  readonly epoch: number;
  /** The execution that holds the lease. */
  readonly executionArn: string | null;
}

export type LoopLifeEvent = LoopStartedEvent | CadenceChangedEvent | ResumedEvent | ShardTakenEvent;

interface FireSeen {
  readonly seq: number;
  readonly scheduledAtMs: number;
}

/**
 * Tells the operator of `npm start` how each loop lives: read from the item's changes (a start takes a new
 * generation; an operator edits `waitseconds`) and from the fires. A cadence edit is applied by the loop, not by
 * the write: the tick already announced keeps its time and the one after follows the new interval, so the edit is
 * reported at the first fire whose gap from the one before is the new interval. A skipped tick keeps its seq and
 * leaves a gap of whole old intervals, so when the new interval is such a multiple (1 s → 2 s) one gap proves
 * nothing: that fire is reported once the next one comes the new interval after it too, and neither gap saw a skip
 * recorded on the item. (Window rules change the cadence by the clock, not by an edit: they are not reported here.)
 */
export class LoopLife {
  private readonly lastFire = new Map<string, FireSeen>();
  private readonly pendingCadence = new Map<string, { fromMs: number; toMs: number }>();
  /** A fire one new interval after the one before, awaiting the next to tell it from a skipped tick's gap. */
  private readonly candidate = new Map<string, FireSeen>();
  /** Pollers whose item recorded a skipped tick since their last fire. */
  private readonly skipSeen = new Set<string>();

  /** The lease epoch each shard was last seen at (the fleet variant). */
  private readonly shardEpochs = new Map<string, number>();

  /** The fleet variant's shard items as read now: a shard whose lease epoch rose was taken by a new execution. */
  onShards(shards: readonly ShardItem[]): ShardTakenEvent[] {
    const taken: ShardTakenEvent[] = [];
    for (const { shard, lease } of shards) {
      if (lease === undefined || lease.epoch === this.shardEpochs.get(shard)) continue;
      this.shardEpochs.set(shard, lease.epoch);
      taken.push({ event: 'shard-taken', shard, epoch: lease.epoch, executionArn: lease.owner });
    }
    return taken;
  }

  onItemChange(change: ItemChange): LoopLifeEvent[] {
    const before = change.before && decodePollerItem(change.pollerId, change.before);
    const after = change.after && decodePollerItem(change.pollerId, change.after);
    if (after === undefined) {
      this.forget(change.pollerId);
      return [];
    }
    if (after.generation !== undefined && after.generation !== before?.generation) {
      // A new loop lays a new grid at the cadence it reads: nothing pending applies to it.
      this.forget(change.pollerId);
      return [loopStarted(after, before)];
    }
    if ((after.skippedTicks ?? 0) > (before?.skippedTicks ?? 0)) this.skipSeen.add(change.pollerId);
    const [fromMs, toMs] = [before?.operator.intervalMs, after.operator.intervalMs];
    if (typeof fromMs === 'number' && typeof toMs === 'number' && fromMs !== toMs) {
      // Edited again before the first edit was applied: the loop goes from the cadence it still runs at.
      const running = this.pendingCadence.get(change.pollerId)?.fromMs ?? fromMs;
      this.candidate.delete(change.pollerId);
      if (running === toMs) this.pendingCadence.delete(change.pollerId);
      else this.pendingCadence.set(change.pollerId, { fromMs: running, toMs });
    }
    return [];
  }

  onFire(fire: {
    readonly poller: string;
    readonly seq: number;
    readonly scheduledAt: string;
  }): LoopLifeEvent[] {
    const scheduledAtMs = Date.parse(fire.scheduledAt);
    const seen: FireSeen = { seq: fire.seq, scheduledAtMs };
    const previous = this.lastFire.get(fire.poller);
    this.lastFire.set(fire.poller, seen);
    const skipped = this.skipSeen.delete(fire.poller);
    const candidate = this.candidate.get(fire.poller);
    this.candidate.delete(fire.poller);
    const pending = this.pendingCadence.get(fire.poller);
    if (pending === undefined || previous === undefined || fire.seq !== previous.seq + 1) return [];
    if (scheduledAtMs - previous.scheduledAtMs !== pending.toMs || skipped) return [];
    // Could this gap be ticks skipped at the old cadence? Then only the next gap tells.
    const skipShaped = pending.toMs % pending.fromMs === 0;
    if (skipShaped && candidate === undefined) {
      this.candidate.set(fire.poller, seen);
      return [];
    }
    const first = skipShaped && candidate !== undefined ? candidate : seen;
    this.pendingCadence.delete(fire.poller);
    return [
      {
        event: 'cadence-changed',
        poller: fire.poller,
        fromSeconds: pending.fromMs / 1_000,
        toSeconds: pending.toMs / 1_000,
        seq: first.seq,
        scheduledAt: new Date(first.scheduledAtMs).toISOString(),
      },
    ];
  }

  private forget(pollerId: string): void {
    this.pendingCadence.delete(pollerId);
    this.lastFire.delete(pollerId);
    this.candidate.delete(pollerId);
    this.skipSeen.delete(pollerId);
  }
}

function loopStarted(after: PollerItem, before: PollerItem | undefined): LoopStartedEvent {
  const restarted = (after.restarts ?? 0) > (before?.restarts ?? 0);
  return {
    event: 'loop-started',
    poller: after.pollerId,
    generation: after.generation ?? 0,
    continuesAfterSeq: before === undefined ? 0 : highestSeqOn(before),
    everySeconds: after.waitSeconds ?? null,
    executionArn: after.executionArn ?? null,
    restartReason: restarted ? (after.lastRestartReason ?? null) : null,
  };
}

/** The `resumed` event for the items a persisted table held before anything was seeded. */
export function resumedFrom(dataDir: string, items: readonly PollerItem[]): ResumedEvent {
  return {
    event: 'resumed',
    dataDir,
    pollers: [...items]
      .sort((a, b) => a.pollerId.localeCompare(b.pollerId))
      .map((item) => ({
        id: item.pollerId,
        running: item.operator.running === true,
        seq: item.seq ?? null,
        continuesAfterSeq: highestSeqOn(item),
      })),
  };
}

/** The `npm start` screen's line for each. */
export function formatLoopLife(event: LoopLifeEvent): string {
  switch (event.event) {
    case 'loop-started': {
      const every = event.everySeconds === null ? '' : ` every ${event.everySeconds} s,`;
      const why = event.restartReason === null ? '' : ` (restarted: ${event.restartReason})`;
      return `loop  ${event.poller}  started: generation ${event.generation},${every} seq continues at ${event.continuesAfterSeq + 1}${why}`;
    }
    case 'shard-taken': {
      const execution = event.executionArn === null ? '' : ` by ${event.executionArn.split(':').at(-1)}`;
      return `loop  shard ${event.shard}  taken: epoch ${event.epoch}${execution}`;
    }
    case 'cadence-changed':
      return `cadence ${event.poller}  ${event.fromSeconds} s → ${event.toSeconds} s from seq ${event.seq} (scheduled ${event.scheduledAt})`;
    case 'resumed':
      return `resumed from ${event.dataDir}: ${
        event.pollers.length === 0
          ? 'no pollers'
          : event.pollers
              .map(
                (poller) =>
                  `${poller.id} (${poller.running ? 'running' : 'stopped'}, last recorded seq ${poller.seq ?? '-'}, fired or claimed through ${poller.continuesAfterSeq}: its next loop starts at seq ${poller.continuesAfterSeq + 1})`,
              )
              .join(', ')
      }`;
  }
}
