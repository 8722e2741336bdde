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
  /** CloudWatch Logs ingestion (standard class), $0.50 per GB, read as 10^9 bytes (the higher of the two readings). */
  logIngestionByte: 0.5 / 1_000_000_000,
} as const;

export type Architecture = keyof typeof PRICES_USD.lambdaGbSecond;

export interface LambdaSize {
  readonly memoryMb: number;
  readonly architecture: Architecture;
}

/**
 * The controller memory sizes the stack offers (its ControllerMemory parameter allows exactly these). CPU comes
 * with memory (1,769 MB is one vCPU), so a bigger controller sleeps and fires more precisely but costs more per
 * awake millisecond, which also moves the break-even below.
 */
export const CONTROLLER_MEMORY_SIZES_MB = [128, 256, 320, 512, 1024] as const;
export type ControllerMemoryMb = (typeof CONTROLLER_MEMORY_SIZES_MB)[number];

/**
 * The stack's default controller memory. From the benchmark (bench/results/latest.md): 128 MB is the only size
 * whose cost stays below every Step Functions anchor at 1–59 s, keeps its grid with no drift and sustains 0.25 s;
 * its precision is a 20 ms throttle period at p99. 256 MB brings p99 to ~4 ms and 512 MB the max to ~4 ms, at
 * twice and four times the compute cost: the ControllerMemory parameter chooses.
 */
export const DEFAULT_CONTROLLER_MEMORY_MB: ControllerMemoryMb = 128;

/** The controller as the stack deploys it by default (infra reads this too). */
export const CONTROLLER_SIZE: LambdaSize = { memoryMb: DEFAULT_CONTROLLER_MEMORY_MB, architecture: 'arm64' };

/**
 * The smallest interval each controller size sustains under its CPU share (memory / 1,769 MB of a core): it reads,
 * plans and fires every tick without skipping one, measured by `npm run bench` (bench/results/latest.md). Below it
 * the loop keeps going, but ticks come late or are skipped; the controller says so in lastError.
 */
export const SUSTAINED_INTERVAL_MS: Readonly<Record<ControllerMemoryMb, number>> = {
  // 2 of 201 ticks skipped at 0.25 s under the 7.2% share (a tick that would go out late is withheld).
  128: 1_000,
  256: 250,
  // The fleet's shard size (DEFAULT_SHARD_SIZE); not measured as a single loop: what 256 MB sustains.
  320: 250,
  512: 100,
  // Not measured: at least what 512 MB sustains.
  1024: 100,
};

/** The sustained interval of the nearest listed size at or below `memoryMb` (the smallest size's below it). */
export function sustainedIntervalMs(memoryMb: number): number {
  const listed = CONTROLLER_MEMORY_SIZES_MB.filter((size) => size <= memoryMb);
  return SUSTAINED_INTERVAL_MS[listed.at(-1) ?? CONTROLLER_MEMORY_SIZES_MB[0]];
}

export function isControllerMemoryMb(value: number): value is ControllerMemoryMb {
  return (CONTROLLER_MEMORY_SIZES_MB as readonly number[]).includes(value);
}

/**
 * The size a function runs with, from what the runtime tells it (AWS_LAMBDA_FUNCTION_MEMORY_SIZE and the
 * process architecture), so the break-even follows the deployed ControllerMemory. Outside Lambda (the local
 * stack, tests) the variable is absent: the stack's default is assumed.
 */
export function lambdaSizeFrom(memorySizeText: string | undefined, processArch: string): LambdaSize {
  const memoryMb = Number(memorySizeText);
  return {
    memoryMb:
      memorySizeText !== undefined && Number.isInteger(memoryMb) && memoryMb > 0
        ? memoryMb
        : CONTROLLER_SIZE.memoryMb,
    architecture: processArch === 'arm64' ? 'arm64' : 'x86_64',
  };
}

/** State transitions of one Wait round: RunController and WaitForTick (the ASL's loop has no Choice). */
export const TRANSITIONS_PER_ROUND = 2;

/** Roughly how long a Wait round keeps the controller running: the wake lead plus the read, fire and write. */
export const ROUND_AWAKE_MS = 1_000;

/**
 * What CloudWatch Logs ingests for the controller, in bytes. An event is counted as its UTF-8 message plus 26 bytes
 * (how PutLogEvents sizes a batch; taken as the metered size, which errs high).
 */
export const LOG_EVENT_OVERHEAD_BYTES = 26;

/**
 * The runtime's text-format prefix on each application line: ISO timestamp, request id, level, three tabs, and the
 * trailing newline (`2026-11-22T08:27:25.712Z\t<uuid>\tINFO\t…\n`).
 */
export const APPLICATION_LINE_PREFIX_BYTES = 68;

/**
 * The controller's `round summary` JSON line, one per invocation (never one per tick), for a poller id of 7
 * characters and 6-digit seqs, measured from the real line (test/functions/scheduling/cost-model.test.ts runs a
 * round and checks this figure).
 */
export const ROUND_SUMMARY_LINE_BYTES = 190;

/**
 * The platform's START, END and REPORT lines of one invocation (Lambda writes them to the function's log group),
 * 26 bytes each included; a cold start's REPORT adds an Init Duration of about 25 bytes.
 */
export const PLATFORM_LOG_BYTES_PER_INVOCATION = 350;

/** Bytes ingested for every controller invocation: its summary line and the platform's lines. */
export const LOG_BYTES_PER_INVOCATION =
  ROUND_SUMMARY_LINE_BYTES +
  APPLICATION_LINE_PREFIX_BYTES +
  LOG_EVENT_OVERHEAD_BYTES +
  PLATFORM_LOG_BYTES_PER_INVOCATION;

export function lambdaCostPerMs(size: LambdaSize): number {
  return ((size.memoryMb / 1024) * PRICES_USD.lambdaGbSecond[size.architecture]) / 1000;
}

/** CloudWatch Logs ingestion of `bytes`. */
export function logIngestionCostUsd(bytes: number): number {
  return bytes * PRICES_USD.logIngestionByte;
}

/**
 * What one tick costs when each tick is its own Step Functions round, beyond what every tick costs either way
 * (its DynamoDB read): two transitions, one request, a second awake, the invocation's
 * log lines.
 */
export function waitRoundCostUsd(size: LambdaSize = CONTROLLER_SIZE): number {
  return (
    TRANSITIONS_PER_ROUND * PRICES_USD.stateTransition +
    PRICES_USD.lambdaRequest +
    ROUND_AWAKE_MS * lambdaCostPerMs(size) +
    logIngestionCostUsd(LOG_BYTES_PER_INVOCATION)
  );
}

/**
 * Below this interval, staying awake in one invocation through the gap costs less than a Wait round per tick
 * (about 31 s for 128 MB on arm64, 25 s on x86_64, 5 s for 1,024 MB on arm64).
 */
export function breakEvenIntervalMs(size: LambdaSize = CONTROLLER_SIZE): number {
  return Math.round(waitRoundCostUsd(size) / lambdaCostPerMs(size));
}

export type TickStrategy = 'stay-awake' | 'wait-state';

export function chooseStrategy(intervalMs: number, size: LambdaSize = CONTROLLER_SIZE): TickStrategy {
  return intervalMs < breakEvenIntervalMs(size) ? 'stay-awake' : 'wait-state';
}

/**
 * Log ingestion per tick for a loop at `intervalMs`: the lines of the invocations it takes (one per tick in
 * Wait-state mode, one per `stayAwakeInvocationMs` staying awake). A healthy tick logs nothing of its own.
 */
export function logIngestionUsdPerTick(
  intervalMs: number,
  stayAwakeInvocationMs: number,
  size: LambdaSize = CONTROLLER_SIZE,
): number {
  const invocationsPerTick =
    chooseStrategy(intervalMs, size) === 'wait-state' ? 1 : intervalMs / stayAwakeInvocationMs;
  return logIngestionCostUsd(invocationsPerTick * LOG_BYTES_PER_INVOCATION);
}
