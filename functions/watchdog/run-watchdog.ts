import { describeCause } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { type LoopStarterDeps, type StartOutcome, startLoop } from '../starter/start-loop';
import { findStaleLoops } from './find-stale';

export interface WatchdogDeps extends LoopStarterDeps {
  readonly log: Logger;
}

export interface WatchdogReport {
  readonly checked: number;
  readonly restarted: readonly { pollerId: string; reason: string; outcome: StartOutcome['kind'] }[];
}

/**
 * Finds pollers that should be running but have no live loop and starts them, counting the restart on the item
 * (count, time, reason) in the same conditional write that takes the new generation: a loop that comes back
 * meanwhile, or a start that beats the watchdog to it, is left alone.
 */
export async function runWatchdog(deps: WatchdogDeps, nowMs: number): Promise<WatchdogReport> {
  const items = await deps.table.listAll();
  const restarted: { pollerId: string; reason: string; outcome: StartOutcome['kind'] }[] = [];
  for (const stale of findStaleLoops(items, nowMs)) {
    const reason = `watchdog: ${stale.why}`;
    try {
      const outcome = await startLoop(stale.pollerId, deps, { item: stale.item, restartReason: reason });
      if (outcome.kind !== 'started') {
        deps.log.info('no restart needed', { pollerId: stale.pollerId, reason, outcome });
        continue;
      }
      deps.log.warn('restarted a loop', { pollerId: stale.pollerId, reason, outcome: outcome.kind });
      restarted.push({ pollerId: stale.pollerId, reason, outcome: outcome.kind });
    } catch (error) {
      deps.log.error('could not restart a loop', { pollerId: stale.pollerId, error: describeCause(error) });
    }
  }
  return { checked: items.length, restarted };
}
