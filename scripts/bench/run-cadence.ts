import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CONTROLLER_SIZE, DEFAULT_CONTROLLER_MEMORY_MB } from '../../functions/scheduling/cost-model';
import {
  createDynamoDbClient,
  createLambdaClient,
  localClientOptions,
} from '../../functions/shared/aws-clients';
import { DEFAULT_POLLER_ID, type WorkerEvent } from '../../functions/shared/contract';
import { ControlTable } from '../../functions/shared/control-table';
import { createLogger, type Logger } from '../../functions/shared/logger';
import { describeCpuShare } from '../local-stack/lambda-sandbox/sandbox-host';
import type { LatencyModel } from '../local-stack/latency-model';
import {
  LOCAL_CONTROLLER_NAME,
  LOCAL_STATE_MACHINE_NAME,
  LOCAL_WORKER_NAME,
  localFunctionArn,
} from '../local-stack/local-endpoints';
import type { InvocationStart } from '../local-stack/local-functions';
import { type LocalStackEvent, startLocalStack } from '../local-stack/local-stack';
import { LocalStepFunctions } from '../local-stack/local-step-functions';
import { BenchMeter, type Design, type MeterReading } from './meter';
import {
  buildRecipeDefinition,
  createRecipeController,
  isRecipeCadence,
  RECIPE_CONTROLLER_NAME,
  RECIPE_POLLER_ID,
  RECIPE_STATE_MACHINE_NAME,
} from './relative-wait-recipe';

/** One design's samples in one run, in fire order. */
export interface DesignSamples {
  /**
   * Invoke issued − scheduled time. Ours: when the local Lambda endpoint received the async invoke, so the
   * controller's own CPU time under its share (building, signing, sending the request) is in it; the recipe: its
   * controller's own reading.
   */
  readonly precisionMs: readonly number[];
  /** Worker start − scheduled time (the local stack's `fire` event). */
  readonly latenessMs: readonly number[];
  /** Grid slots skipped between consecutive fires (a tick late by half an interval or more is skipped). */
  readonly skippedTicks?: number;
}

export interface CadenceRun {
  readonly everySeconds: number;
  /** The controller's memory size; its sandbox gets that share of a core where cgroups allow. */
  readonly controllerMemoryMb: number;
  /** Whether the CPU share was applied (the local stack's own account of it). */
  readonly cpuShare: string;
  readonly ticksWanted: number;
  /** Why this run exists: timing (ours vs the recipe), per-tick counts, or hand-back rounds. */
  readonly kind: 'timing' | 'count' | 'rounds';
  readonly ours: DesignSamples;
  /** Undefined when the recipe cannot run this cadence or was not asked to. */
  readonly recipe: DesignSamples | undefined;
  readonly meter: MeterReading;
  readonly wallMs: number;
  /** The controller Lambda timeout used (the deployed one unless a rounds run shortens it). */
  readonly controllerTimeoutMs: number | undefined;
  /** Warnings and errors the handlers logged, and error events: a clean run has none. */
  readonly problems: readonly string[];
}

export interface RunOptions {
  readonly everySeconds: number;
  /** Wait until each design has fired this many ticks… */
  readonly ticks?: number;
  /** …or run for this long (rounds runs). */
  readonly durationMs?: number;
  readonly kind: CadenceRun['kind'];
  readonly withRecipe: boolean;
  readonly latency: LatencyModel;
  readonly controllerTimeoutMs?: number;
  /** @default the deployed default (cost-model DEFAULT_CONTROLLER_MEMORY_MB) */
  readonly controllerMemoryMb?: number;
  /** Progress lines (stderr). */
  readonly progress?: (line: string) => void;
}

/**
 * One local stack (free ports) for one cadence: our loop on the stack's own state machine and, at whole-second
 * cadences, the relative-wait recipe on a second LocalStepFunctions against the same table with its own poller
 * id, under the same latency model and meter. Ours runs first until it has fired the ticks asked for and is
 * stopped (running=false, as an operator would); then the recipe runs as long. Then the stack stops (aborting
 * what still runs) and the meter is read.
 */
export async function runCadence(options: RunOptions): Promise<CadenceRun> {
  const withRecipe = options.withRecipe && isRecipeCadence(options.everySeconds);
  const controllerMemoryMb = options.controllerMemoryMb ?? DEFAULT_CONTROLLER_MEMORY_MB;
  const meter = new BenchMeter({
    stateMachines: { ours: LOCAL_STATE_MACHINE_NAME, recipe: RECIPE_STATE_MACHINE_NAME },
    controllers: { ours: LOCAL_CONTROLLER_NAME, recipe: RECIPE_CONTROLLER_NAME },
    workerName: LOCAL_WORKER_NAME,
    // Priced as deployed (arm64), whatever this machine is.
    controllerSize: { memoryMb: controllerMemoryMb, architecture: CONTROLLER_SIZE.architecture },
  });
  const problems: string[] = [];
  const precision: Record<Design, number[]> = { ours: [], recipe: [] };
  const lateness: Record<Design, number[]> = { ours: [], recipe: [] };
  const pollerOf: Record<string, Design> = { [DEFAULT_POLLER_ID]: 'ours', [RECIPE_POLLER_ID]: 'recipe' };
  let onProgress = () => {};
  const stopped = new Set<string>();

  const scheduledOf = (event: unknown): number | undefined => {
    const tick = event as Partial<WorkerEvent> | null;
    return tick?.pollerId === DEFAULT_POLLER_ID && typeof tick.scheduledAt === 'string'
      ? Date.parse(tick.scheduledAt)
      : undefined;
  };
  const onInvocationStart = (start: InvocationStart) => {
    if (start.functionName !== LOCAL_WORKER_NAME || start.invocationType !== 'Event') return;
    const scheduledAt = scheduledOf(start.event);
    if (scheduledAt !== undefined)
      precision.ours.push(Math.round((start.requestedAt - scheduledAt) * 10) / 10);
  };
  const scheduledTimes: number[] = [];
  const handlerLog: Logger = createLogger((level, message, fields) => {
    if (level !== 'info') problems.push(`${level}: ${message} ${JSON.stringify(fields ?? {})}`);
  });
  const onEvent = (event: LocalStackEvent) => {
    if (event.event === 'fire') {
      const design = pollerOf[event.poller];
      if (design !== undefined) lateness[design].push(event.latenessMs);
      if (design === 'ours') scheduledTimes.push(Date.parse(event.scheduledAt));
      onProgress();
    } else if (event.event === 'stopped') {
      stopped.add(event.poller);
      onProgress();
    } else if (event.event === 'error') {
      problems.push(`error event: ${event.poller}: ${event.message}`);
    }
  };

  const stack = await startLocalStack({
    port: 0,
    everySeconds: options.everySeconds,
    startLoops: false,
    latency: options.latency,
    meter,
    handlerLog,
    onEvent,
    onInvocationStart,
    controllerMemoryMb,
    ...(options.controllerTimeoutMs !== undefined
      ? { controllerTimeoutMs: options.controllerTimeoutMs }
      : {}),
  });

  let recipeSfn: LocalStepFunctions | undefined;
  let benchDb: DynamoDBClient | undefined;
  const clients: { destroy(): void }[] = [];
  try {
    if (withRecipe) {
      benchDb = createDynamoDbClient(localClientOptions(stack.endpoint));
      const recipeDb = createDynamoDbClient(localClientOptions(stack.endpoint));
      const recipeLambda = createLambdaClient(localClientOptions(stack.servicesEndpoint));
      clients.push(benchDb, recipeDb, recipeLambda);
      meter.countClient(benchDb, 'bench');
      meter.countClient(recipeDb, 'recipe');
      await new ControlTable(benchDb, stack.tableName).seed(RECIPE_POLLER_ID, {
        running: true,
        waitSeconds: String(options.everySeconds),
      });
      stack.functions.register(
        RECIPE_CONTROLLER_NAME,
        createRecipeController({
          dynamoDb: recipeDb,
          lambda: recipeLambda,
          tableName: stack.tableName,
          workerName: LOCAL_WORKER_NAME,
          onFire: (fire) => precision.recipe.push(fire.precisionMs),
        }),
      );
      const recipeArn = localFunctionArn(RECIPE_CONTROLLER_NAME, stack.region);
      recipeSfn = new LocalStepFunctions({
        region: stack.region,
        controllerArn: recipeArn,
        lambdaEndpoint: stack.servicesEndpoint,
        definition: buildRecipeDefinition(recipeArn),
        stateMachineName: RECIPE_STATE_MACHINE_NAME,
        meter,
        onExecutionEnded: ({ execution }) => {
          if (execution.status === 'FAILED')
            problems.push(`recipe execution failed: ${execution.error}: ${execution.cause}`);
        },
      });
    }

    meter.reset();
    const startedAt = Date.now();
    const wanted = options.ticks ?? Number.POSITIVE_INFINITY;
    const limitMs = options.durationMs ?? (wanted * options.everySeconds * 1000 + 5_000) * 1.5 + 30_000;
    const waitUntil = (done: () => boolean, what: string, timeoutMs = limitMs) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          onProgress = () => {};
          if (options.durationMs !== undefined) resolve();
          else
            reject(
              new Error(`${options.everySeconds} s ${options.kind}: ${what} not reached in ${timeoutMs} ms`),
            );
        }, timeoutMs);
        let reported = 0;
        onProgress = () => {
          const fired = lateness.ours.length + lateness.recipe.length;
          if (fired >= reported + 50) {
            reported = fired;
            options.progress?.(
              `  ${options.everySeconds} s ${options.kind}: ${lateness.ours.length} ours, ${lateness.recipe.length} recipe`,
            );
          }
          if (done()) {
            clearTimeout(timer);
            onProgress = () => {};
            resolve();
          }
        };
        onProgress();
      });

    // Ours first, alone: the two designs share one event loop, and the recipe's work would delay our timers.
    stack.startLoop(DEFAULT_POLLER_ID);
    await waitUntil(() => lateness.ours.length >= wanted, `${wanted} fires of ours`);
    // Stop our loop the operator's way; it ends at its next tick, so the invocation under way finishes and is
    // metered (a stack stop would cut it off unmetered), and before the recipe starts.
    await new ControlTable(stack.dynamoDb, stack.tableName).switchOff(DEFAULT_POLLER_ID);
    await waitUntil(
      () => stopped.has(DEFAULT_POLLER_ID),
      'the stop of our loop',
      options.everySeconds * 1000 * 3 + 10_000,
    );
    if (recipeSfn && benchDb) {
      recipeSfn.startExecution({
        stateMachineArn: recipeSfn.stateMachineArn,
        input: JSON.stringify({ pollerId: RECIPE_POLLER_ID }),
      });
      await waitUntil(() => lateness.recipe.length >= wanted, `${wanted} fires of the recipe`);
    }
    const wallMs = Date.now() - startedAt;

    await recipeSfn?.shutdown();
    await stack.stop();
    return {
      everySeconds: options.everySeconds,
      controllerMemoryMb,
      cpuShare: describeCpuShare(stack.cpuShare),
      ticksWanted: options.ticks ?? 0,
      kind: options.kind,
      ours: {
        precisionMs: [...precision.ours],
        latenessMs: [...lateness.ours],
        skippedTicks: skippedBetween(scheduledTimes, options.everySeconds * 1000),
      },
      recipe: withRecipe
        ? { precisionMs: [...precision.recipe], latenessMs: [...lateness.recipe] }
        : undefined,
      meter: meter.read(),
      wallMs,
      controllerTimeoutMs: options.controllerTimeoutMs,
      problems,
    };
  } finally {
    await recipeSfn?.shutdown();
    await stack.stop();
    for (const client of clients) client.destroy();
  }
}

/** Grid slots with no fire between consecutive fires of one loop (fires sorted by scheduled time). */
export function skippedBetween(scheduledTimes: readonly number[], intervalMs: number): number {
  const sorted = [...scheduledTimes].sort((a, b) => a - b);
  return sorted
    .slice(1)
    .reduce(
      (skipped, at, i) => skipped + Math.max(0, Math.round((at - (sorted[i] as number)) / intervalMs) - 1),
      0,
    );
}
