import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CONTROLLER_SIZE, type LambdaSize } from '../../functions/scheduling/cost-model';
import type { Meter } from '../local-stack/latency-model';
import { classifyWrite, type IndexShape } from './shard-meter';

/** The two schedulers the benchmark compares: this project's loop and the blog posts' relative-wait recipe. */
export type Design = 'ours' | 'recipe';
export const DESIGNS: readonly Design[] = ['ours', 'recipe'];

/** What one design's scheduler did, in billable units. Worker invocations are counted apart (see MeterReading). */
export interface DesignCounts {
  /** Every event the local interpreter logged (StateEntered, StateExited, ExecutionStarted, …). */
  readonly historyEvents: number;
  /** Billable Standard-workflow transitions: one per StateEntered event. */
  readonly stateTransitions: number;
  readonly transitionsByState: Readonly<Record<string, number>>;
  readonly controllerInvocations: number;
  readonly controllerDurationMs: number;
  /** Handler duration (billed per ms, rounded up) × memory. */
  readonly controllerGbSeconds: number;
  /** GetItem, strongly consistent, item ≤ 4 KB: 1 read request unit each. */
  readonly readUnits: number;
  /** UpdateItem/PutItem/DeleteItem, item ≤ 1 KB: 1 write request unit each. */
  readonly writeUnits: number;
  readonly dynamoDbRequests: Readonly<Record<string, number>>;
}

export interface MeterReading {
  readonly designs: Readonly<Record<Design, DesignCounts>>;
  /** Worker invocations of both designs together (the meter hook does not say which poller): see fires per design. */
  readonly workerInvocations: number;
  readonly workerDurationMs: number;
  /**
   * DynamoDB requests attributed to no design: Scan (only the local stack's table watcher, standing in for a
   * DynamoDB Stream, and the start-up scan) and the benchmark's own set-up writes.
   */
  readonly excludedDynamoDbRequests: Readonly<Record<string, number>>;
  /**
   * Capacity units the table reported per operation, every client together (a Query is charged on the bytes it
   * reads, a write on the item's size): what the fleet's cost is counted from, where one request is not one unit.
   */
  readonly capacityUnits: Readonly<Record<string, number>>;
  /**
   * Index writes the writes cost (with `index` given; the local table reports none): each write that names an
   * attribute the index projects is one, a write of the index key two (shard-meter.ts classifyWrite).
   */
  readonly indexWrites: number;
  /** Of `capacityUnits`' write units, those of the worker kit's outcome records (the user's worker's writes). */
  readonly outcomeWriteUnits: number;
}

const READ_OPERATIONS = new Set(['GetItem']);
const WRITE_OPERATIONS = new Set(['UpdateItem', 'PutItem', 'DeleteItem']);

interface MutableCounts {
  historyEvents: number;
  stateTransitions: number;
  transitionsByState: Record<string, number>;
  controllerInvocations: number;
  controllerDurationMs: number;
  controllerBilledMs: number;
  dynamoDbRequests: Record<string, number>;
}

const emptyCounts = (): MutableCounts => ({
  historyEvents: 0,
  stateTransitions: 0,
  transitionsByState: {},
  controllerInvocations: 0,
  controllerDurationMs: 0,
  controllerBilledMs: 0,
  dynamoDbRequests: {},
});

export interface BenchMeterOptions {
  /** Which state machine and controller function belong to which design. */
  readonly stateMachines: Readonly<Record<Design, string>>;
  readonly controllers: Readonly<Record<Design, string>>;
  readonly workerName: string;
  /** Memory and architecture of both controllers (the same size, so only the design differs). */
  readonly controllerSize?: LambdaSize;
  /** The table's global secondary index, whose writes the local table does not report (the fleet variant's). */
  readonly index?: IndexShape;
}

/**
 * Implements the local stack's Meter hook and attributes each billable event to a design:
 * history events by the state machine named in the execution ARN, Lambda invocations by function name.
 * The DynamoDB hook only names the operation, so requests are attributed by subtraction: clients the benchmark
 * owns (the recipe controller's, the benchmark's own set-up client) count their own requests via `countClient`;
 * what is left, Scan excepted, is ours.
 */
export class BenchMeter implements Meter {
  private counts: Record<Design, MutableCounts> = { ours: emptyCounts(), recipe: emptyCounts() };
  private serverRequests: Record<string, number> = {};
  private capacityUnits: Record<string, number> = {};
  private indexWrites = 0;
  private outcomeWriteUnits = 0;
  private ownRequests: Record<'recipe' | 'bench', Record<string, number>> = { recipe: {}, bench: {} };
  private workerInvocations = 0;
  private workerDurationMs = 0;
  private readonly size: LambdaSize;

  constructor(private readonly options: BenchMeterOptions) {
    this.size = options.controllerSize ?? CONTROLLER_SIZE;
  }

  historyEvent(executionArn: string, type: string, stateName: string | undefined): void {
    const design = this.designOfStateMachine(stateMachineNameOf(executionArn));
    if (design === undefined) return;
    const counts = this.counts[design];
    counts.historyEvents += 1;
    if (type === 'StateEntered' || type.endsWith('StateEntered')) {
      counts.stateTransitions += 1;
      const state = stateName ?? 'unknown';
      counts.transitionsByState[state] = (counts.transitionsByState[state] ?? 0) + 1;
    }
  }

  lambdaInvocation(
    functionName: string,
    _invocationType: 'Event' | 'RequestResponse',
    durationMs: number,
  ): void {
    if (functionName === this.options.workerName) {
      this.workerInvocations += 1;
      this.workerDurationMs += durationMs;
      return;
    }
    const design = DESIGNS.find((candidate) => this.options.controllers[candidate] === functionName);
    if (design === undefined) return;
    const counts = this.counts[design];
    counts.controllerInvocations += 1;
    counts.controllerDurationMs += durationMs;
    counts.controllerBilledMs += Math.ceil(durationMs);
  }

  dynamoDbRequest(operation: string): void {
    bump(this.serverRequests, operation);
  }

  dynamoDbCapacity(operation: string, capacityUnits: number, request?: unknown): void {
    this.capacityUnits[operation] = (this.capacityUnits[operation] ?? 0) + capacityUnits;
    if (this.options.index === undefined) return;
    const write = classifyWrite(operation, request, this.options.index);
    this.indexWrites += write.indexWrites;
    if (write.outcomeRecord) this.outcomeWriteUnits += capacityUnits;
  }

  /** Counts every request `client` sends as the recipe's or the benchmark's own (an SDK middleware). */
  countClient(client: DynamoDBClient, owner: 'recipe' | 'bench'): void {
    client.middlewareStack.add(
      (next, context) => (args) => {
        const operation = String(context.commandName ?? 'unknown').replace(/Command$/, '');
        bump(this.ownRequests[owner], operation);
        return next(args);
      },
      { step: 'initialize', name: `benchMeter-${owner}` },
    );
  }

  /** Starts a new measurement window: everything counted so far (set-up, seeding) is dropped. */
  reset(): void {
    this.counts = { ours: emptyCounts(), recipe: emptyCounts() };
    this.serverRequests = {};
    this.capacityUnits = {};
    this.indexWrites = 0;
    this.outcomeWriteUnits = 0;
    this.ownRequests = { recipe: {}, bench: {} };
    this.workerInvocations = 0;
    this.workerDurationMs = 0;
  }

  read(): MeterReading {
    const recipeRequests = this.ownRequests.recipe;
    const benchRequests = this.ownRequests.bench;
    const oursRequests: Record<string, number> = {};
    const excluded: Record<string, number> = {};
    for (const [operation, total] of Object.entries(this.serverRequests)) {
      const attributed = total - (recipeRequests[operation] ?? 0) - (benchRequests[operation] ?? 0);
      if (operation === 'Scan' || (!READ_OPERATIONS.has(operation) && !WRITE_OPERATIONS.has(operation))) {
        excluded[operation] = (excluded[operation] ?? 0) + total;
      } else if (attributed > 0) {
        oursRequests[operation] = attributed;
      }
      if (benchRequests[operation] && operation !== 'Scan') {
        excluded[`${operation} (benchmark set-up)`] = benchRequests[operation];
      }
    }
    return {
      designs: {
        ours: this.finish(this.counts.ours, oursRequests),
        recipe: this.finish(this.counts.recipe, { ...recipeRequests }),
      },
      workerInvocations: this.workerInvocations,
      workerDurationMs: this.workerDurationMs,
      excludedDynamoDbRequests: excluded,
      capacityUnits: { ...this.capacityUnits },
      indexWrites: this.indexWrites,
      outcomeWriteUnits: this.outcomeWriteUnits,
    };
  }

  private finish(counts: MutableCounts, requests: Record<string, number>): DesignCounts {
    const sum = (operations: Set<string>) =>
      Object.entries(requests).reduce(
        (total, [operation, count]) => total + (operations.has(operation) ? count : 0),
        0,
      );
    return {
      historyEvents: counts.historyEvents,
      stateTransitions: counts.stateTransitions,
      transitionsByState: { ...counts.transitionsByState },
      controllerInvocations: counts.controllerInvocations,
      controllerDurationMs: counts.controllerDurationMs,
      controllerGbSeconds: (counts.controllerBilledMs / 1000) * (this.size.memoryMb / 1024),
      readUnits: sum(READ_OPERATIONS),
      writeUnits: sum(WRITE_OPERATIONS),
      dynamoDbRequests: requests,
    };
  }

  private designOfStateMachine(name: string | undefined): Design | undefined {
    return DESIGNS.find((design) => this.options.stateMachines[design] === name);
  }
}

/** `arn:aws:states:region:account:execution:StateMachineName:executionName` → StateMachineName. */
export function stateMachineNameOf(executionArn: string): string | undefined {
  return executionArn.split(':')[6];
}

function bump(counter: Record<string, number>, key: string): void {
  counter[key] = (counter[key] ?? 0) + 1;
}
