import type { LatencyModel } from '../local-stack/latency-model';

/**
 * The benchmark's stand-in for AWS latency: seeded, so a run can be repeated, and at least as harsh as what the
 * public AWS figures and common measurements suggest for one Region. Every figure is a uniform range, drawn
 * independently per request; each boundary has its own random stream so one boundary's traffic does not shift
 * another's draws.
 *
 * - DynamoDB request, 5–15 ms: a single-item GetItem/UpdateItem from Lambda in the same Region is "single-digit
 *   ms" service time plus a few ms of HTTPS round trip; 15 ms covers a slow one without modelling outliers.
 * - Async invoke, 10–40 ms: from the Invoke (Event) call being accepted to the worker's handler running on a warm
 *   sandbox, Lambda's internal queue adds tens of ms.
 * - Step Functions round, 20–80 ms: from a Task state starting (after the Wait's and any other transitions) to
 *   the Lambda handler running on a warm sandbox: state transitions are ~10 ms each plus the Lambda invoke itself.
 * - Controller cold start, +300 ms on the 1st, 101st, 201st, … invocation of each controller function: a Node.js
 *   128 MB cold start with the AWS SDK is a few hundred ms; sandboxes are recycled every few hours, and one in a
 *   hundred invocations is far more often than a steady loop sees, hence harsh.
 */
export interface LatencyFigures {
  readonly dynamoDbMs: readonly [number, number];
  readonly asyncInvokeMs: readonly [number, number];
  readonly taskStartMs: readonly [number, number];
  readonly coldStartMs: number;
  readonly coldStartEvery: number;
}

export const HARSH_FIGURES: LatencyFigures = {
  dynamoDbMs: [5, 15],
  asyncInvokeMs: [10, 40],
  taskStartMs: [20, 80],
  coldStartMs: 300,
  coldStartEvery: 100,
};

/** The same shape with every duration multiplied by `factor` (0 gives a model that adds nothing). */
export function scaleFigures(figures: LatencyFigures, factor: number): LatencyFigures {
  if (!Number.isFinite(factor) || factor < 0)
    throw new Error(`latency scale must be a number ≥ 0; got ${factor}`);
  const scale = ([low, high]: readonly [number, number]) => [low * factor, high * factor] as const;
  return {
    dynamoDbMs: scale(figures.dynamoDbMs),
    asyncInvokeMs: scale(figures.asyncInvokeMs),
    taskStartMs: scale(figures.taskStartMs),
    coldStartMs: figures.coldStartMs * factor,
    coldStartEvery: figures.coldStartEvery,
  };
}

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Distinct, fixed offsets so the three boundaries draw from independent streams of the same seed. */
const STREAM = { dynamoDb: 0x9e3779b9, asyncInvoke: 0x85ebca6b, taskStart: 0xc2b2ae35 } as const;

export class SeededLatencyModel implements LatencyModel {
  private readonly dynamoDbRandom: () => number;
  private readonly asyncInvokeRandom: () => number;
  private readonly taskStartRandom: () => number;
  private readonly invocations = new Map<string, number>();

  constructor(
    readonly seed: number,
    readonly figures: LatencyFigures = HARSH_FIGURES,
  ) {
    this.dynamoDbRandom = mulberry32(seed ^ STREAM.dynamoDb);
    this.asyncInvokeRandom = mulberry32(seed ^ STREAM.asyncInvoke);
    this.taskStartRandom = mulberry32(seed ^ STREAM.taskStart);
  }

  dynamoDbRequestMs(_operation: string): number {
    return uniform(this.dynamoDbRandom, this.figures.dynamoDbMs);
  }

  asyncInvokeMs(_functionName: string): number {
    return uniform(this.asyncInvokeRandom, this.figures.asyncInvokeMs);
  }

  /** Only synchronous (Task) invocations come here: the controllers. Each function has its own cold-start count. */
  taskStartMs(functionName: string): number {
    const count = (this.invocations.get(functionName) ?? 0) + 1;
    this.invocations.set(functionName, count);
    const cold = (count - 1) % this.figures.coldStartEvery === 0 ? this.figures.coldStartMs : 0;
    return uniform(this.taskStartRandom, this.figures.taskStartMs) + cold;
  }

  /** The model's own p99 of the async invoke latency (the uniform range's 99th percentile). */
  asyncInvokeP99Ms(): number {
    const [low, high] = this.figures.asyncInvokeMs;
    return low + 0.99 * (high - low);
  }

  /** One line for the report: the seed and every figure. */
  describe(): string {
    const range = ([low, high]: readonly [number, number]) => `${round1(low)}–${round1(high)} ms`;
    const { dynamoDbMs, asyncInvokeMs, taskStartMs, coldStartMs, coldStartEvery } = this.figures;
    return (
      `seed ${this.seed}: DynamoDB ${range(dynamoDbMs)}, async invoke ${range(asyncInvokeMs)}, ` +
      `Step Functions round ${range(taskStartMs)}, cold start +${round1(coldStartMs)} ms every ${coldStartEvery} controller invocations`
    );
  }
}

function uniform(random: () => number, [low, high]: readonly [number, number]): number {
  return low + random() * (high - low);
}

const round1 = (value: number) => Math.round(value * 10) / 10;
