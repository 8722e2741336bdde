import { percentile } from './stats';

/** One tick the local stack fired (what its `fire` event reports), times as epoch ms, sub-millisecond. */
export interface FleetFire {
  readonly poller: string;
  readonly seq: number;
  readonly scheduledAtMs: number;
  /** When the controller's invoke reached the Lambda endpoint. */
  readonly sentAtMs: number;
  /** When the worker's handler started. */
  readonly firedAtMs: number;
}

/** A poller of the fleet and its cadence. */
export interface FleetPoller {
  readonly id: string;
  readonly intervalMs: number;
  /**
   * Ticks its item says were not fired on purpose during the window (skippedTicks + overlapSkips, end − start):
   * a late tick withheld rather than fired close to the next one is counted, not missed.
   */
  readonly countedSkips: number;
}

/** The measured window: ticks scheduled in [startMs, endMs). */
export interface FleetWindow {
  readonly startMs: number;
  readonly endMs: number;
}

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface FleetTickStats {
  /** Fires scheduled in the window. */
  readonly fires: number;
  /** sentAt − scheduledAt, where the local Lambda endpoint received the invoke. */
  readonly precisionMs: Percentiles;
  /**
   * The shard controllers' own released − due (their metric lines; the fleet variant only): judged instead of
   * `precisionMs`, whose arrival time also waits on the local stack's one process (dynalite's Query and Scans).
   */
  readonly controllerPrecisionMs?: Percentiles;
  /** firedAt − scheduledAt. */
  readonly latenessMs: Percentiles;
  /** Fires of a poller+seq already fired (each extra one counts). */
  readonly duplicates: number;
  /** Grid slots in the window with no fire. */
  readonly emptySlots: number;
  /** Of those, the ones the items count as skipped on purpose. */
  readonly countedSkips: number;
  /** Empty slots the items do not account for: ticks lost. */
  readonly missedTicks: number;
  /** Pollers with no fire at all in the window. */
  readonly silentPollers: number;
}

export function percentiles(values: readonly number[]): Percentiles {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length === 0 ? Number.NaN : values.reduce((max, value) => Math.max(max, value), -Infinity),
  };
}

const inWindow = (window: FleetWindow) => (fire: FleetFire) =>
  fire.scheduledAtMs >= window.startMs && fire.scheduledAtMs < window.endMs;

/** Fires beyond the first of each poller+seq: a tick delivered twice. */
export function countDuplicates(fires: readonly FleetFire[]): number {
  const seen = new Set<string>();
  let duplicates = 0;
  for (const fire of fires) {
    const key = `${fire.poller}\u0000${fire.seq}`;
    if (seen.has(key)) duplicates += 1;
    else seen.add(key);
  }
  return duplicates;
}

/**
 * Grid slots of one poller in the window with no fire scheduled at them. The grid is the poller's cadence through
 * its first fire (of all `fires`, warm-up included: the loop anchors its ticks on one grid). A poller that never
 * fired has every slot of the window empty.
 */
export function emptySlotsOf(
  poller: Pick<FleetPoller, 'id' | 'intervalMs'>,
  fires: readonly FleetFire[],
  window: FleetWindow,
): number {
  const own = fires.filter((fire) => fire.poller === poller.id);
  const interval = poller.intervalMs;
  const [first] = own;
  if (first === undefined) return Math.floor((window.endMs - window.startMs) / interval);
  // First grid slot at or after the window's start, on the phase of the poller's first fire.
  const stepsToStart = Math.ceil((window.startMs - first.scheduledAtMs) / interval);
  const firstSlot = first.scheduledAtMs + stepsToStart * interval;
  const fired = new Set(own.filter(inWindow(window)).map((fire) => fire.scheduledAtMs));
  let empty = 0;
  for (let slot = firstSlot; slot < window.endMs; slot += interval) {
    if (!fired.has(slot)) empty += 1;
  }
  return empty;
}

/** Every figure of one fleet run from its fires (in arrival order) and pollers. */
export function fleetTickStats(
  fires: readonly FleetFire[],
  pollers: readonly FleetPoller[],
  window: FleetWindow,
): FleetTickStats {
  const measured = fires.filter(inWindow(window));
  let emptySlots = 0;
  let countedSkips = 0;
  let missedTicks = 0;
  let silentPollers = 0;
  for (const poller of pollers) {
    const empty = emptySlotsOf(poller, fires, window);
    emptySlots += empty;
    countedSkips += Math.min(empty, poller.countedSkips);
    missedTicks += Math.max(0, empty - poller.countedSkips);
    if (!measured.some((fire) => fire.poller === poller.id)) silentPollers += 1;
  }
  return {
    fires: measured.length,
    precisionMs: percentiles(measured.map((fire) => fire.sentAtMs - fire.scheduledAtMs)),
    latenessMs: percentiles(measured.map((fire) => fire.firedAtMs - fire.scheduledAtMs)),
    duplicates: countDuplicates(measured),
    emptySlots,
    countedSkips,
    missedTicks,
    silentPollers,
  };
}

/** The targets for one fleet. */
export interface FleetTargets {
  /** Controller precision p99 at most this (5 ms). */
  readonly precisionP99Ms: number;
  /** Worker lateness p99 at most this: the latency model's async-invoke p99 + 20 ms. */
  readonly latenessP99Ms: number;
}

/** Which targets one fleet met; a group with no slot in the window (a 60 s poller in a short one) has none to meet. */
export interface FleetVerdict {
  readonly precision: boolean;
  readonly lateness: boolean;
  readonly noDuplicate: boolean;
  readonly noMissedTick: boolean;
  readonly all: boolean;
}

/** The precision the targets judge: the controllers' own where they reported it, else as the endpoint saw it. */
export function judgedPrecision(stats: FleetTickStats): Percentiles {
  return stats.controllerPrecisionMs ?? stats.precisionMs;
}

export function judgeFleet(stats: FleetTickStats, targets: FleetTargets): FleetVerdict {
  // NaN (no fire at all) fails every comparison, as it should.
  const precision = judgedPrecision(stats).p99 <= targets.precisionP99Ms;
  const lateness = stats.latenessMs.p99 <= targets.latenessP99Ms;
  const noDuplicate = stats.duplicates === 0;
  const noMissedTick = stats.missedTicks === 0 && stats.fires > 0;
  return {
    precision,
    lateness,
    noDuplicate,
    noMissedTick,
    all: precision && lateness && noDuplicate && noMissedTick,
  };
}

/** A fleet far enough past the targets that a bigger one is not worth running (today's design only gets worse). */
export function failsClearly(stats: FleetTickStats, targets: FleetTargets): boolean {
  const slots = stats.fires + stats.emptySlots;
  return (
    stats.fires === 0 ||
    stats.latenessMs.p99 > CLEAR_FAILURE_FACTOR * targets.latenessP99Ms ||
    stats.missedTicks > CLEAR_MISS_SHARE * slots ||
    stats.duplicates > 0
  );
}

/** Lateness p99 beyond twice its target, or more than 1% of the slots lost, is a clear failure. */
const CLEAR_FAILURE_FACTOR = 2;
const CLEAR_MISS_SHARE = 0.01;
