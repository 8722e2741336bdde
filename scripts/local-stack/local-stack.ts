import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { shardOfKey } from '../../functions/fleet/shard-store';
import { ShardTable } from '../../functions/fleet/shard-table';
import type { Timing } from '../../functions/scheduling/plan-round';
import { createDynamoDbClient, LOCAL_REGION, localClientOptions } from '../../functions/shared/aws-clients';
import {
  CONTROLLER_TIMEOUT_SECONDS,
  type ControllerOutput,
  DEFAULT_MAX_SHARDS,
  DEFAULT_POLLER_ID,
  MAX_SHARDS_LIMIT,
  SIGNAL,
  type TickResult,
  type WorkerEvent,
} from '../../functions/shared/contract';
import { decodePollerItem, pollerIdOfKey } from '../../functions/shared/control-item';
import { ControlTable } from '../../functions/shared/control-table';
import { isRecord } from '../../functions/shared/decode';
import { describeCause, SubMinuteError, TickFailedError } from '../../functions/shared/errors';
import { type Logger, silentLogger } from '../../functions/shared/logger';
import { createSfnClient } from '../../functions/shared/sfn-client';
import { startLoop as startLoopFor } from '../../functions/starter/start-loop';
import type { WatchdogDeps } from '../../functions/watchdog/run-watchdog';
import { parseWorkerEvent } from '../../functions/worker-kit/tick-event';
import { ensureControlTable } from './control-table-definition';
import { ControlTableWatcher, type ItemChange } from './control-table-watcher';
import { DynamoDbStore } from './dynamodb-store';
import { loadWorkerRetryPolicy, queueDestination } from './failed-ticks-destination';
import { streamBatchFailureRecord } from './failure-records';
import type { SandboxLogLine } from './lambda-sandbox/sandbox';
import type { CpuShareReport } from './lambda-sandbox/sandbox-host';
import type { LatencyModel, Meter } from './latency-model';
import {
  DEFAULT_DYNAMODB_PORT,
  LOCAL_CONTROLLER_NAME,
  LOCAL_FAILED_TICKS_QUEUE_NAME,
  LOCAL_HOST,
  LOCAL_TABLE_NAME,
  LOCAL_WORKER_NAME,
  localEndpoint,
  localFunctionArn,
  localQueueUrl,
  localStateMachineArn,
  servicesPortFor,
} from './local-endpoints';
import { type InvocationEnd, type InvocationStart, LocalFunctions } from './local-functions';
import { LocalQueues } from './local-queues';
import { LocalServicesServer } from './local-services-server';
import { type ExecutionEnded, LocalStepFunctions } from './local-step-functions';
import { LoopLife, type LoopLifeEvent, resumedFrom } from './loop-life';
import { type DeclaredFleet, type SeededPoller, seedFleet } from './seed-fleet';
import {
  forwardLogLine,
  openStackSandboxes,
  registerInProcessHandlers,
  type StackFunctions,
} from './stack-functions';
import { loadStartMapping, StreamEventSource } from './stream-event-source';
import { type StreamRecord, TableStream } from './stream-records';
import { WatchdogSchedule } from './watchdog-schedule';

/** Exactly the events `npm start -- --json` prints, one JSON object per line. */
export type LocalStackEvent =
  | {
      readonly event: 'ready';
      readonly endpoint: string;
      readonly table: string;
      readonly pollers: readonly string[];
      /** Whether the sandboxes are confined to Lambda's CPU share, and why not when they are not. */
      readonly cpuShare: CpuShareReport;
    }
  | {
      readonly event: 'fire';
      readonly poller: string;
      readonly seq: number;
      readonly scheduledAt: string;
      /** When the controller's invoke reached the Lambda endpoint: the moment the tick was sent. */
      readonly sentAt: string;
      /** When the worker started on it (after Lambda's async delivery and a possible cold start). */
      readonly firedAt: string;
      readonly latenessMs: number;
      /** A `ctl trigger` fire: its request id (its seq is negative, no scheduled tick's). */
      readonly trigger?: string;
    }
  | {
      /** What the worker did for a fired tick: its result, how long it ran, and why it failed (or its detail). */
      readonly event: 'outcome';
      readonly poller: string;
      readonly seq: number;
      readonly result: TickResult;
      readonly durationMs: number;
      readonly detail?: string;
      readonly trigger?: string;
    }
  | { readonly event: 'stopped'; readonly poller: string; readonly reason: string }
  /** A loop took its poller, a cadence edit was applied, `--data` brought pollers back (loop-life.ts). */
  | LoopLifeEvent
  | { readonly event: 'error'; readonly poller: string; readonly message: string }
  /** With a declared fleet (`--pollers FILE`, `--demo`): which pollers were written, and from where. */
  | { readonly event: 'seeded'; readonly source: string; readonly pollers: readonly SeededPoller[] }
  /** `--demo` only: a request one of the demo feeds answered (printed by `npm start`, not the stack). */
  | { readonly event: 'feed'; readonly path: string; readonly status: number; readonly requests: number };

export interface LocalStackOptions {
  /** DynamoDB port; the Lambda/Step Functions endpoint uses the next one. 0 picks free ports (tests). */
  readonly port?: number;
  /** Persist the table here (LevelDB); in memory when undefined. */
  readonly dataDir?: string;
  /** Seed the default poller with this cadence; undefined keeps a persisted item's cadence (2 s for a new one). */
  readonly everySeconds?: number;
  readonly pollerId?: string;
  /**
   * Seed these pollers instead of the default one (`--pollers FILE`, `--demo`); not with `everySeconds` or
   * `pollerId`. Running ones are started like any running poller, once the table is seeded.
   */
  readonly fleet?: DeclaredFleet;
  /**
   * The fleet variant (README "Fleet"): the control table with its shard index, the control plane from the fleet
   * bundle (functions/control-plane/fleet-handler.ts) with MAX_SHARDS (DEFAULT_MAX_SHARDS unless given) at the
   * fleet's memory default, and at start-up the fleet start (an execution with the input `{}`) instead of one loop
   * per poller. In sandbox processes (the fleet bundle) or in-process (the same pieces composed as
   * fleet-handler.ts composes them: scripts/local-stack/stack-functions.ts). `capacityFiresPerSecond` sets
   * SHARD_CAPACITY (SHARD_CAPACITY_FIRES_PER_SECOND unless given), so a test can load a shard past it.
   */
  readonly fleetVariant?: { readonly maxShards?: number; readonly capacityFiresPerSecond?: number };
  /**
   * Sandbox processes for the controller only: the worker's handler runs in this process (the fleet benchmark's
   * `--worker in-process`, to measure the controller side at full size; the worker is the user's function).
   */
  readonly workerInProcess?: boolean;
  /** Start loops for every poller whose item says running=true. Off, only the table and endpoints come up. */
  readonly startLoops?: boolean;
  /** Passed in the start input, so tests can force an early self-restart. */
  readonly historyBudget?: number;
  readonly onEvent?: (event: LocalStackEvent) => void;
  /**
   * Where the handlers' own JSON logs go (the sandboxes' JSON log lines, parsed, unless `sandboxLog` takes them);
   * silent by default so the event stream stays clean.
   */
  readonly handlerLog?: Logger;
  /** Every line the sandbox processes write, as written (`npm start -- --verbose`). */
  readonly sandboxLog?: (line: SandboxLogLine) => void;
  /**
   * Where the functions run. `process` (the default): in Lambda-like sandbox processes running the very bundles
   * the template inlines, frozen between invocations and confined to their memory's CPU share where the machine
   * allows (scripts/local-stack/lambda-sandbox/). `in-process`: the handlers called in this process on its full
   * CPU, for tests that inject a `timing`, which cannot cross into another process.
   */
  readonly sandbox?: SandboxMode;
  /** Only with `sandbox: 'in-process'`: the controller's timing constants. */
  readonly timing?: Timing;
  /** The controller's memory size in MB, which sets its CPU share (default: the deployed 128). */
  readonly controllerMemoryMb?: number;
  /** The cgroup v1 `cpu` hierarchy the sandboxes are confined in (default /sys/fs/cgroup/cpu; tests force others). */
  readonly cgroupRoot?: string;
  /** Fault injection: return an error to make the self-restart StartExecution (HandOver) fail. */
  readonly handOverFault?: () => Error | undefined;
  /** How often the watchdog looks for stale loops (the deployed rule: every minute). */
  readonly watchdogIntervalMs?: number;
  /** The controller's Lambda timeout; shorter ones make it hand back to Step Functions more often (tests). */
  readonly controllerTimeoutMs?: number;
  /** Stand-in for AWS latency (the benchmark's seeded model); none by default. */
  readonly latency?: LatencyModel;
  /** Counts billable events (the benchmark's cost figures); nothing by default. */
  readonly meter?: Meter;
  /**
   * Every function invocation as its handler starts (which function, sync or async, the event), with when the
   * Lambda endpoint received it: for tests and the benchmark's timing.
   */
  readonly onInvocationStart?: (start: InvocationStart) => void;
  /** Every function invocation as it ends (its result or error, e.g. a timeout): for tests. */
  readonly onInvocationEnd?: (end: InvocationEnd) => void;
  /**
   * The pause before retry n (1, 2) of a failed asynchronous invocation: Lambda's 1 min and 2 min by default;
   * tests shorten it. How many retries the worker gets is the CDK stack's (WORKER_ASYNC_RETRY), never set here.
   */
  readonly asyncRetryDelayMs?: (retry: number) => number;
}

export type SandboxMode = 'process' | 'in-process';

/** Lambda's memory sizes. */
export const LAMBDA_MEMORY_LIMITS_MB = { min: 128, max: 10_240 } as const;

/** Options that contradict each other or Lambda's limits, refused before anything starts. */
export class LocalStackOptionsError extends SubMinuteError {
  override readonly name = 'LocalStackOptionsError';
}

export const DEFAULT_EVERY_SECONDS = 2;
/** As often as the deployed EventBridge rule (every minute). */
export const DEFAULT_WATCHDOG_INTERVAL_MS = 60_000;
const SHUTDOWN_DRAIN_MS = 3_000;
/** The local table's stream has one shard; its id only names it in a failure record. */
const LOCAL_STREAM_SHARD_ID = 'shardId-00000000000000000000-local';

export interface LocalStack {
  /** The DynamoDB endpoint, e.g. http://127.0.0.1:8000. */
  readonly endpoint: string;
  /** The Lambda and Step Functions endpoint. */
  readonly servicesEndpoint: string;
  readonly tableName: string;
  readonly stateMachineArn: string;
  readonly region: string;
  readonly dynamoDb: DynamoDBClient;
  readonly stepFunctions: LocalStepFunctions;
  readonly services: LocalServicesServer;
  readonly functions: LocalFunctions;
  /** The failed-ticks queue on the services endpoint: the worker's failed ticks, the stream's failed starts. */
  readonly failedTicksQueueUrl: string;
  /** The DynamoDB server, for fault injection (refuse and accept connections again). */
  readonly dynamoDbStore: DynamoDbStore;
  /** Whether the sandboxes are confined to Lambda's CPU share (also in the `ready` event). */
  readonly cpuShare: CpuShareReport;
  startLoop(pollerId: string, extraInput?: Record<string, unknown>): string;
  stop(): Promise<void>;
}

/**
 * The whole system on one machine: dynalite for the control table, the same ASL in aws-local-stepfunctions, and
 * the same controller and worker code behind a local Lambda endpoint, so every AWS call is a real SDK call.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const sandboxMode = checkSandboxOptions(options);
  const fleetVariant =
    options.fleetVariant === undefined
      ? undefined
      : { ...options.fleetVariant, maxShards: options.fleetVariant.maxShards ?? DEFAULT_MAX_SHARDS };
  const sink = options.onEvent ?? (() => {});
  // How each loop lives (starts, cadence edits applied), read off the item's changes and the fires.
  const life = new LoopLife();
  const emit = (event: LocalStackEvent) => {
    sink(event);
    if (event.event === 'fire' && event.trigger === undefined)
      for (const lifeEvent of life.onFire(event)) sink(lifeEvent);
  };
  const region = LOCAL_REGION;
  const pollerId = options.pollerId ?? DEFAULT_POLLER_ID;
  const tableName = LOCAL_TABLE_NAME;
  const requestedPort = options.port ?? DEFAULT_DYNAMODB_PORT;

  const store = await DynamoDbStore.start(
    LOCAL_HOST,
    requestedPort,
    options.dataDir,
    options.latency,
    options.meter,
  );
  const endpoint = localEndpoint(store.port);
  const dynamoDb = createDynamoDbClient(localClientOptions(endpoint));
  const table = new ControlTable(dynamoDb, tableName);

  const functions = new LocalFunctions({
    onInvocationStart: (start) => {
      reportFire(start, emit);
      options.onInvocationStart?.(start);
    },
    onInvocationEnd: (end) => {
      reportOutcome(end, emit);
      options.onInvocationEnd?.(end);
    },
    ...(options.latency ? { latency: options.latency } : {}),
    ...(options.meter ? { meter: options.meter } : {}),
    ...(options.asyncRetryDelayMs ? { asyncRetryDelayMs: options.asyncRetryDelayMs } : {}),
  });
  // As the CDK stack: the worker's failed ticks go to the failed-ticks queue after the same retries.
  const queues = new LocalQueues();
  queues.create(LOCAL_FAILED_TICKS_QUEUE_NAME);
  const toFailedTicks = queueDestination(queues, LOCAL_FAILED_TICKS_QUEUE_NAME);
  functions.configureAsyncInvoke(LOCAL_WORKER_NAME, {
    ...(await loadWorkerRetryPolicy()),
    onFailure: toFailedTicks,
  });
  // An execution started with no input is the default poller's loop, or in the fleet variant the fleet start.
  const noInputLoop = fleetVariant === undefined ? DEFAULT_POLLER_ID : FLEET_START_LABEL;
  const endedReports = new HeldReports<ExecutionEnded>((ended) => reportEnded(ended, emit, noInputLoop));
  let stepFunctions: LocalStepFunctions | undefined;
  const services = new LocalServicesServer(
    functions,
    () => stepFunctionsOrThrow(stepFunctions),
    (functionName, message, event) => {
      // A tick the worker failed is reported with its fire (the `outcome` event), not a second time as an error.
      if (functionName === LOCAL_WORKER_NAME && isTick(event)) return;
      emit({ event: 'error', poller: pollerIdOf(event), message: `${functionName} failed: ${message}` });
    },
    queues,
  );
  let servicesPort: number;
  try {
    servicesPort = await services.listen(LOCAL_HOST, requestedPort === 0 ? 0 : servicesPortFor(store.port));
  } catch (error) {
    await store.close();
    throw error;
  }
  const servicesEndpoint = localEndpoint(servicesPort);

  const handlerLog = options.handlerLog ?? silentLogger;
  // What the stack itself starts loops with at start-up (and the in-process control plane with): the same code.
  const starterDeps: WatchdogDeps = {
    table,
    sfn: createSfnClient(localClientOptions(servicesEndpoint)),
    stateMachineArn: localStateMachineArn(region),
    log: handlerLog,
    ...(options.historyBudget ? { historyBudget: options.historyBudget } : {}),
  };
  const controllerTimeoutMs = options.controllerTimeoutMs ?? CONTROLLER_TIMEOUT_SECONDS * 1000;
  let stackFunctions: StackFunctions;
  try {
    stackFunctions =
      sandboxMode === 'process'
        ? await openStackSandboxes(functions, {
            region,
            tableName,
            endpoints: { dynamoDb: endpoint, lambda: servicesEndpoint, stepFunctions: servicesEndpoint },
            controllerTimeoutMs,
            ...(options.controllerMemoryMb !== undefined
              ? { controllerMemoryMb: options.controllerMemoryMb }
              : {}),
            ...(options.cgroupRoot !== undefined ? { cgroupRoot: options.cgroupRoot } : {}),
            ...(fleetVariant === undefined ? {} : { fleet: fleetVariant }),
            ...(options.workerInProcess === true ? { workerInProcess: { dynamoDb } } : {}),
            onLogLine: options.sandboxLog ?? ((line) => forwardLogLine(handlerLog, line)),
          })
        : registerInProcessHandlers(functions, {
            dynamoDb,
            tableName,
            servicesEndpoint,
            controllerTimeoutMs,
            log: handlerLog,
            starter: starterDeps,
            ...(fleetVariant === undefined ? {} : { fleet: fleetVariant }),
            ...(options.timing ? { timing: options.timing } : {}),
            ...(options.controllerMemoryMb !== undefined
              ? { controllerMemoryMb: options.controllerMemoryMb }
              : {}),
          });
  } catch (error) {
    await services.close();
    dynamoDb.destroy();
    starterDeps.sfn.destroy();
    await store.close();
    throw error;
  }
  const { cpuShare } = stackFunctions;

  stepFunctions = new LocalStepFunctions({
    region,
    controllerArn: localFunctionArn(LOCAL_CONTROLLER_NAME, region),
    lambdaEndpoint: servicesEndpoint,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    onExecutionEnded: (ended) => endedReports.report(ended),
    ...(options.meter ? { meter: options.meter } : {}),
    ...(options.handOverFault ? { handOverFault: options.handOverFault } : {}),
  });
  const sfn = stepFunctions;

  await ensureControlTable(dynamoDb, tableName, { requireShardIndex: fleetVariant !== undefined });
  if (options.dataDir !== undefined) {
    const persisted = await table.listAll();
    if (persisted.length > 0) emit(resumedFrom(options.dataDir, persisted));
  }
  if (options.fleet === undefined) await seedPoller(table, pollerId, options.everySeconds);
  else
    emit({ event: 'seeded', source: options.fleet.source, pollers: await seedFleet(table, options.fleet) });

  // As on AWS, the table's stream (here a scan-and-diff change feed) and the watchdog's every-minute rule reach the
  // deployed entry point, the control plane function, through the local Lambda: its routing, its partial batch
  // response and the stream mapping's filters, batching and retries are exercised as deployed.
  const invokeControlPlane = (event: unknown) => functions.invoke(LOCAL_CONTROLLER_NAME, event);
  const tableStream = new TableStream(region, tableName);
  const startMapping = await loadStartMapping({ fleet: fleetVariant !== undefined });
  const streamStart =
    options.startLoops === false
      ? undefined
      : new StreamEventSource({
          ...startMapping,
          invoke: invokeControlPlane,
          onRecordsFailed: (records, reason) => {
            for (const record of records) reportFailedStart(record, reason, emit);
            // As the mapping's on-failure destination (SqsDlq): where the batch was, not its records.
            toFailedTicks(
              streamBatchFailureRecord({
                functionArn: localFunctionArn(LOCAL_CONTROLLER_NAME, region),
                streamArn: tableStream.streamArn,
                shardId: LOCAL_STREAM_SHARD_ID,
                sequenceNumbers: records.map((record) => record.dynamodb.SequenceNumber),
                attempts: startMapping.retryAttempts + 1,
                atMs: Date.now(),
              }),
            );
          },
        });
  const watcher = new ControlTableWatcher(
    table,
    (change) => {
      reportRecordedError(change, emit);
      for (const lifeEvent of life.onItemChange(change)) emit(lifeEvent);
      streamStart?.push(tableStream.recordOf(change));
    },
    (error) => {
      // Once per outage, not every 250 ms.
      if (!watcherFailing)
        emit({
          event: 'error',
          poller: pollerId,
          message: `watching the control table failed: ${describeCause(error)}`,
        });
      watcherFailing = true;
    },
    () => {
      watcherFailing = false;
    },
  );
  let watcherFailing = false;
  await watcher.start();
  // The fleet variant: shard items are no pollers (the watcher leaves them out); their leases show the shard loops.
  const shardWatch =
    fleetVariant === undefined ? undefined : watchShards(new ShardTable(dynamoDb, tableName), life, emit);

  const startLoop = (id: string, extraInput: Record<string, unknown> = {}) =>
    sfn.startExecution({
      stateMachineArn: sfn.stateMachineArn,
      input: JSON.stringify({
        pollerId: id,
        ...(options.historyBudget ? { historyBudget: options.historyBudget } : {}),
        ...extraInput,
      }),
    }).executionArn;

  // Whatever ran before (a killed stack with --data) has no execution now, however fresh its last heartbeat:
  // start every running poller afresh, above its last claim. The fleet variant starts the fleet instead, as an
  // operator does on AWS: one execution with no input, which places every poller and starts the shards.
  const running = options.startLoops === false ? [] : await runningPollers(table);
  if (fleetVariant !== undefined) {
    if (running.length > 0) sfn.startExecution({ stateMachineArn: sfn.stateMachineArn, input: '{}' });
  } else {
    for (const { id, executionArn } of running) {
      await startLoopFor(id, starterDeps, { deadExecutionArn: executionArn });
    }
  }
  const pollers = running.map(({ id }) => id);
  emit({ event: 'ready', endpoint, table: tableName, pollers, cpuShare });

  const watchdog =
    options.startLoops === false
      ? undefined
      : new WatchdogSchedule({
          region,
          intervalMs: options.watchdogIntervalMs ?? DEFAULT_WATCHDOG_INTERVAL_MS,
          invoke: invokeControlPlane,
          onFailure: (message) =>
            emit({ event: 'error', poller: pollerId, message: `watchdog failed: ${message}` }),
        });
  watchdog?.start();

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // Each loop's `stopped` event says nothing of it fires any more: held until that is true.
      endedReports.hold();
      await watchdog?.stop();
      await watcher.stop();
      await shardWatch?.stop();
      await streamStart?.stop();
      // The loops end as on a machine switched off, all in one turn: the Lambda endpoint takes no more invokes,
      // the executions are aborted (no round starts again) and the control plane's invocations under way are
      // killed, so a round holding a tick's invoke open never sends it (nor records a failure). Only then are
      // the invocations already made (workers) let finish.
      services.refuseInvocations();
      const executionsEnded = sfn.shutdown();
      const controlPlaneEnded = functions.closeFunction(LOCAL_CONTROLLER_NAME);
      await Promise.all([executionsEnded, controlPlaneEnded]);
      await Promise.race([
        functions.drain(),
        new Promise((resolve) => setTimeout(resolve, SHUTDOWN_DRAIN_MS)),
      ]);
      endedReports.release();
      await functions.close();
      await stackFunctions.close();
      await services.close();
      dynamoDb.destroy();
      starterDeps.sfn.destroy();
      await store.close();
    })();
    return stopping;
  };

  return {
    endpoint,
    servicesEndpoint,
    tableName,
    stateMachineArn: sfn.stateMachineArn,
    region,
    dynamoDb,
    stepFunctions: sfn,
    services,
    functions,
    failedTicksQueueUrl: localQueueUrl(servicesEndpoint),
    dynamoDbStore: store,
    cpuShare,
    startLoop,
    stop,
  };
}

/** How often the fleet variant's shard items are read for the screen (as often as the table watcher scans). */
const SHARD_WATCH_INTERVAL_MS = 250;

/** Reads the shard items every SHARD_WATCH_INTERVAL_MS and reports each new lease epoch (LoopLife.onShards). */
function watchShards(
  shards: ShardTable,
  life: LoopLife,
  emit: (event: LocalStackEvent) => void,
): { stop(): Promise<void> } {
  let reading: Promise<void> | undefined;
  const timer = setInterval(() => {
    reading ??= shards
      .listShards()
      .then(
        (items) => {
          for (const event of life.onShards(items)) emit(event);
        },
        // The table watcher reports an unreachable table (once per outage); a shard item a hand edit broke is
        // the shard controller's to report.
        () => {},
      )
      .finally(() => {
        reading = undefined;
      });
  }, SHARD_WATCH_INTERVAL_MS);
  return {
    async stop() {
      clearInterval(timer);
      await reading;
    },
  };
}

/** Refuses options that cannot work together; returns where the functions run. */
function checkSandboxOptions(options: LocalStackOptions): SandboxMode {
  const mode = options.sandbox ?? 'process';
  if (mode === 'process' && options.timing !== undefined) {
    throw new LocalStackOptionsError(
      "an injected timing needs sandbox: 'in-process' (it cannot cross into a sandbox process); got sandbox: 'process'",
    );
  }
  if (options.fleet !== undefined && (options.everySeconds !== undefined || options.pollerId !== undefined)) {
    throw new LocalStackOptionsError(
      `a declared fleet (${options.fleet.source}) seeds its own pollers; everySeconds and pollerId are for the default poller, got ${JSON.stringify({ everySeconds: options.everySeconds, pollerId: options.pollerId })}`,
    );
  }
  const maxShards = options.fleetVariant?.maxShards;
  if (
    maxShards !== undefined &&
    !(Number.isInteger(maxShards) && maxShards >= 1 && maxShards <= MAX_SHARDS_LIMIT)
  ) {
    throw new LocalStackOptionsError(
      `fleetVariant.maxShards must be a whole number from 1 to ${MAX_SHARDS_LIMIT}; got ${maxShards}`,
    );
  }
  const capacity = options.fleetVariant?.capacityFiresPerSecond;
  if (capacity !== undefined && !(Number.isSafeInteger(capacity) && capacity >= 1)) {
    throw new LocalStackOptionsError(
      `fleetVariant.capacityFiresPerSecond must be a whole number from 1; got ${capacity}`,
    );
  }
  const memoryMb = options.controllerMemoryMb;
  if (
    memoryMb !== undefined &&
    (!Number.isInteger(memoryMb) ||
      memoryMb < LAMBDA_MEMORY_LIMITS_MB.min ||
      memoryMb > LAMBDA_MEMORY_LIMITS_MB.max)
  ) {
    throw new LocalStackOptionsError(
      `controllerMemoryMb must be a whole number of MB from ${LAMBDA_MEMORY_LIMITS_MB.min} to ${LAMBDA_MEMORY_LIMITS_MB.max}; got ${memoryMb}`,
    );
  }
  return mode;
}

function stepFunctionsOrThrow(stepFunctions: LocalStepFunctions | undefined): LocalStepFunctions {
  if (!stepFunctions) throw new Error('the local Step Functions service is still starting');
  return stepFunctions;
}

function reportFire(start: InvocationStart, emit: (event: LocalStackEvent) => void): void {
  // Ticks come as async invokes (overlap allow) or synchronous ones (overlap skip).
  if (start.functionName !== LOCAL_WORKER_NAME) return;
  let tick: WorkerEvent;
  try {
    tick = parseWorkerEvent(start.event);
  } catch {
    return; // not a tick of ours (a test invoking the worker by hand): nothing fired
  }
  const latenessMs = Math.round((start.startedAt - Date.parse(tick.scheduledAt)) * 10) / 10;
  emit({
    event: 'fire',
    poller: tick.pollerId,
    seq: tick.seq,
    scheduledAt: tick.scheduledAt,
    sentAt: new Date(start.requestedAt).toISOString(),
    firedAt: new Date(start.startedAt).toISOString(),
    latenessMs,
    ...(tick.trigger === undefined ? {} : { trigger: tick.trigger }),
  });
}

function isTick(event: unknown): boolean {
  try {
    parseWorkerEvent(event);
    return true;
  } catch {
    return false;
  }
}

/**
 * What the worker did for a tick, as the Lambda service knows it: the kit's result (functions/worker-kit/) or the
 * error the handler threw (a TickFailedError's reason without its `poller 'id': tick N failed:` prefix).
 */
function reportOutcome(end: InvocationEnd, emit: (event: LocalStackEvent) => void): void {
  if (end.functionName !== LOCAL_WORKER_NAME) return;
  let tick: WorkerEvent;
  try {
    tick = parseWorkerEvent(end.event);
  } catch {
    return;
  }
  const base = {
    event: 'outcome',
    poller: tick.pollerId,
    seq: tick.seq,
    ...(tick.trigger === undefined ? {} : { trigger: tick.trigger }),
  } as const;
  if ('error' in end.outcome) {
    const { errorType, errorMessage } = end.outcome.error;
    const prefix = new TickFailedError(tick.pollerId, tick.seq, '').message;
    const detail = errorMessage.startsWith(prefix)
      ? errorMessage.slice(prefix.length)
      : `${errorType}: ${errorMessage}`;
    emit({ ...base, result: 'failed', durationMs: Math.round(end.durationMs), detail });
    return;
  }
  const { result } = end.outcome;
  const reported = isRecord(result) ? result : {};
  emit({
    ...base,
    result: 'ok',
    durationMs: typeof reported.durationMs === 'number' ? reported.durationMs : Math.round(end.durationMs),
    ...(typeof reported.detail === 'string' ? { detail: reported.detail } : {}),
  });
}

/** Reports passed on as they come, or held back for a while and then passed on in order. */
class HeldReports<T> {
  private held: T[] | undefined;

  constructor(private readonly pass: (report: T) => void) {}

  report(report: T): void {
    if (this.held) this.held.push(report);
    else this.pass(report);
  }

  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const report of held) this.pass(report);
  }
}

function reportEnded(
  { execution, output }: ExecutionEnded,
  emit: (event: LocalStackEvent) => void,
  noInputLoop: string,
): void {
  const result = (output ?? {}) as Partial<ControllerOutput> & { stopped?: { Cause?: unknown } };
  const pollerId = result.pollerId ?? pollerIdFromInput(execution.input);
  const poller = pollerId === undefined ? noInputLoop : loopLabel(pollerId);
  if (execution.status === 'SUCCEEDED' && result.stopped !== undefined) {
    emit({ event: 'stopped', poller, reason: stopReasonFromCause(result.stopped.Cause) });
  } else if (execution.status === 'FAILED') {
    const message = `execution ${execution.name} failed: ${execution.error}: ${execution.cause}`;
    emit({ event: 'error', poller, message });
    emit({ event: 'stopped', poller, reason: message });
  } else if (execution.status === 'ABORTED') {
    emit({ event: 'stopped', poller, reason: 'local stack stopped' });
  }
  // SUCCEEDED after a hand-over: the loop goes on in the next execution.
}

/**
 * The reason a loop stopped, from the Catch output of its PollerStopped signal: the Cause is the Lambda error
 * payload as JSON (on AWS and on the local stack); a plain "PollerStopped: <reason>" is read too.
 */
export function stopReasonFromCause(cause: unknown): string {
  if (typeof cause !== 'string') return 'stopped';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // Not JSON: the local interpreter's form.
  }
  const prefix = `${SIGNAL.stopped}: `;
  return cause.startsWith(prefix) ? cause.slice(prefix.length) : cause;
}

/** A start the stream asked for that still failed after the mapping's retries (on AWS: the failure queue). */
function reportFailedStart(
  record: StreamRecord,
  reason: string,
  emit: (event: LocalStackEvent) => void,
): void {
  const poller = pollerIdOfKey(record.dynamodb.Keys) ?? DEFAULT_POLLER_ID;
  emit({
    event: 'error',
    poller,
    message: `could not start the loop: stream record ${record.dynamodb.SequenceNumber} (${record.eventName}) failed: ${reason}`,
  });
}

function reportRecordedError(change: ItemChange, emit: (event: LocalStackEvent) => void): void {
  const lastErrorOf = (image: ItemChange['after']) =>
    image === undefined ? undefined : decodePollerItem(change.pollerId, image).lastError;
  const after = lastErrorOf(change.after);
  const before = lastErrorOf(change.before);
  if (after === undefined || (before?.message === after.message && before.at === after.at)) return;
  emit({ event: 'error', poller: change.pollerId, message: after.message });
}

/** A loop as the screen names it: a poller by its id, a shard execution (`~shard/s0`) by its shard. */
export function loopLabel(pollerId: string): string {
  const shard = shardOfKey(pollerId);
  return shard === undefined ? pollerId : `shard ${shard}`;
}

/** How the screen names the fleet start's execution (the one with no input) in the fleet variant. */
export const FLEET_START_LABEL = 'fleet';

function pollerIdFromInput(input: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(input);
    return isRecord(parsed) && typeof parsed.pollerId === 'string' ? parsed.pollerId : undefined;
  } catch {
    return undefined;
  }
}

function pollerIdOf(event: unknown): string {
  const pollerId = isRecord(event) ? event.pollerId : undefined;
  return typeof pollerId === 'string' ? pollerId : DEFAULT_POLLER_ID;
}

/** Sets running=true; sets waitseconds when asked to, or when the item has none yet. Other fields stay as they are. */
async function seedPoller(table: ControlTable, pollerId: string, everySeconds?: number) {
  await table.seed(pollerId, {
    running: true,
    waitSeconds: String(everySeconds ?? DEFAULT_EVERY_SECONDS),
    keepWaitSeconds: everySeconds === undefined,
  });
}

/** Every poller whose item says running=true (all pages), with the execution its item names. */
async function runningPollers(
  table: ControlTable,
): Promise<{ id: string; executionArn: string | undefined }[]> {
  return (await table.listAll())
    .filter((item) => item.operator.running === true)
    .map((item) => ({ id: item.pollerId, executionArn: item.executionArn }))
    .sort((a, b) => a.id.localeCompare(b.id));
}
