import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { routeEvent } from '../../functions/control-plane/route-event';
import {
  type ControllerSetup,
  controllerDepsFrom,
  MEMORY_SIZE_VARIABLE,
  shardControllerDepsFrom,
} from '../../functions/controller/controller-deps';
import { runRound } from '../../functions/controller/run-round';
import {
  type FleetControlPlaneDeps,
  placeFromStream,
  runFleetRound,
  runFleetWatchdog,
} from '../../functions/fleet/fleet-control-plane';
import { type FleetPlannerDeps, listFleetIn } from '../../functions/fleet/fleet-planner';
import { DEFAULT_SHARD_SIZE } from '../../functions/fleet/shard-round';
import { CONTROLLER_SIZE } from '../../functions/scheduling/cost-model';
import type { Timing } from '../../functions/scheduling/plan-round';
import { localClientOptions } from '../../functions/shared/aws-clients';
import { type Clock, systemClock } from '../../functions/shared/clock';
import { ENV } from '../../functions/shared/contract';
import { recordTickOutcome } from '../../functions/shared/control-table';
import { isRecord } from '../../functions/shared/decode';
import { SubMinuteError } from '../../functions/shared/errors';
import type { Logger } from '../../functions/shared/logger';
import { discardMetricSink, type MetricSink } from '../../functions/shared/metrics';
import type { WorkerInvoker } from '../../functions/shared/worker-invoker';
import { startLoopsForChanges } from '../../functions/starter/on-item-changes';
import { runWatchdog, startOtherPollers, type WatchdogDeps } from '../../functions/watchdog/run-watchdog';
import { fetchPayloadUrl } from '../../functions/worker/fetch-payload-url';
import { OutcomeSampler } from '../../functions/worker-kit/outcome-sampler';
import { createTickHandler, outcomeRecordMs } from '../../functions/worker-kit/tick-handler';
import type { LocalServiceEndpoints } from './lambda-sandbox/lambda-environment';
import type { SandboxLogLine } from './lambda-sandbox/sandbox';
import { type CpuShareReport, SandboxHost } from './lambda-sandbox/sandbox-host';
import { bundleOnce } from './lambda-sandbox/sandbox-workspace';
import {
  LOCAL_CONTROLLER_NAME,
  LOCAL_WORKER_NAME,
  localFunctionArn,
  localStateMachineArn,
} from './local-endpoints';
import type { LocalFunctions } from './local-functions';

/** The stack's controller and worker, served by the local Lambda endpoint one way or the other. */
/** The fleet variant as the stack deploys it: MAX_SHARDS, and SHARD_CAPACITY when set. */
export interface FleetVariant {
  readonly maxShards: number;
  readonly capacityFiresPerSecond?: number;
}

export interface StackFunctions {
  /** Whether the functions are confined to Lambda's CPU share, and why not when they are not. */
  readonly cpuShare: CpuShareReport;
  /** Releases what serving them holds (sandbox processes, cgroups, clients). */
  close(): Promise<void>;
}

export interface StackSandboxesOptions {
  readonly region: string;
  readonly tableName: string;
  readonly endpoints: LocalServiceEndpoints;
  /** The controller's memory size (the deployed one by default). */
  readonly controllerMemoryMb?: number;
  readonly controllerTimeoutMs: number;
  readonly cgroupRoot?: string;
  readonly onLogLine: (line: SandboxLogLine) => void;
  /**
   * The fleet variant: the control plane is the fleet bundle (functions/control-plane/fleet-handler.ts) with
   * MAX_SHARDS (and SHARD_CAPACITY when given), at the fleet's memory default, as the CDK stack
   * gives it with `fleet`.
   */
  readonly fleet?: FleetVariant;
  /**
   * The worker's handler called in the local stack's own process instead of a sandbox (the benchmark's
   * `--worker in-process`: the controller measured at full size without the worker's sandboxes on the machine).
   */
  readonly workerInProcess?: { readonly dynamoDb: DynamoDBClient };
}

/**
 * The stack's controller (the control-plane bundle) and worker, each in Lambda-like sandbox processes running the
 * very bundles the template inlines, with the memory, timeout and environment the CDK stack gives them.
 */
export async function openStackSandboxes(
  functions: LocalFunctions,
  options: StackSandboxesOptions,
): Promise<StackFunctions> {
  // The CDK constructs name the entries and sizes; loaded only here (aws-cdk-lib is heavy) to share them exactly.
  const [{ HANDLER_ENTRY, WORKER_TIMEOUT, FLEET_CONTROLLER_MEMORY_MB }, { FUNCTION_DEFAULTS }] =
    await Promise.all([
      import('../../infra/constructs/poller-functions'),
      import('../../infra/constructs/inline-function'),
    ]);
  const host = await SandboxHost.open({
    region: options.region,
    endpoints: options.endpoints,
    ...(options.cgroupRoot !== undefined ? { cgroupRoot: options.cgroupRoot } : {}),
    onLogLine: options.onLogLine,
  });
  const { fleet } = options;
  const controller = host.addFunction({
    name: LOCAL_CONTROLLER_NAME,
    arn: localFunctionArn(LOCAL_CONTROLLER_NAME, options.region),
    code: bundleOnce(fleet === undefined ? HANDLER_ENTRY.controlPlane : HANDLER_ENTRY.fleetControlPlane),
    memoryMb:
      options.controllerMemoryMb ??
      (fleet === undefined ? FUNCTION_DEFAULTS.memorySize : FLEET_CONTROLLER_MEMORY_MB),
    timeoutMs: options.controllerTimeoutMs,
    variables: {
      [ENV.controlTableName]: options.tableName,
      [ENV.defaultTarget]: LOCAL_WORKER_NAME,
      [ENV.stateMachineArn]: localStateMachineArn(options.region),
      ...(fleet === undefined ? {} : { [ENV.maxShards]: String(fleet.maxShards) }),
      ...(fleet?.capacityFiresPerSecond === undefined
        ? {}
        : { [ENV.shardCapacity]: String(fleet.capacityFiresPerSecond) }),
    },
  });
  functions.registerRuntime(LOCAL_CONTROLLER_NAME, controller);
  if (options.workerInProcess === undefined) {
    const worker = host.addFunction({
      name: LOCAL_WORKER_NAME,
      arn: localFunctionArn(LOCAL_WORKER_NAME, options.region),
      code: bundleOnce(HANDLER_ENTRY.worker),
      memoryMb: FUNCTION_DEFAULTS.memorySize,
      timeoutMs: WORKER_TIMEOUT.toMilliseconds(),
      variables: workerVariables(options.tableName),
    });
    functions.registerRuntime(LOCAL_WORKER_NAME, worker);
  } else {
    registerInProcessWorker(functions, options.workerInProcess.dynamoDb, options.tableName);
  }
  return host;
}

export interface InProcessHandlersOptions {
  /** The stack's DynamoDB client (the local endpoint) and control table. */
  readonly dynamoDb: DynamoDBClient;
  readonly tableName: string;
  /** The local Lambda endpoint the controller fires the worker through. */
  readonly servicesEndpoint: string;
  readonly controllerMemoryMb?: number;
  readonly controllerTimeoutMs: number;
  readonly timing?: Timing;
  readonly log: Logger;
  /** What the control plane starts and restarts loops with (its stream and watchdog entries). */
  readonly starter: WatchdogDeps;
  /**
   * The fleet variant: the controller routes as functions/control-plane/fleet-handler.ts does (the fleet planner
   * on the stream and the watchdog, shard rounds and the fleet start on rounds), with MAX_SHARDS, at the fleet's
   * memory default unless `controllerMemoryMb` says otherwise.
   */
  readonly fleet?: FleetVariant;
  /**
   * Where the in-process controller's EMF metric lines go. Not this process's stdout, which is the screen (and the
   * `--json` event stream): the sandboxes' stdout carries them to `--verbose` instead.
   * @default discardMetricSink
   */
  readonly metricSink?: MetricSink;
}

/** Seed events come from CloudFormation, which the local stack does not have. */
export class UnservedEventError extends SubMinuteError {
  override readonly name = 'UnservedEventError';
}

/**
 * The controller and worker handlers called in the local stack's own process, on its full CPU, with injected
 * dependencies (a Timing) that cannot cross into a sandbox process. A kill freezes the controller's clock. The
 * controller routes events as the deployed control plane does (functions/control-plane/handler.ts), so the
 * stream's batches and the watchdog's scheduled events reach the same domain code.
 */
export function registerInProcessHandlers(
  functions: LocalFunctions,
  options: InProcessHandlersOptions,
): StackFunctions {
  const memoryMb =
    options.controllerMemoryMb ?? (options.fleet === undefined ? undefined : DEFAULT_SHARD_SIZE.memoryMb);
  // The deployed composition root, given what the stack gives the deployed function: its variables and the size
  // the cost model assumes for it (the local machine's processor is not the deployed one).
  const setup: ControllerSetup = {
    env: {
      [ENV.controlTableName]: options.tableName,
      [ENV.defaultTarget]: LOCAL_WORKER_NAME,
      ...(memoryMb !== undefined ? { [MEMORY_SIZE_VARIABLE]: String(memoryMb) } : {}),
    },
    clients: localClientOptions(options.servicesEndpoint),
    dynamoDb: options.dynamoDb,
    log: options.log,
    architecture: CONTROLLER_SIZE.architecture,
    timing: options.timing,
    metricSink: options.metricSink ?? discardMetricSink,
  };
  const invoker =
    options.fleet === undefined
      ? registerSingleLoopController(functions, options, setup)
      : registerFleetController(functions, options, setup, options.fleet);
  registerInProcessWorker(functions, options.dynamoDb, options.tableName);
  return {
    cpuShare: {
      applied: false,
      reason: "the functions run in the local stack's own process (sandbox: 'in-process')",
      functions: [],
    },
    close: async () => invoker.destroy(),
  };
}

/** The example worker's handler, called in this process on its full CPU. */
function registerInProcessWorker(
  functions: LocalFunctions,
  dynamoDb: DynamoDBClient,
  tableName: string,
): void {
  functions.register(
    LOCAL_WORKER_NAME,
    createTickHandler((tick) => fetchPayloadUrl(tick), {
      clock: systemClock,
      // Metric lines are for CloudWatch; in this process they would mix with the stack's own output.
      metrics: () => {},
      tableName,
      outcomes: { record: (pollerId, outcome) => recordTickOutcome(dynamoDb, tableName, pollerId, outcome) },
      sampler: new OutcomeSampler(outcomeRecordMs(workerVariables(tableName))),
      perPollerMetrics: false,
    }),
  );
}

/** The single-loop control plane (functions/control-plane/handler.ts) in this process; returns its invoker. */
function registerSingleLoopController(
  functions: LocalFunctions,
  options: InProcessHandlersOptions,
  setup: ControllerSetup,
): WorkerInvoker {
  const controllerDeps = controllerDepsFrom(setup);
  functions.register(
    LOCAL_CONTROLLER_NAME,
    async (event, invocation) => {
      const routed = routeEvent(event);
      switch (routed.kind) {
        case 'start':
          return startLoopsForChanges(routed.records, options.starter, options.log);
        case 'watchdog':
          return runWatchdog(options.starter, Date.now());
        case 'seed':
          throw new UnservedEventError('the local stack has no CloudFormation: a seed event is not served');
        case 'round': {
          const clock = freezableClock(systemClock, invocation.frozen);
          // As the deployed handler does: the remaining time is asked again before every tick.
          return runRound(
            routed.input,
            {
              ...controllerDeps,
              clock,
              startOtherPollers: (except) => startOtherPollers(options.starter, except, Date.now()),
            },
            () => Date.now() + invocation.remainingTimeMs(),
          );
        }
      }
    },
    { timeoutMs: options.controllerTimeoutMs },
  );
  return controllerDeps.invoker;
}

/**
 * The fleet's control plane (functions/control-plane/fleet-handler.ts) in this process, from the pieces
 * fleet-control-plane.ts exports: the planner starts shards through the stack's Step Functions, as the starter
 * starts loops. Returns the shard controller's invoker.
 */
function registerFleetController(
  functions: LocalFunctions,
  options: InProcessHandlersOptions,
  setup: ControllerSetup,
  fleet: FleetVariant,
): WorkerInvoker {
  const shardDeps = shardControllerDepsFrom(setup);
  const planner: FleetPlannerDeps = {
    listFleet: listFleetIn(options.starter.table),
    store: shardDeps.store,
    sfn: options.starter.sfn,
    stateMachineArn: options.starter.stateMachineArn,
    log: options.log,
    maxShards: fleet.maxShards,
    capacityFiresPerSecond: fleet.capacityFiresPerSecond,
  };
  const fleetDeps = (clock: Clock): FleetControlPlaneDeps => ({
    planner: () => planner,
    shard: () => ({ ...shardDeps, clock }),
    log: options.log,
  });
  functions.register(
    LOCAL_CONTROLLER_NAME,
    async (event, invocation) => {
      const routed = routeEvent(event);
      const deps = fleetDeps(freezableClock(systemClock, invocation.frozen));
      switch (routed.kind) {
        case 'start':
          return placeFromStream(routed.records, deps, Date.now());
        case 'watchdog':
          return runFleetWatchdog(deps, Date.now());
        case 'seed':
          throw new UnservedEventError('the local stack has no CloudFormation: a seed event is not served');
        case 'round':
          return runFleetRound(routed.input, deps, () => Date.now() + invocation.remainingTimeMs());
      }
    },
    { timeoutMs: options.controllerTimeoutMs },
  );
  return shardDeps.invoker;
}

/** The worker's variables, as the CDK stack sets them (infra/constructs/poller-functions.ts). */
function workerVariables(tableName: string): Record<string, string> {
  return { [ENV.controlTableName]: tableName };
}

/** A killed invocation's timers never fire again, as with a process that is gone. */
function freezableClock(clock: Clock, frozen: () => boolean): Clock {
  return {
    now: () => clock.now(),
    sleep: (ms) =>
      frozen()
        ? new Promise<void>(() => {})
        : clock.sleep(ms).then(() => (frozen() ? new Promise<void>(() => {}) : undefined)),
  };
}

/**
 * Passes a sandbox's JSON log line (functions/shared/logger.ts) to `log` as the handler logged it, so a Logger
 * handed to the local stack sees the sandboxes' logs as it saw in-process handlers'. Other lines are not logs.
 */
export function forwardLogLine(log: Logger, { line }: SandboxLogLine): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return;
  }
  if (!isRecord(parsed)) return;
  const { level, message, ...fields } = parsed;
  if ((level !== 'info' && level !== 'warn' && level !== 'error') || typeof message !== 'string') return;
  log[level](message, fields);
}
