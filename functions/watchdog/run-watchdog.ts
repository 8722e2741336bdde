import { describeCause } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { MetricsSetup } from '../shared/metrics';
import { type LoopStarterDeps, type StartOutcome, startLoop } from '../starter/start-loop';
import { findNotTicking, findStaleLoops } from './find-stale';
import { writeSweepMetrics } from './sweep-metrics';

export interface WatchdogDeps extends LoopStarterDeps {
  readonly log: Logger;
  /**
   * Where the sweep's EMF line goes (ActivePollers, StalePollers, WatchdogRestarts, per table: a per-poller
   * count would only say 0 or 1); without it the sweep writes none.
   */
  readonly metrics?: MetricsSetup;
}

export interface WatchdogReport {
  readonly checked: number;
  /** Running pollers with a live loop when the sweep looked. */
  readonly active: number;
  /** Running pollers without one (the one liveness rule: judgeLoop), before the sweep's restarts. */
  readonly stale: number;
  /** Running pollers with a live loop that fires nothing (findNotTicking); StalePollers counts them too. */
  readonly notTicking: readonly string[];
  readonly restarted: readonly { pollerId: string; reason: string; outcome: StartOutcome['kind'] }[];
}

/** What one start of a poller without a live loop came to. */
type LoopStartResult = { readonly pollerId: string; readonly why: string } & (
  | { readonly outcome: StartOutcome }
  | { readonly error: string }
);

/**
 * Starts, by the one start rule, every running poller without a live loop (except `except`): the watchdog's sweep,
 * and a no-input execution's first round. One scan; each start takes its generation with a conditional write, so a
 * loop that comes back meanwhile, or a racing start, is left alone. A failed start does not stop the others.
 */
async function startLoopsWithoutLiveLoop(
  deps: LoopStarterDeps,
  nowMs: number,
  options: { readonly except?: string; readonly restartReason?: (why: string) => string },
): Promise<{
  readonly checked: number;
  readonly running: number;
  readonly stale: number;
  readonly notTicking: readonly string[];
  readonly results: readonly LoopStartResult[];
}> {
  const items = await deps.table.listAll();
  const results: LoopStartResult[] = [];
  const staleLoops = findStaleLoops(items, nowMs);
  for (const stale of staleLoops) {
    if (stale.pollerId === options.except) continue;
    const { pollerId, why } = stale;
    try {
      const outcome = await startLoop(pollerId, deps, {
        item: stale.item,
        restartReason: options.restartReason?.(why),
      });
      results.push({ pollerId, why, outcome });
    } catch (error) {
      results.push({ pollerId, why, error: describeCause(error) });
    }
  }
  const running = items.filter((item) => item.operator.running === true).length;
  return {
    checked: items.length,
    running,
    stale: staleLoops.length,
    notTicking: findNotTicking(items, nowMs),
    results,
  };
}

/**
 * Finds pollers that should be running but have no live loop and starts them, counting the restart on the item
 * (count, time, reason) in the same conditional write that takes the new generation: a loop that comes back
 * meanwhile, or a start that beats the watchdog to it, is left alone.
 */
export async function runWatchdog(deps: WatchdogDeps, nowMs: number): Promise<WatchdogReport> {
  const reasonOf = (why: string) => `watchdog: ${why}`;
  const { checked, running, stale, notTicking, results } = await startLoopsWithoutLiveLoop(deps, nowMs, {
    restartReason: reasonOf,
  });
  const restarted: { pollerId: string; reason: string; outcome: StartOutcome['kind'] }[] = [];
  for (const result of results) {
    const { pollerId } = result;
    const reason = reasonOf(result.why);
    if ('error' in result) {
      deps.log.error('could not restart a loop', { pollerId, error: result.error });
      continue;
    }
    if (result.outcome.kind !== 'started') {
      deps.log.info('no restart needed', { pollerId, reason, outcome: result.outcome });
      continue;
    }
    deps.log.warn('restarted a loop', { pollerId, reason, outcome: result.outcome.kind });
    restarted.push({ pollerId, reason, outcome: result.outcome.kind });
  }
  if (notTicking.length > 0) deps.log.warn('live loops not ticking', { pollers: notTicking });
  const active = running - stale;
  if (deps.metrics)
    writeSweepMetrics(deps.metrics, nowMs, {
      active,
      stale: stale + notTicking.length,
      restarts: restarted.length,
    });
  return { checked, active, stale, notTicking, restarted };
}

/**
 * The first round of an execution started with no poller named (the console's default `{}`) brings every other
 * running poller to life at once, rather than leaving them to the watchdog's next sweep: deploy, start the state
 * machine once, steer from the table. `except` is the poller this execution runs itself. Not a restart (nothing
 * is counted on the items). Never throws: the round carries on whatever happened, and the watchdog covers a
 * poller this missed. One log line says how many it started.
 */
export async function startOtherPollers(deps: WatchdogDeps, except: string, nowMs: number): Promise<void> {
  try {
    const { checked, results } = await startLoopsWithoutLiveLoop(deps, nowMs, { except });
    const started = results.flatMap((result) =>
      'outcome' in result && result.outcome.kind === 'started' ? [result.pollerId] : [],
    );
    const failed = results.flatMap((result) =>
      'error' in result ? [{ pollerId: result.pollerId, error: result.error }] : [],
    );
    const line = { started: started.length, pollers: started, checked, failed };
    if (failed.length > 0) deps.log.error('no-input start: started the other running pollers', line);
    else deps.log.info('no-input start: started the other running pollers', line);
  } catch (error) {
    deps.log.error('no-input start: could not start the other running pollers', {
      error: describeCause(error),
    });
  }
}
