import type { LeaseTiming } from '../fleet/shard-lease';
import type { ShardStore } from '../fleet/shard-store';
import type { LambdaSize } from '../scheduling/cost-model';
import type { Timing } from '../scheduling/plan-round';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import type { MetricsSetup } from '../shared/metrics';
import type { WorkerInvoker } from '../shared/worker-invoker';
import type { Deadline } from './run-round';

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

/**
 * One round of a shard execution (input `{ "pollerId": "~shard/s0" }`): take or renew the lease, read the shard's
 * pollers, plan with planShardRound, fire, record, continue. Not built yet (the shard-controller helper builds it).
 */
export async function runShardRound(
  _event: unknown,
  _deps: ShardControllerDeps,
  _deadline: Deadline,
): Promise<ShardOutput> {
  throw new Error('runShardRound is not built yet');
}
