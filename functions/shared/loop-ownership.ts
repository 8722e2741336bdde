import { cadenceAt, DEFAULT_TIME_ZONE, type WindowCadence } from '../scheduling/windows';
import { FIELD, STOP_REASON } from './contract';
import type { CorruptField, PollerItem } from './control-item';
import { InvalidControlItemError } from './errors';

/**
 * Who owns a poller, and whether a start may take it. Pure: the starter (stream, `ctl start`, the local stack),
 * the watchdog and the controller's first round (a console StartExecution) all decide with these functions, so
 * every start path follows one rule:
 *
 *   a start takes a new generation only when no loop is alive; when one is, it leaves it alone.
 *
 * "Alive" is read off the item: the generation's loop has not recorded a stop and its heartbeat is fresh. A start
 * writes a heartbeat when it takes the generation, so a loop that is still starting counts as alive too; two
 * starts racing each other, or a start racing a loop that is about to see `running=true` again, therefore give
 * one loop, never two.
 */

/** A loop is presumed dead when its heartbeat is older than this many intervals, and at least STALE_FLOOR_MS. */
export const STALE_INTERVALS = 3;
/** Heartbeats come with each claim (at least every 30 s) and each hand-back, so 90 s of silence means trouble. */
export const STALE_FLOOR_MS = 90_000;

export type LoopLiveness =
  | {
      readonly alive: true;
      readonly generation: number;
      /** The execution the item names as the loop's (undefined on items written before it was recorded). */
      readonly executionArn: string | undefined;
      readonly heartbeatAgeMs: number;
    }
  | {
      readonly alive: false;
      /** Why no loop counts as alive, for logs and the watchdog's restart reason. */
      readonly why: string;
    };

/**
 * How long a loop may stay silent before it is presumed dead: 3 intervals of the cadence in force when it last
 * reported (a Wait-state loop writes once a tick; a window edge wakes it, so a slower window later cannot leave it
 * silent longer), at least 90 s; a pause checks in more often than the floor. Without a heartbeat to date it, or
 * with a zone the loop may not be using (an invalid one: it keeps its last valid), the slowest cadence any rule runs.
 */
export function staleAfterMs(item: PollerItem): number {
  const { intervalMs, windows, timeZone } = item.operator;
  // An invalid cadence cannot say how often to expect a heartbeat: use the floor.
  if (typeof intervalMs !== 'number') return STALE_FLOOR_MS;
  const rules = windows === undefined || windows instanceof InvalidControlItemError ? [] : windows;
  const reportedAtMs = Date.parse(item.heartbeatAt ?? '');
  const expectedGapMs =
    rules.length === 0
      ? intervalMs
      : timeZone instanceof InvalidControlItemError || Number.isNaN(reportedAtMs)
        ? Math.max(
            intervalMs,
            ...rules.map((rule) => (rule.cadence.kind === 'every' ? rule.cadence.intervalMs : 0)),
          )
        : gapOf(cadenceAt(rules, timeZone ?? DEFAULT_TIME_ZONE, intervalMs, reportedAtMs));
  return Math.max(STALE_FLOOR_MS, STALE_INTERVALS * expectedGapMs);
}

function gapOf(cadence: WindowCadence): number {
  return cadence.kind === 'every' ? cadence.intervalMs : 0;
}

/** Statuses of an execution that ended without handing the loop to a successor (SUCCEEDED may have). */
export const EXECUTION_ENDED_FOR_GOOD: ReadonlySet<string> = new Set(['ABORTED', 'FAILED', 'TIMED_OUT']);

/**
 * @param deadExecutionArn an execution known to have ended without handing over (Step Functions says ABORTED,
 *   FAILED or TIMED_OUT, EXECUTION_ENDED_FOR_GOOD): a loop the item attributes to it is dead, however fresh its
 *   heartbeat.
 */
export function judgeLoop(item: PollerItem, nowMs: number, deadExecutionArn?: string): LoopLiveness {
  const { generation, stoppedReason } = item;
  if (generation === undefined) return { alive: false, why: 'no loop was ever started' };
  if (stoppedReason !== undefined) return { alive: false, why: `the loop stopped: ${stoppedReason}` };
  const heartbeatAt = Date.parse(item.heartbeatAt ?? '');
  if (Number.isNaN(heartbeatAt)) return { alive: false, why: 'the loop never reported a heartbeat' };
  const heartbeatAgeMs = nowMs - heartbeatAt;
  const thresholdMs = staleAfterMs(item);
  if (heartbeatAgeMs > thresholdMs) {
    return {
      alive: false,
      why: `heartbeat ${Math.round(heartbeatAgeMs / 1000)} s old (threshold ${Math.round(thresholdMs / 1000)} s)`,
    };
  }
  if (deadExecutionArn !== undefined && item.executionArn === deadExecutionArn) {
    return { alive: false, why: `its execution ${deadExecutionArn} has ended` };
  }
  return { alive: true, generation, executionArn: item.executionArn, heartbeatAgeMs };
}

/** What a start should do, given the item as read. */
export type StartDecision =
  /** Nothing to start: no item, running is not true, or no valid configuration (the reason says which). */
  | { readonly kind: 'skip'; readonly reason: string; readonly problems: readonly string[] }
  /** A loop is alive: leave it; it follows the item at its next tick. */
  | { readonly kind: 'alive'; readonly generation: number; readonly executionArn: string | undefined }
  /** No loop is alive: take `generation` with a write that holds only if the item is still as read. */
  | {
      readonly kind: 'take';
      readonly generation: number;
      readonly expected: TakeExpectation;
      /** Why no loop counts as alive. */
      readonly why: string;
    };

/** The take holds only if nobody wrote a generation or a heartbeat since the item was read. */
export interface TakeExpectation {
  readonly generation: number | undefined;
  readonly heartbeatAt: string | undefined;
  /**
   * The generation and heartbeat fields that hold a value the system never writes (decoded as absent, so no loop
   * counts as alive): the take holds only while they are still exactly as read, and replaces them.
   */
  readonly corrupt?: readonly CorruptField[];
}

/** @param deadExecutionArn an execution known to have ended without handing over: see judgeLoop. */
export function decideStart(
  item: PollerItem | undefined,
  nowMs: number,
  deadExecutionArn?: string,
): StartDecision {
  if (item === undefined) return { kind: 'skip', reason: STOP_REASON.itemMissing, problems: [] };
  const reading = item.config;
  const problems = reading.problems.map((problem) => problem.message);
  if (reading.config === undefined) {
    return { kind: 'skip', reason: `${STOP_REASON.invalidConfig}: ${problems.join('; ')}`, problems };
  }
  if (!reading.config.running) return { kind: 'skip', reason: STOP_REASON.runningFalse, problems };
  const liveness = judgeLoop(item, nowMs, deadExecutionArn);
  if (liveness.alive) {
    return { kind: 'alive', generation: liveness.generation, executionArn: liveness.executionArn };
  }
  return takeFrom(item, liveness.why);
}

/**
 * The take of the next generation, holding only while the item still has the generation and heartbeat it was
 * decided on, corrupt ones included (an operator's edit must never leave a poller that cannot be started).
 */
function takeFrom(item: PollerItem, why: string): StartDecision {
  const corrupt = [
    item.corruptFields.get(FIELD.generation),
    item.corruptFields.get(FIELD.heartbeatAt),
  ].filter((field) => field !== undefined);
  return {
    kind: 'take',
    generation: nextGeneration(item),
    expected: {
      generation: item.generation,
      heartbeatAt: item.heartbeatAt,
      ...(corrupt.length > 0 ? { corrupt } : {}),
    },
    why,
  };
}

/**
 * One above the item's generation. A corrupt one that still reads as a number (S "3", N "2.5") counts as that
 * number, so the new generation differs from the one a hand edit garbled, whose loop may still be running.
 */
function nextGeneration(item: PollerItem): number {
  const garbled = item.corruptFields.get(FIELD.generation)?.number;
  const current = item.generation ?? Math.floor(Math.max(0, garbled ?? 0));
  return Math.min(current, Number.MAX_SAFE_INTEGER - 1) + 1;
}

/** Step Functions execution names: at most 80 characters. */
const MAX_EXECUTION_NAME_LENGTH = 80;

/**
 * The name of the execution a start creates: `<poller>-g<generation>-<start time, base 36>`. Step Functions
 * refuses a name for 90 days after it was used, even by a closed execution, and a generation can be taken again
 * once an item is deleted and re-created: the start time keeps every name new. The name is recorded on the item
 * with the take, so a start that retries (or loses a race) asks for the same name, and Step Functions keeps it
 * to one execution.
 */
export function startExecutionName(pollerId: string, generation: number, nowMs: number): string {
  const tail = `-g${generation}-${Math.max(0, Math.floor(nowMs)).toString(36)}`;
  return `${pollerId.slice(0, MAX_EXECUTION_NAME_LENGTH - tail.length)}${tail}`;
}

/** Whether `name` is one `startExecutionName` gives for this poller and generation (at any start time). */
export function isStartExecutionName(name: string, pollerId: string, generation: number): boolean {
  const parts = /^(.+)-g(\d+)-[0-9a-z]+$/.exec(name);
  return parts !== null && Number(parts[2]) === generation && pollerId.startsWith(parts[1] ?? '');
}

/** arn:…:stateMachine:NAME → arn:…:execution:NAME:EXECUTION (the ARN Step Functions gives a named execution). */
export function executionArnFor(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}

/** The execution name at the end of an execution ARN. */
export function executionNameOf(executionArn: string): string {
  return executionArn.slice(executionArn.lastIndexOf(':') + 1);
}
