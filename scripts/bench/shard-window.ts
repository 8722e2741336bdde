import { type DynamoDBClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { SHARD_CAPACITY_FIRES_PER_SECOND } from '../../functions/fleet/fleet-plan';
import { DEFAULT_SHARD_SIZE } from '../../functions/fleet/shard-round';
import { SHARD_INDEX_PROJECTION } from '../../functions/fleet/shard-store';
import {
  APPLICATION_LINE_PREFIX_BYTES,
  type LambdaSize,
  LOG_EVENT_OVERHEAD_BYTES,
  PLATFORM_LOG_BYTES_PER_INVOCATION,
  TRANSITIONS_PER_ROUND,
} from '../../functions/scheduling/cost-model';
import { DEFAULT_TIMING } from '../../functions/scheduling/plan-round';
import { CONTROLLER_TIMEOUT_SECONDS, FIELD } from '../../functions/shared/contract';
import { METRIC } from '../../functions/shared/metrics';
import type { SandboxLogLine } from '../local-stack/lambda-sandbox/sandbox';
import type { Meter } from '../local-stack/latency-model';
import {
  LOCAL_CONTROLLER_NAME,
  LOCAL_STATE_MACHINE_NAME,
  LOCAL_WORKER_NAME,
} from '../local-stack/local-endpoints';
import type { InvocationStart } from '../local-stack/local-functions';
import { type FleetCost, type FleetWindowCounts, fleetCost } from './fleet-cost';
import { type Percentiles, percentiles } from './fleet-stats';
import { BenchMeter } from './meter';
import { InvocationSpans, type Span } from './shard-meter';

/** The shard controller's size in the fleet variant (DEFAULT_SHARD_SIZE unless the run asks for another memory). */
export function shardControllerSize(memoryMb: number | undefined): LambdaSize {
  return { memoryMb: memoryMb ?? DEFAULT_SHARD_SIZE.memoryMb, architecture: DEFAULT_SHARD_SIZE.architecture };
}

/** MAX_SHARDS for a fleet whose pollers fire this often in all: enough shards at the committed capacity. */
export function shardsForLoad(firesPerSecond: number, capacity = SHARD_CAPACITY_FIRES_PER_SECOND): number {
  return Math.max(1, Math.ceil(firesPerSecond / capacity - 1e-9));
}

/**
 * How long one invocation of an always-awake shard lasts: it hands back to Step Functions this long before its
 * timeout. A window of a minute or two rarely sees a hand-back, so they are derived from the awake time.
 */
export const AWAKE_INVOCATION_MS = CONTROLLER_TIMEOUT_SECONDS * 1000 - DEFAULT_TIMING.handBackMarginMs;

/** Read operations a shard fleet pays for (Scan apart: see ShardWindowCounts.plannerScanReadUnits). */
const READS = ['GetItem', 'Query', 'BatchGetItem'] as const;
const WRITES = ['UpdateItem', 'PutItem', 'DeleteItem', 'BatchWriteItem'] as const;

/** What one measured window of a shard fleet spent, counted, with how each figure was had. */
export interface ShardWindowCounts {
  readonly counts: FleetWindowCounts;
  readonly cost: FleetCost;
  /** Read units per operation (GetItem, Query…), as the local table charged them. */
  readonly readUnitsByOperation: Readonly<Record<string, number>>;
  /**
   * The watchdog's fleet planner Scans the whole table once a minute; the local stack's own Scans (its table
   * watcher standing in for the stream, every 250 ms) cannot be told apart from it, so it is estimated: one
   * strongly consistent Scan of the table as it stood at the window's end, once a minute of the window.
   */
  readonly plannerScanReadUnits: number;
  /** Write units of the worker kit's outcome records, left out of `counts.writeUnits` (the user's worker pays them). */
  readonly outcomeWriteUnits: number;
  /** Controller log lines in the window (application lines; the platform's are estimated per invocation). */
  readonly controllerLogLines: number;
  /**
   * The shard controllers' own precision values (released − due, on their clock, as their EMF metric lines in the
   * window carry them): free of the local stack's process, where dynalite's work delays a request's arrival.
   */
  readonly controllerPrecisionMs: Percentiles | undefined;
  /** Invocations of the control-plane function started in the window (shard rounds, stream, watchdog). */
  readonly controllerInvocations: number;
  /** Ms the control-plane function was awake in the window, all its invocations together. */
  readonly controllerAwakeMs: number;
  /**
   * Hand-back rounds the awake time implies (awake ms / AWAKE_INVOCATION_MS), each a round's transitions, a Lambda
   * request and its platform log lines, added to the counts (a window sees few of them; one it does see is
   * counted twice, which errs high by a round).
   */
  readonly derivedHandBackRounds: number;
}

/**
 * Counts a shard fleet's orchestration over one measured window of the local stack: a BenchMeter for the
 * transitions and the table's capacity units (with the index writes it classifies), the control-plane function's
 * invocations as spans of time (a shard's invocation lasts up to 900 s: its share inside the window is billed),
 * and the bytes of its log lines.
 */
export class ShardWindowMeter {
  private readonly bench: BenchMeter;
  private readonly spans = new InvocationSpans();
  private logBytes = 0;
  private logLines = 0;
  private precisionValues: number[] = [];
  private windowOpen = false;
  readonly meter: Meter;

  constructor(private readonly size: LambdaSize) {
    this.bench = new BenchMeter({
      stateMachines: { ours: LOCAL_STATE_MACHINE_NAME, recipe: '' },
      controllers: { ours: LOCAL_CONTROLLER_NAME, recipe: '' },
      workerName: LOCAL_WORKER_NAME,
      controllerSize: size,
      index: { key: FIELD.shard, projected: new Set<string>(SHARD_INDEX_PROJECTION) },
    });
    const bench = this.bench;
    const spans = this.spans;
    this.meter = {
      historyEvent: (arn, type, state) => bench.historyEvent(arn, type, state),
      lambdaInvocation: (name, type, durationMs) => {
        bench.lambdaInvocation(name, type, durationMs);
        if (name === LOCAL_CONTROLLER_NAME) spans.ended(Date.now(), durationMs);
      },
      dynamoDbRequest: (operation) => bench.dynamoDbRequest(operation),
      dynamoDbCapacity: (operation, units, request) => bench.dynamoDbCapacity(operation, units, request),
    };
  }

  onInvocationStart(start: InvocationStart): void {
    if (start.functionName === LOCAL_CONTROLLER_NAME) this.spans.started(start.startedAt);
  }

  onSandboxLine(line: SandboxLogLine): void {
    if (!this.windowOpen || line.functionName !== LOCAL_CONTROLLER_NAME) return;
    this.logLines += 1;
    this.logBytes +=
      Buffer.byteLength(line.line, 'utf8') + APPLICATION_LINE_PREFIX_BYTES + LOG_EVENT_OVERHEAD_BYTES;
    this.precisionValues.push(...precisionValuesOf(line.line));
  }

  /** Everything counted so far (start-up, seeding, warm-up) is dropped. */
  openWindow(): void {
    this.bench.reset();
    this.logBytes = 0;
    this.logLines = 0;
    this.precisionValues = [];
    this.windowOpen = true;
  }

  closeWindow(window: Span, pollers: number, plannerScanUnitsPerScan: number): ShardWindowCounts {
    this.windowOpen = false;
    const reading = this.bench.read();
    const windowSeconds = (window.endMs - window.startMs) / 1000;
    const units = reading.capacityUnits;
    const readUnitsByOperation = Object.fromEntries(
      READS.filter((operation) => units[operation] !== undefined).map((operation) => [
        operation,
        units[operation] ?? 0,
      ]),
    );
    const plannerScanReadUnits = plannerScanUnitsPerScan * (windowSeconds / 60);
    const writeUnits = WRITES.reduce((sum, operation) => sum + (units[operation] ?? 0), 0);
    const controllerInvocations = this.spans.startsWithin(window);
    const controllerAwakeMs = this.spans.awakeMsWithin(window);
    const derivedHandBackRounds = controllerAwakeMs / AWAKE_INVOCATION_MS;
    const counts: FleetWindowCounts = {
      pollers,
      windowSeconds,
      stateTransitions: reading.designs.ours.stateTransitions + derivedHandBackRounds * TRANSITIONS_PER_ROUND,
      controllerInvocations: controllerInvocations + derivedHandBackRounds,
      controllerBilledMs: Math.ceil(controllerAwakeMs),
      controllerSize: this.size,
      readUnits:
        Object.values(readUnitsByOperation).reduce((sum, value) => sum + value, 0) + plannerScanReadUnits,
      writeUnits: writeUnits - reading.outcomeWriteUnits,
      indexWriteUnits: reading.indexWrites,
      logBytes:
        this.logBytes + (controllerInvocations + derivedHandBackRounds) * PLATFORM_LOG_BYTES_PER_INVOCATION,
    };
    return {
      counts,
      cost: fleetCost(counts),
      readUnitsByOperation,
      plannerScanReadUnits,
      outcomeWriteUnits: reading.outcomeWriteUnits,
      controllerLogLines: this.logLines,
      controllerPrecisionMs:
        this.precisionValues.length === 0 ? undefined : percentiles(this.precisionValues),
      controllerInvocations,
      controllerAwakeMs,
      derivedHandBackRounds,
    };
  }
}

/** Read units of one strongly consistent Scan of the whole table (what the fleet planner reads each minute). */
export async function fullScanReadUnits(client: DynamoDBClient, tableName: string): Promise<number> {
  let units = 0;
  let startKey: ScanCommandOutput['LastEvaluatedKey'];
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
        ExclusiveStartKey: startKey,
      }),
    );
    units += page.ConsumedCapacity?.CapacityUnits ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return units;
}

/** The ControllerPrecisionMs values of one EMF line (none for any other line). */
export function precisionValuesOf(line: string): number[] {
  if (!line.includes(METRIC.controllerPrecisionMs.name)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null) return [];
  const values: unknown = (parsed as Record<string, unknown>)[METRIC.controllerPrecisionMs.name];
  const list = Array.isArray(values) ? values : [values];
  return list.filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
}
