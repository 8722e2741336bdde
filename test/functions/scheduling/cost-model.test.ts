import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRound } from '../../../functions/controller/run-round';
import {
  APPLICATION_LINE_PREFIX_BYTES,
  breakEvenIntervalMs,
  CONTROLLER_MEMORY_SIZES_MB,
  CONTROLLER_SIZE,
  chooseStrategy,
  DEFAULT_CONTROLLER_MEMORY_MB,
  type LambdaSize,
  LOG_BYTES_PER_INVOCATION,
  LOG_EVENT_OVERHEAD_BYTES,
  lambdaCostPerMs,
  lambdaSizeFrom,
  logIngestionUsdPerTick,
  PLATFORM_LOG_BYTES_PER_INVOCATION,
  ROUND_SUMMARY_LINE_BYTES,
  SUSTAINED_INTERVAL_MS,
  waitRoundCostUsd,
} from '../../../functions/scheduling/cost-model';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import { createLambdaClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { FIELD } from '../../../functions/shared/contract';
import { ControlTable } from '../../../functions/shared/control-table';
import { createJsonLogger } from '../../../functions/shared/logger';
import { LambdaWorkerInvoker } from '../../../functions/shared/worker-invoker';
import { LOCAL_WORKER_NAME } from '../../../scripts/local-stack/local-endpoints';
import { type Harness, startHarness } from '../../support/local-stack-harness';
import { simulatedClock } from '../../support/simulated-clock';

/**
 * Published us-east-1 prices, written out here on purpose: a mistaken edit of the price table must fail these
 * tests rather than silently move the break-even.
 */
const PUBLISHED = {
  stateTransitionUsd: 0.025 / 1_000,
  armGbSecondUsd: 0.0000133334,
  x86GbSecondUsd: 0.0000166667,
  lambdaRequestUsd: 0.2 / 1_000_000,
  logIngestionUsdPerByte: 0.5 / 1e9,
};

/**
 * What Lambda writes to the log group around every invocation (text format), as the Lambda docs show them, with
 * a 36-character request id and a 6-digit duration.
 */
const REQUEST_ID = '8f507cfc-3b83-4c6e-9b7d-1a2b3c4d5e6f';
const PLATFORM_LINES = [
  `START RequestId: ${REQUEST_ID} Version: $LATEST\n`,
  `END RequestId: ${REQUEST_ID}\n`,
  `REPORT RequestId: ${REQUEST_ID}\tDuration: 895012.34 ms\tBilled Duration: 895013 ms\tMemory Size: 128 MB\tMax Memory Used: 92 MB\t\n`,
];
/** How the Node.js runtime prefixes a console.log line in the text log format. */
const APPLICATION_PREFIX = `2026-11-22T08:27:25.712Z\t${REQUEST_ID}\tINFO\t`;
/** CloudWatch Logs counts each event as its message plus this. */
const EVENT_OVERHEAD_BYTES = 26;
const platformBytesByHand = PLATFORM_LINES.reduce(
  (sum, line) => sum + Buffer.byteLength(line) + EVENT_OVERHEAD_BYTES,
  0,
);

/** Every invocation's log: its summary line (prefixed by the runtime) and the platform's lines. */
const invocationLogBytesByHand =
  ROUND_SUMMARY_LINE_BYTES +
  Buffer.byteLength(`${APPLICATION_PREFIX}\n`) +
  EVENT_OVERHEAD_BYTES +
  platformBytesByHand;

/**
 * One Wait round: 2 state transitions, one Lambda request, about one second of the controller and the log lines of
 * its invocation.
 */
function roundCostByHand(gbSecondUsd: number, memoryMb = 128): number {
  const computeUsd = (memoryMb / 1024) * gbSecondUsd * 1;
  const logsUsd = invocationLogBytesByHand * PUBLISHED.logIngestionUsdPerByte;
  return 2 * PUBLISHED.stateTransitionUsd + PUBLISHED.lambdaRequestUsd + computeUsd + logsUsd;
}

/** Staying awake costs the controller's compute per ms; the break-even is the gap one round's cost buys. */
function breakEvenByHand(gbSecondUsd: number, memoryMb = 128): number {
  const perMsUsd = ((memoryMb / 1024) * gbSecondUsd) / 1_000;
  return roundCostByHand(gbSecondUsd, memoryMb) / perMsUsd;
}

const ARM_128: LambdaSize = { memoryMb: 128, architecture: 'arm64' };
const X86_128: LambdaSize = { memoryMb: 128, architecture: 'x86_64' };

describe('breakEvenIntervalMs', () => {
  it('is about 31 s for a 128 MB arm64 controller', () => {
    // act
    const breakEvenMs = breakEvenIntervalMs(ARM_128);

    // assess
    expect(breakEvenMs).toBe(Math.round(breakEvenByHand(PUBLISHED.armGbSecondUsd)));
    expect(breakEvenMs).toBeGreaterThan(30_500);
    expect(breakEvenMs).toBeLessThan(31_500);
  });

  it('is about 25 s for a 128 MB x86_64 controller', () => {
    // act
    const breakEvenMs = breakEvenIntervalMs(X86_128);

    // assess
    expect(breakEvenMs).toBe(Math.round(breakEvenByHand(PUBLISHED.x86GbSecondUsd)));
    expect(breakEvenMs).toBeGreaterThan(24_500);
    expect(breakEvenMs).toBeLessThan(25_500);
  });

  it('is shorter for a bigger controller, whose idle milliseconds cost more', () => {
    // act
    const small = breakEvenIntervalMs({ memoryMb: 128, architecture: 'arm64' });
    const large = breakEvenIntervalMs({ memoryMb: 1_024, architecture: 'arm64' });

    // assess
    expect(large).toBeLessThan(small);
  });

  it('defaults to the deployed controller size, 128 MB arm64', () => {
    // act
    const breakEvenMs = breakEvenIntervalMs();

    // assess
    expect(CONTROLLER_SIZE).toEqual(ARM_128);
    expect(breakEvenMs).toBe(breakEvenIntervalMs(ARM_128));
  });
});

describe('waitRoundCostUsd', () => {
  it('prices one round at two transitions, one request, a second of 128 MB arm64 and its log lines', () => {
    // act
    const costUsd = waitRoundCostUsd(ARM_128);

    // assess
    expect(costUsd).toBeCloseTo(roundCostByHand(PUBLISHED.armGbSecondUsd), 15);
    expect(costUsd).toBeCloseTo(0.000052183675, 15);
  });

  it('prices x86_64 compute higher than arm64', () => {
    // act
    const costUsd = waitRoundCostUsd(X86_128);

    // assess
    expect(costUsd).toBeCloseTo(roundCostByHand(PUBLISHED.x86GbSecondUsd), 15);
    expect(costUsd).toBeGreaterThan(waitRoundCostUsd(ARM_128));
  });
});

describe('lambdaCostPerMs', () => {
  it('prices a millisecond of 128 MB arm64 at an eighth of a GB-millisecond', () => {
    // act
    const perMsUsd = lambdaCostPerMs(ARM_128);

    // assess
    expect(perMsUsd).toBeCloseTo(PUBLISHED.armGbSecondUsd / 8 / 1_000, 18);
  });
});

describe('chooseStrategy', () => {
  it.each([
    { intervalMs: 100, expected: 'stay-awake' },
    { intervalMs: 1_000, expected: 'stay-awake' },
    { intervalMs: 30_000, expected: 'stay-awake' },
    { intervalMs: 32_000, expected: 'wait-state' },
    { intervalMs: 59_000, expected: 'wait-state' },
  ])('chooses $expected at $intervalMs ms for 128 MB arm64', ({ intervalMs, expected }) => {
    // act
    const strategy = chooseStrategy(intervalMs, ARM_128);

    // assess
    expect(strategy).toBe(expected);
  });

  it('waits in a Wait state at exactly the break-even interval', () => {
    // act
    const strategy = chooseStrategy(breakEvenIntervalMs(ARM_128), ARM_128);

    // assess
    expect(strategy).toBe('wait-state');
  });

  it('stays awake one millisecond below the break-even interval', () => {
    // act
    const strategy = chooseStrategy(breakEvenIntervalMs(ARM_128) - 1, ARM_128);

    // assess
    expect(strategy).toBe('stay-awake');
  });

  it('waits in a Wait state at 30 s on x86_64, whose break-even is shorter', () => {
    // act
    const strategy = chooseStrategy(30_000, X86_128);

    // assess
    expect(strategy).toBe('wait-state');
  });

  it('defaults to the deployed controller size', () => {
    // act
    const atThirty = chooseStrategy(30_000);

    // assess
    expect(atThirty).toBe('stay-awake');
  });
});

describe('controller memory sizes', () => {
  it("offers 128, 256, 320 (the fleet's shard), 512 and 1,024 MB, 128 MB by default", () => {
    expect(CONTROLLER_MEMORY_SIZES_MB).toEqual([128, 256, 320, 512, 1024]);
    expect(DEFAULT_CONTROLLER_MEMORY_MB).toBe(128);
  });

  it.each([256, 320, 512, 1024])(
    'puts the break-even of a %i MB arm64 controller where its own prices put it',
    (memoryMb) => {
      // act
      const breakEvenMs = breakEvenIntervalMs({ memoryMb, architecture: 'arm64' });

      // assess
      expect(breakEvenMs).toBe(Math.round(breakEvenByHand(PUBLISHED.armGbSecondUsd, memoryMb)));
    },
  );

  it('warns below the cadence each measured size sustains in the committed full benchmark', () => {
    // prepare: the report the README quotes (npm run bench)
    const report = JSON.parse(readFileSync('bench/results/latest.json', 'utf8')) as {
      smallestSustained: Record<string, number | null>;
    };

    // assess
    for (const [memoryMb, everySeconds] of Object.entries(report.smallestSustained)) {
      expect({ memoryMb, sustainedMs: SUSTAINED_INTERVAL_MS[Number(memoryMb) as 128 | 256 | 512] }).toEqual({
        memoryMb,
        sustainedMs: everySeconds === null ? undefined : everySeconds * 1000,
      });
    }
    expect(Object.keys(report.smallestSustained)).toEqual(['128', '256', '512']);
  });

  it('puts the break-even of a 1,024 MB arm64 controller near 5 s, and lower for every bigger size', () => {
    // act
    const breakEvens = CONTROLLER_MEMORY_SIZES_MB.map((memoryMb) =>
      breakEvenIntervalMs({ memoryMb, architecture: 'arm64' }),
    );

    // assess
    expect(breakEvens.at(-1)).toBeGreaterThan(4_500);
    expect(breakEvens.at(-1)).toBeLessThan(5_000);
    expect([...breakEvens].sort((a, b) => b - a)).toEqual(breakEvens);
  });
});

describe('lambdaSizeFrom', () => {
  it('reads the memory the runtime reports and the process architecture', () => {
    expect(lambdaSizeFrom('512', 'arm64')).toEqual({ memoryMb: 512, architecture: 'arm64' });
    expect(lambdaSizeFrom('1024', 'x64')).toEqual({ memoryMb: 1024, architecture: 'x86_64' });
  });

  it("assumes the stack's default outside Lambda or when the variable is not a size", () => {
    expect(lambdaSizeFrom(undefined, 'arm64')).toEqual(CONTROLLER_SIZE);
    expect(lambdaSizeFrom('', 'arm64').memoryMb).toBe(DEFAULT_CONTROLLER_MEMORY_MB);
    expect(lambdaSizeFrom('abc', 'arm64').memoryMb).toBe(DEFAULT_CONTROLLER_MEMORY_MB);
    expect(lambdaSizeFrom('-128', 'arm64').memoryMb).toBe(DEFAULT_CONTROLLER_MEMORY_MB);
  });

  it('moves the strategy with the memory: 10 s stays awake at 128 MB and waits at 1,024 MB', () => {
    expect(chooseStrategy(10_000, lambdaSizeFrom('128', 'arm64'))).toBe('stay-awake');
    expect(chooseStrategy(10_000, lambdaSizeFrom('1024', 'arm64'))).toBe('wait-state');
  });
});

describe('log ingestion', () => {
  it('counts the platform lines of an invocation as Lambda writes them', () => {
    expect(PLATFORM_LOG_BYTES_PER_INVOCATION).toBe(platformBytesByHand);
  });

  it("counts the runtime's prefix and newline on every application line", () => {
    expect(APPLICATION_LINE_PREFIX_BYTES).toBe(Buffer.byteLength(`${APPLICATION_PREFIX}\n`));
    expect(LOG_EVENT_OVERHEAD_BYTES).toBe(EVENT_OVERHEAD_BYTES);
  });

  it('prices a staying-awake tick at its share of the invocation, a Wait-state tick at a whole invocation', () => {
    // prepare
    const invocationMs = 895_000;

    // act
    const awakeUsd = logIngestionUsdPerTick(1_000, invocationMs, CONTROLLER_SIZE);
    const waitUsd = logIngestionUsdPerTick(60_000, invocationMs, CONTROLLER_SIZE);

    // assess
    expect(LOG_BYTES_PER_INVOCATION).toBe(invocationLogBytesByHand);
    expect(awakeUsd).toBeCloseTo(
      (1_000 / invocationMs) * invocationLogBytesByHand * PUBLISHED.logIngestionUsdPerByte,
      15,
    );
    expect(waitUsd).toBeCloseTo(invocationLogBytesByHand * PUBLISHED.logIngestionUsdPerByte, 15);
  });

  it('costs well under a cent a day at any stay-awake cadence (one line per invocation, not per tick)', () => {
    // act
    const perDay = (intervalMs: number) =>
      logIngestionUsdPerTick(intervalMs, 895_000) * (86_400_000 / intervalMs);

    // assess: 97 invocations a day, about 670 bytes each
    expect(perDay(1_000)).toBeLessThan(0.0001);
    expect(perDay(100)).toBeCloseTo(perDay(1_000), 9);
  });
});

describe("the controller's log lines, measured", () => {
  /** How late each timer fires: an idle sandbox's timer, so `precisionMs` has the digits it has on AWS. */
  const TIMER_LATE_MS = 2;
  let harness: Harness;
  const lines: string[] = [];

  beforeAll(async () => {
    harness = await startHarness({ startLoops: false });
    // The round's own start took generation 1 for it (as the starter does), so it only fires and sums up.
    await harness.setFields(
      {
        [FIELD.running]: { BOOL: true },
        [FIELD.waitSeconds]: { N: '0.2' },
        [FIELD.generation]: { N: '1' },
        [FIELD.executionArn]: { S: 'measure-log-lines' },
        [FIELD.heartbeatAt]: { S: new Date().toISOString() },
      },
      'default',
    );
    const lambda = createLambdaClient(localClientOptions(harness.stack.servicesEndpoint));
    // Simulated time, so the round fires the same ticks however loaded the machine is, each as late as a timer on an
    // idle Lambda sandbox (a millisecond or two): the lines are the ones AWS would ingest, not a busy laptop's.
    const clock = simulatedClock({
      startMs: Date.now(),
      timerErrorMs: () => TIMER_LATE_MS,
      yieldToEventLoop: true,
    });
    const startedAt = clock.peek();
    try {
      // One real round staying awake for about 2 s: the controller's own code writes its own lines.
      await runRound(
        { state: { pollerId: 'default', generation: 1 }, executionId: 'measure-log-lines' },
        {
          table: new ControlTable(harness.stack.dynamoDb, harness.stack.tableName),
          invoker: new LambdaWorkerInvoker(lambda),
          defaultTarget: LOCAL_WORKER_NAME,
          clock,
          log: createJsonLogger((line) => lines.push(line)),
          timing: { ...DEFAULT_TIMING, handBackMarginMs: 500 },
        },
        () => startedAt + 2_500,
      );
    } finally {
      lambda.destroy();
    }
  });

  afterAll(async () => {
    await harness.stack.stop();
  });

  it('writes one summary line per invocation, of the size the cost model prices (for 6-digit seqs)', () => {
    // prepare
    const summaries = lines.filter((line) => JSON.parse(line).message === 'round summary');
    // A loop a day old at 1 s is at seq 86,400: count the seqs as if they had 6 digits.
    const sizes = summaries.map((line) => {
      const { seqs } = JSON.parse(line) as { seqs: string };
      return Buffer.byteLength(line) - seqs.length + '123456-123456'.length;
    });

    // assess: a round of ~10 ticks logs one line (and the time field, level and ids are all in it)
    expect(summaries).toHaveLength(1);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(summaries[0] ?? '{}')).toMatchObject({
      pollerId: 'default',
      fired: expect.any(Number),
    });
    expect(JSON.parse(summaries[0] ?? '{}').fired).toBeGreaterThanOrEqual(5);
    expect(JSON.parse(summaries[0] ?? '{}').worstPrecisionMs).toBe(TIMER_LATE_MS);
    expect(ROUND_SUMMARY_LINE_BYTES).toBeGreaterThanOrEqual(Math.max(...sizes));
    expect(ROUND_SUMMARY_LINE_BYTES).toBeLessThanOrEqual(Math.max(...sizes) + 20);
    console.log(`[measure] round summary line: ${sizes.join(', ')} bytes (6-digit seqs)`);
  });
});
