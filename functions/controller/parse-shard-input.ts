import { SHARD_KEY_PREFIX, shardOfKey } from '../fleet/shard-store';
import { DEFAULT_HISTORY_BUDGET, type RoundPath } from '../scheduling/history-budget';
import { isRecord, isWholeNumberIn } from '../shared/decode';
import { InvalidControllerInputError } from '../shared/errors';
import { MAX_HISTORY_BUDGET, MIN_HISTORY_BUDGET, roundPathOf } from './parse-input';

/**
 * A shard execution's state between rounds (decision 2 of the fleet wiring): the ASL's HandOver passes `$.loop` on
 * as it is, and its Wait reads `$.wakeAt`, so a shard's output has the single loop's shape with this as `loop`.
 */
export interface ShardLoopState {
  readonly shard: string;
  /** The lease epoch the execution held when it handed back. */
  readonly epoch: number;
  /** The execution that wrote it: history events count only within it. */
  readonly executionId: string;
  readonly historyEvents: number;
  readonly historyBudget: number;
  /**
   * When the execution handed back (epoch ms, after its last fired tick): a later round of the same execution
   * resumes every poller at the first tick due at or after it.
   */
  readonly handedBackAtMs: number;
}

export interface ParsedShardInput extends RoundPath {
  readonly shard: string;
  /** `~shard/<shard>`: the input's and output's `pollerId`. */
  readonly shardKey: string;
  readonly executionId: string;
  /** undefined on a fresh execution (a start, a wake, a takeover, a hand-over's first round). */
  readonly loop: ShardLoopState | undefined;
  readonly historyBudget: number;
}

/** Whether the state names a shard (`pollerId` starts with `~shard/`): the fleet entry routes it to runShardRound. */
export function namesShard(event: unknown): boolean {
  const state = isRecord(event) && isRecord(event.state) ? event.state : event;
  return isRecord(state) && typeof state.pollerId === 'string' && state.pollerId.startsWith(SHARD_KEY_PREFIX);
}

/**
 * Reads what Step Functions passed a shard round: `{ state, executionId, executionStartTime, retryCount }`, as
 * parseControllerInput reads it for a poller, with `state.pollerId` a shard item's key. Every field of `loop` is
 * checked; a loop of another shard is refused. Throws InvalidControllerInputError naming the field.
 */
export function parseShardInput(event: unknown): ParsedShardInput {
  const envelope: Record<string, unknown> =
    isRecord(event) && isRecord(event.state) ? event : { state: event };
  const state = isRecord(envelope.state) ? envelope.state : {};
  const shardKey = typeof state.pollerId === 'string' ? state.pollerId : '';
  const shard = shardOfKey(shardKey);
  if (shard === undefined) {
    throw new InvalidControllerInputError(
      shardKey || '~shard/?',
      `pollerId must name a shard (${SHARD_KEY_PREFIX}s0, ${SHARD_KEY_PREFIX}s1, …)`,
      state.pollerId,
    );
  }
  const executionId = typeof envelope.executionId === 'string' ? envelope.executionId : 'direct-invoke';
  const budget = state.historyBudget ?? DEFAULT_HISTORY_BUDGET;
  if (!isWholeNumberIn(budget, MIN_HISTORY_BUDGET, MAX_HISTORY_BUDGET)) {
    throw new InvalidControllerInputError(
      shardKey,
      `historyBudget must be a whole number from ${MIN_HISTORY_BUDGET} to ${MAX_HISTORY_BUDGET}`,
      budget,
    );
  }
  const loop =
    state.loop === undefined || state.loop === null ? undefined : parseShardLoop(shardKey, shard, state.loop);
  return {
    shard,
    shardKey,
    executionId,
    loop,
    historyBudget: loop?.historyBudget ?? budget,
    ...roundPathOf(envelope, state),
  };
}

function parseShardLoop(shardKey: string, shard: string, value: unknown): ShardLoopState {
  const fail = (detail: string): never => {
    throw new InvalidControllerInputError(shardKey, `loop.${detail}`, value);
  };
  if (!isRecord(value)) return fail('must be an object');
  if (value.shard !== shard) return fail(`shard must be ${JSON.stringify(shard)}, the shard of pollerId`);
  const whole = (key: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const field = value[key];
    return isWholeNumberIn(field, min, max) ? field : fail(`${key} must be a whole number from ${min}`);
  };
  const epoch = whole('epoch', 1);
  const historyEvents = whole('historyEvents', 0);
  const historyBudget = whole('historyBudget', MIN_HISTORY_BUDGET, MAX_HISTORY_BUDGET);
  const handedBackAtMs = whole('handedBackAtMs', 0);
  const { executionId } = value;
  if (typeof executionId !== 'string' || executionId === '') return fail('executionId must be a string');
  return { shard, epoch, executionId, historyEvents, historyBudget, handedBackAtMs };
}
