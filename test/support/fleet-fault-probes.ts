import { DEFAULT_LEASE_TIMING } from '../../functions/fleet/shard-lease';
import { FIELD } from '../../functions/shared/contract';
import type { DeclaredFleet } from '../../scripts/local-stack/seed-fleet';
import type { FireEvent, Harness, TimedOutRound } from './local-stack-harness';

/**
 * Probes for the fleet's fault suite (test/faults/fleet-*.test.ts): every fire the worker started, checked per
 * (pollerId, seq, scheduledAt) against the three rules of docs/design/fleet.md — no (poller, seq) fired twice, no
 * two fires of one poller closer than half its interval, and no missed tick that is not counted as skipped, except
 * the ticks of a documented takeover gap (a window the test names, whose length it asserts separately, or the span
 * of a shard round the local Lambda ended at its timeout: timedOutRoundGap).
 */

/** A span of scheduled times in which missed ticks are allowed uncounted (a takeover's gap), epoch ms. */
export interface AllowedGap {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface PollerVerdict {
  readonly pollerId: string;
  readonly fires: number;
  /** `seq` values fired more than once. */
  readonly duplicates: readonly number[];
  /** Consecutive fires (by scheduledAt) closer than half the interval: `seq@gapMs`. */
  readonly tooClose: readonly string[];
  /** Seqs missing between fires whose scheduled span lies outside every allowed gap. */
  readonly missedOutsideGaps: number;
  /** Seqs missing inside an allowed gap. */
  readonly missedInGaps: number;
  /** Where seqs are missing outside the allowed gaps: `first-last@scheduledAt of the fire before`. */
  readonly missedWhere: readonly string[];
}

/** The scheduled (non-trigger) fires of the stack, by poller, in seq order. */
export function firesByPoller(harness: Harness): Map<string, FireEvent[]> {
  const byPoller = new Map<string, FireEvent[]>();
  for (const event of harness.events) {
    if (event.event !== 'fire' || event.trigger !== undefined) continue;
    const fires = byPoller.get(event.poller) ?? [];
    fires.push(event);
    byPoller.set(event.poller, fires);
  }
  for (const fires of byPoller.values()) fires.sort((a, b) => a.seq - b.seq);
  return byPoller;
}

/**
 * Judges one poller's fires. `intervalMs(at)` is its interval at a scheduled instant (a test that edits the
 * cadence passes the one in force). Missing seqs are those between two consecutive fires' seqs; they are allowed
 * uncounted when the span between the two scheduled times meets an allowed gap.
 */
export function judgePoller(
  pollerId: string,
  fires: readonly FireEvent[],
  intervalMs: (scheduledAtMs: number) => number,
  allowed: readonly AllowedGap[] = [],
): PollerVerdict {
  const seen = new Set<number>();
  const duplicates = new Set<number>();
  for (const { seq } of fires) (seen.has(seq) ? duplicates : seen).add(seq);
  const unique = [...new Map(fires.map((fire) => [fire.seq, fire] as const)).values()].sort(
    (a, b) => a.seq - b.seq,
  );
  const tooClose: string[] = [];
  let missedOutsideGaps = 0;
  let missedInGaps = 0;
  const missedWhere: string[] = [];
  for (let index = 1; index < unique.length; index += 1) {
    const before = unique[index - 1] as FireEvent;
    const after = unique[index] as FireEvent;
    const fromMs = Date.parse(before.scheduledAt);
    const toMs = Date.parse(after.scheduledAt);
    const gapMs = toMs - fromMs;
    if (gapMs < intervalMs(toMs) / 2) tooClose.push(`${after.seq}@${gapMs}`);
    const missing = after.seq - before.seq - 1;
    if (missing <= 0) continue;
    const inGap = allowed.some((gap) => fromMs < gap.toMs && toMs > gap.fromMs);
    if (inGap) missedInGaps += missing;
    else {
      missedOutsideGaps += missing;
      missedWhere.push(`${before.seq + 1}-${after.seq - 1}@${before.scheduledAt}`);
    }
  }
  return {
    pollerId,
    fires: fires.length,
    duplicates: [...duplicates].sort((a, b) => a - b),
    tooClose,
    missedOutsideGaps,
    missedInGaps,
    missedWhere,
  };
}

/**
 * The misses each poller's item accounts for: `skippedTicks` (ticks withheld or lost, counted) plus `failedFires`
 * (ticks whose invoke failed or went unanswered, each also a `lastError`), 0 when absent. A failed fire may still
 * have reached the worker (an invoke sent and not answered), so this bounds the misses an operator can see.
 */
export async function accountedMissesOf(
  harness: Harness,
  pollerIds: readonly string[],
): Promise<Map<string, { skipped: number; failed: number }>> {
  const counts = new Map<string, { skipped: number; failed: number }>();
  for (const pollerId of pollerIds) {
    const item = await harness.readItem(pollerId);
    counts.set(pollerId, {
      skipped: Number(item?.[FIELD.skippedTicks]?.N ?? 0),
      failed: Number(item?.[FIELD.failedFires]?.N ?? 0),
    });
  }
  return counts;
}

/**
 * What the three rules say over the whole fleet: the (poller, seq) fired twice, the fires too close, and the
 * pollers whose missed ticks outside the allowed gaps exceed the skips their item counts.
 */
export interface FleetVerdict {
  readonly verdicts: readonly PollerVerdict[];
  readonly duplicates: readonly string[];
  readonly tooClose: readonly string[];
  /** `poller: missed N > skippedTicks S + failedFires F`. */
  readonly uncounted: readonly string[];
  readonly missedInGaps: number;
  readonly missedOutsideGaps: number;
  /** Shard rounds the local Lambda ended at their timeout; each one's span is an allowed gap (timedOutRoundGap). */
  readonly roundsTimedOut: number;
}

/**
 * The ticks a shard round killed at its timeout leaves: Step Functions retries it, and the retry resumes at the
 * end of the lease the killed round held (renewed at most at its end, so within a lease duration of it); what the
 * killed round fired since its last write is not known, so those ticks are not counted, by design (docs/design/
 * fleet.md, "Crashes"; fleet-shard-kill-retry bounds the gap). Allowed, as a test that kills a round allows it.
 */
export function timedOutRoundGap(round: TimedOutRound): AllowedGap {
  return { fromMs: round.startedAtMs, toMs: round.endedAtMs + DEFAULT_LEASE_TIMING.durationMs };
}

export async function judgeFleet(
  harness: Harness,
  pollerIds: readonly string[],
  intervalMs: (pollerId: string, scheduledAtMs: number) => number,
  allowed: readonly AllowedGap[] = [],
): Promise<FleetVerdict> {
  const byPoller = firesByPoller(harness);
  const accounted = await accountedMissesOf(harness, pollerIds);
  const gaps = [...allowed, ...harness.roundsTimedOut.map(timedOutRoundGap)];
  const verdicts = pollerIds.map((pollerId) =>
    judgePoller(pollerId, byPoller.get(pollerId) ?? [], (at) => intervalMs(pollerId, at), gaps),
  );
  return {
    verdicts,
    duplicates: verdicts.flatMap((v) => v.duplicates.map((seq) => `${v.pollerId}#${seq}`)),
    tooClose: verdicts.flatMap((v) => v.tooClose.map((close) => `${v.pollerId}#${close}`)),
    uncounted: verdicts.flatMap((v) => {
      const { skipped = 0, failed = 0 } = accounted.get(v.pollerId) ?? {};
      return v.missedOutsideGaps > skipped + failed
        ? [
            `${v.pollerId}: missed ${v.missedOutsideGaps} (${v.missedWhere.join(' ')}) > skippedTicks ${skipped} + failedFires ${failed}`,
          ]
        : [];
    }),
    missedInGaps: verdicts.reduce((sum, v) => sum + v.missedInGaps, 0),
    missedOutsideGaps: verdicts.reduce((sum, v) => sum + v.missedOutsideGaps, 0),
    roundsTimedOut: harness.roundsTimedOut.length,
  };
}

/** A declared fleet of `count` running pollers `p000`, `p001`, … every `everySeconds`. */
export function declaredFleet(count: number, everySeconds: number, prefix = 'p'): DeclaredFleet {
  return {
    source: 'fleet-faults',
    pollers: Array.from({ length: count }, (_, index) => ({
      id: `${prefix}${String(index).padStart(3, '0')}`,
      fields: { running: true, waitSeconds: everySeconds },
    })),
  };
}

/** The widest span between consecutive fires (by scheduledAt) over the given pollers: where the shard was down. */
export function widestScheduledGap(fires: readonly FireEvent[]): { fromMs: number; toMs: number } {
  const times = fires.map((fire) => Date.parse(fire.scheduledAt)).sort((a, b) => a - b);
  let widest = { fromMs: 0, toMs: 0 };
  for (let index = 1; index < times.length; index += 1) {
    const fromMs = times[index - 1] as number;
    const toMs = times[index] as number;
    if (toMs - fromMs > widest.toMs - widest.fromMs) widest = { fromMs, toMs };
  }
  return widest;
}

/**
 * judgeFleet until every missed tick is counted or `settleMs` passed: a shard counts skips in memory and writes
 * them with its next claim or at its hand-back (run-shard-round.ts), so the item's `skippedTicks` lags the fires.
 */
export async function judgeFleetSettled(
  harness: Harness,
  pollerIds: readonly string[],
  intervalMs: (pollerId: string, scheduledAtMs: number) => number,
  allowed: readonly AllowedGap[],
  settleMs: number,
): Promise<FleetVerdict> {
  const giveUpAt = Date.now() + settleMs;
  for (;;) {
    const verdict = await judgeFleet(harness, pollerIds, intervalMs, allowed);
    if (verdict.uncounted.length === 0 || Date.now() > giveUpAt) return verdict;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Kills a shard round mid-window: armed, it waits for the next watchdog invocation of the control plane (an
 * EventBridge Scheduled Event) and then arms LocalFunctions.armKill, so the kill lands on the next synchronous
 * controller invocation, a shard round (rounds come every few seconds; the watchdog's next one a period away).
 * Pass `onInvocationStart` to startHarness and `attach` the harness once it is up.
 */
export function shardRoundKiller(controllerName: string, killAfterMs: number) {
  let harness: Harness | undefined;
  let armed = false;
  return {
    onInvocationStart(start: { readonly functionName: string; readonly event: unknown }): void {
      const scheduled =
        typeof start.event === 'object' &&
        start.event !== null &&
        'source' in start.event &&
        start.event.source === 'aws.events';
      if (!armed || start.functionName !== controllerName || !scheduled) return;
      armed = false;
      harness?.stack.functions.armKill(controllerName, killAfterMs);
    },
    attach(attached: Harness): void {
      harness = attached;
    },
    arm(): void {
      armed = true;
    },
  };
}
