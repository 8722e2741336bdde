import { type Architecture, CONTROLLER_SIZE, PRICES_USD } from '../../functions/scheduling/cost-model';

/**
 * Pricing of per-tick counts with the project's one price table (functions/scheduling/cost-model.ts), and the
 * anchor designs the benchmark compares against, each computed from its published configuration. Every design
 * pays the worker's own invocations equally, so they are left out of every figure here.
 */
export interface PerTickCounts {
  readonly stateTransitions: number;
  readonly lambdaRequests: number;
  readonly lambdaGbSeconds: number;
  /** Architecture the GB-seconds are billed at. */
  readonly architecture: Architecture;
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly sqsRequests: number;
  /** CloudWatch Logs bytes ingested per tick (the invocations' lines). */
  readonly logBytes: number;
}

export const SECONDS_PER_DAY = 86_400;
/** An average month: 365.25 / 12 days. */
export const DAYS_PER_MONTH = 365.25 / 12;

export const ZERO_COUNTS: PerTickCounts = {
  stateTransitions: 0,
  lambdaRequests: 0,
  lambdaGbSeconds: 0,
  architecture: CONTROLLER_SIZE.architecture,
  readUnits: 0,
  writeUnits: 0,
  sqsRequests: 0,
  logBytes: 0,
};

export function usdPerTick(counts: PerTickCounts): number {
  return (
    counts.stateTransitions * PRICES_USD.stateTransition +
    counts.lambdaRequests * PRICES_USD.lambdaRequest +
    counts.lambdaGbSeconds * PRICES_USD.lambdaGbSecond[counts.architecture] +
    counts.readUnits * PRICES_USD.dynamoDbReadUnit +
    counts.writeUnits * PRICES_USD.dynamoDbWriteUnit +
    counts.sqsRequests * PRICES_USD.sqsRequest +
    counts.logBytes * PRICES_USD.logIngestionByte
  );
}

export const ticksPerDay = (intervalSeconds: number) => SECONDS_PER_DAY / intervalSeconds;
export const usdPerDay = (counts: PerTickCounts, intervalSeconds: number) =>
  usdPerTick(counts) * ticksPerDay(intervalSeconds);
export const usdPerMonth = (counts: PerTickCounts, intervalSeconds: number) =>
  usdPerDay(counts, intervalSeconds) * DAYS_PER_MONTH;

const gbSeconds = (durationMs: number, memoryMb: number) => (durationMs / 1000) * (memoryMb / 1024);

export type AnchorId = 'a' | 'b' | 'c' | 'd';

export interface AnchorDesign {
  readonly id: AnchorId;
  readonly name: string;
  readonly stepFunctionsBased: boolean;
  /** The published configuration the figures come from, and what each tick is charged. */
  readonly configuration: string;
  /** Scheduler cost units per tick at this cadence; undefined when the design cannot run it. */
  perTick(intervalSeconds: number): PerTickCounts | undefined;
}

/**
 * Figures of the anchors' published configurations (their own ASLs, not ours: our TRANSITIONS_PER_ROUND describes
 * our loop only). The short controller's duration is not published; 100 ms
 * (a GetItem and an async Invoke with SDK overhead, warm) is generous to the anchor.
 */
export const ANCHOR_CONFIG = {
  /** (a) a controller Lambda per tick, the same size as ours, in a Task → Choice → Wait round. */
  shortControllerMs: 100,
  roundPerTickTransitions: 3,
  /** (b) aws-samples: one invocation stays awake this long, then a Step Functions round starts the next. */
  alwaysAwakeRoundSeconds: 840,
  alwaysAwakeRoundTransitions: 3,
  alwaysAwakeSize: { memoryMb: 128, architecture: 'x86_64' as Architecture },
  /** (c) the heartbeat post: one execution a minute, a Map over 60 items, each a Wait then a worker Task. */
  mapItemsPerMinute: 60,
  mapTransitionsPerItem: 2,
  mapTransitionsPerExecution: 1,
  /** (d) a rule each minute runs a dispatcher that sends one delayed message per tick; SQS triggers the worker. */
  dispatcherMs: 100,
  dispatcherSize: { memoryMb: 128, architecture: 'x86_64' as Architecture },
  /** SendMessage, then the event source mapping's ReceiveMessage and DeleteMessage for each message. */
  sqsRequestsPerTick: 3,
} as const;

/** The per-tick DynamoDB read every design is given, so designs differ only in how they schedule. */
const PARITY_READ_UNITS = 1;

export const ANCHORS: readonly AnchorDesign[] = [
  {
    id: 'a',
    name: 'Standard round per tick',
    stepFunctionsBased: true,
    configuration: `controller → Choice → Wait each tick: ${ANCHOR_CONFIG.roundPerTickTransitions} transitions + 1 Lambda request + ${ANCHOR_CONFIG.shortControllerMs} ms at ${CONTROLLER_SIZE.memoryMb} MB ${CONTROLLER_SIZE.architecture} + 1 RCU`,
    perTick: () => ({
      ...ZERO_COUNTS,
      stateTransitions: ANCHOR_CONFIG.roundPerTickTransitions,
      lambdaRequests: 1,
      lambdaGbSeconds: gbSeconds(ANCHOR_CONFIG.shortControllerMs, CONTROLLER_SIZE.memoryMb),
      architecture: CONTROLLER_SIZE.architecture,
      readUnits: PARITY_READ_UNITS,
    }),
  },
  {
    id: 'b',
    name: `Always-awake ${ANCHOR_CONFIG.alwaysAwakeRoundSeconds} s controller (aws-samples)`,
    stepFunctionsBased: true,
    configuration: `${ANCHOR_CONFIG.alwaysAwakeSize.memoryMb} MB ${ANCHOR_CONFIG.alwaysAwakeSize.architecture} awake all the time; a ${ANCHOR_CONFIG.alwaysAwakeRoundTransitions}-transition round + 1 Lambda request every ${ANCHOR_CONFIG.alwaysAwakeRoundSeconds} s; 1 RCU per tick`,
    perTick: (intervalSeconds) => {
      const roundsPerTick = intervalSeconds / ANCHOR_CONFIG.alwaysAwakeRoundSeconds;
      return {
        ...ZERO_COUNTS,
        stateTransitions: ANCHOR_CONFIG.alwaysAwakeRoundTransitions * roundsPerTick,
        lambdaRequests: roundsPerTick,
        lambdaGbSeconds: gbSeconds(intervalSeconds * 1000, ANCHOR_CONFIG.alwaysAwakeSize.memoryMb),
        architecture: ANCHOR_CONFIG.alwaysAwakeSize.architecture,
        readUnits: PARITY_READ_UNITS,
      };
    },
  },
  {
    id: 'c',
    name: 'Map loop (heartbeat post)',
    stepFunctionsBased: true,
    configuration: `an execution a minute: Map (${ANCHOR_CONFIG.mapTransitionsPerExecution} transition) over ${ANCHOR_CONFIG.mapItemsPerMinute} items, each Wait + worker Task (${ANCHOR_CONFIG.mapTransitionsPerItem} transitions); no controller Lambda; 1 RCU per tick`,
    perTick: (intervalSeconds) => {
      if (intervalSeconds < 1) return undefined;
      // One item per tick; the Map state's own transition is shared by the ticks of the minute.
      const ticksPerExecution = Math.max(1, 60 / intervalSeconds);
      return {
        ...ZERO_COUNTS,
        stateTransitions:
          ANCHOR_CONFIG.mapTransitionsPerItem + ANCHOR_CONFIG.mapTransitionsPerExecution / ticksPerExecution,
        readUnits: PARITY_READ_UNITS,
      };
    },
  },
  {
    id: 'd',
    name: 'EventBridge rule + SQS delays',
    stepFunctionsBased: false,
    configuration: `a rule each minute runs a dispatcher (${ANCHOR_CONFIG.dispatcherMs} ms, ${ANCHOR_CONFIG.dispatcherSize.memoryMb} MB ${ANCHOR_CONFIG.dispatcherSize.architecture}) sending 60/interval messages with DelaySeconds; ${ANCHOR_CONFIG.sqsRequestsPerTick} SQS requests per tick; 1 RCU per tick; whole seconds only`,
    perTick: (intervalSeconds) => {
      if (!Number.isInteger(intervalSeconds)) return undefined;
      const ticksPerMinute = Math.max(1, 60 / intervalSeconds);
      return {
        ...ZERO_COUNTS,
        lambdaRequests: 1 / ticksPerMinute,
        lambdaGbSeconds:
          gbSeconds(ANCHOR_CONFIG.dispatcherMs, ANCHOR_CONFIG.dispatcherSize.memoryMb) / ticksPerMinute,
        architecture: ANCHOR_CONFIG.dispatcherSize.architecture,
        readUnits: PARITY_READ_UNITS,
        sqsRequests: ANCHOR_CONFIG.sqsRequestsPerTick,
      };
    },
  },
];

/** The cheapest Step Functions-based anchor at a cadence, by $/day. */
export function cheapestStepFunctionsAnchor(
  intervalSeconds: number,
  anchors: readonly AnchorDesign[] = ANCHORS,
): { anchor: AnchorDesign; usdPerDay: number } | undefined {
  let best: { anchor: AnchorDesign; usdPerDay: number } | undefined;
  for (const anchor of anchors) {
    const counts = anchor.stepFunctionsBased ? anchor.perTick(intervalSeconds) : undefined;
    if (counts === undefined) continue;
    const cost = usdPerDay(counts, intervalSeconds);
    if (best === undefined || cost < best.usdPerDay) best = { anchor, usdPerDay: cost };
  }
  return best;
}
