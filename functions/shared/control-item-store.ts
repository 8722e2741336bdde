import type { PollerItem } from './control-item';
import type { GenerationTake, RoundRecord, TakeOutcome, WriteGuard, WriteOutcome } from './loop-table';

/**
 * The control item as the controller uses it: exactly the operations of a round, so the controller can run on
 * another store (in memory, in its unit tests) that applies the same conditions. LoopTable (loop-table.ts) is the
 * production implementation; test/functions/shared/control-store-contract.ts holds both to the same behaviour.
 */
export interface ControlItemStore {
  /** Named in errors about the store. */
  readonly tableName: string;
  /** The item as it is now (strongly consistent), or undefined when there is none. */
  read(pollerId: string): Promise<PollerItem | undefined>;
  /** Takes a generation for a new loop, under the conditions ControlTable.takeGeneration documents. */
  takeGeneration(pollerId: string, take: GenerationTake): Promise<TakeOutcome>;
  /** Writes system fields under a fencing guard, as ControlTable.recordRound documents. */
  recordRound(pollerId: string, record: RoundRecord, guard: WriteGuard): Promise<WriteOutcome>;
}
