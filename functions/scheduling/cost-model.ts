/**
 * The one price table (us-east-1, public price pages) and what follows from it: the break-even interval below
 * which the controller stays awake between ticks rather than paying a Step Functions round per tick. The
 * controller chooses its strategy from this module and the benchmark's cost report prices its counts with it.
 */
export const PRICES_USD = {
  /** Standard workflows, per state transition. */
  stateTransition: 0.000025,
  /** Lambda, per GB-second of duration (billed per ms). */
  lambdaGbSecond: { arm64: 0.0000133334, x86_64: 0.0000166667 },
  /** Lambda, per request. */
  lambdaRequest: 0.2 / 1_000_000,
  /** DynamoDB on-demand, per read request unit (a strongly consistent read of ≤ 4 KB; eventually consistent: half). */
  dynamoDbReadUnit: 0.125 / 1_000_000,
  /** DynamoDB on-demand, per write request unit (≤ 1 KB). */
  dynamoDbWriteUnit: 0.625 / 1_000_000,
  /** SQS standard, per request (the EventBridge + SQS anchor design). */
  sqsRequest: 0.4 / 1_000_000,
  /** EventBridge Scheduler / rules: scheduled invocations are free for rules; Scheduler is $1 per million. */
  eventBridgeSchedulerInvocation: 1 / 1_000_000,
} as const;

export type Architecture = keyof typeof PRICES_USD.lambdaGbSecond;

export interface LambdaSize {
  readonly memoryMb: number;
  readonly architecture: Architecture;
}

/** The controller as the stack deploys it (infra reads this too). */
export const CONTROLLER_SIZE: LambdaSize = { memoryMb: 128, architecture: 'arm64' };

/** State transitions of one Wait round: RunController and WaitForTick (the ASL's loop has no Choice). */
export const TRANSITIONS_PER_ROUND = 2;

/** Roughly how long a Wait round keeps the controller running: the wake lead plus the read, fire and write. */
export const ROUND_AWAKE_MS = 1_000;

export function lambdaCostPerMs(size: LambdaSize): number {
  return ((size.memoryMb / 1024) * PRICES_USD.lambdaGbSecond[size.architecture]) / 1000;
}

/** What one tick costs when each tick is its own Step Functions round (DynamoDB is the same either way). */
export function waitRoundCostUsd(size: LambdaSize = CONTROLLER_SIZE): number {
  return (
    TRANSITIONS_PER_ROUND * PRICES_USD.stateTransition +
    PRICES_USD.lambdaRequest +
    ROUND_AWAKE_MS * lambdaCostPerMs(size)
  );
}

/**
 * Below this interval, staying awake in one invocation through the gap costs less than a Wait round per tick
 * (about 31 s for 128 MB on arm64, 25 s on x86_64).
 */
export function breakEvenIntervalMs(size: LambdaSize = CONTROLLER_SIZE): number {
  return Math.round(waitRoundCostUsd(size) / lambdaCostPerMs(size));
}

export type TickStrategy = 'stay-awake' | 'wait-state';

export function chooseStrategy(intervalMs: number, size: LambdaSize = CONTROLLER_SIZE): TickStrategy {
  return intervalMs < breakEvenIntervalMs(size) ? 'stay-awake' : 'wait-state';
}
