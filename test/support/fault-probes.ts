import type { SFNClient } from '@aws-sdk/client-sfn';
import { localClientOptions } from '../../functions/shared/aws-clients';
import { ControlTable } from '../../functions/shared/control-table';
import { createSfnClient } from '../../functions/shared/sfn-client';
import type { LoopStarterDeps } from '../../functions/starter/start-loop';
import type { FaultService, InjectedFault } from '../../scripts/local-stack/local-services-server';
import { type LocalStack, stopReasonFromCause } from '../../scripts/local-stack/local-stack';
import type { ExecutionRecord, ExecutionStatus } from '../../scripts/local-stack/local-step-functions';

/**
 * Probes for the fault-injection tests (test/faults): waiting on conditions, reading fires and executions,
 * counting injected faults, and the one-line summary each test prints for the owner to quote.
 */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds; returns how long that took (ms). Throws with `what` on timeout. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  pollMs = 50,
): Promise<number> {
  const startedAt = Date.now();
  for (;;) {
    if (await condition()) return Date.now() - startedAt;
    if (Date.now() - startedAt > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** Seqs that appear more than once (each listed once). */
/**
 * The shortest time between two consecutive fires of a poller (by when each invoke was sent), in ms; Infinity with
 * fewer than two fires. One loop per poller means no two sends closer than half the interval. (When the worker
 * starts also depends on Lambda's async delivery, which no scheduler controls.)
 */
export function shortestFireGapMs(fires: readonly { sentAt: string }[]): number {
  const times = fires.map((fire) => Date.parse(fire.sentAt)).sort((a, b) => a - b);
  return times.slice(1).reduce((shortest, at, i) => Math.min(shortest, at - (times[i] as number)), Infinity);
}

export function duplicateSeqs(fires: readonly { seq: number }[]): number[] {
  const seen = new Set<number>();
  const duplicates = new Set<number>();
  for (const { seq } of fires) (seen.has(seq) ? duplicates : seen).add(seq);
  return [...duplicates].sort((a, b) => a - b);
}

/** The pollerId an execution was started for (from its input). */
export function pollerOf(execution: ExecutionRecord): string | undefined {
  try {
    const input = JSON.parse(execution.input) as { pollerId?: unknown };
    return typeof input.pollerId === 'string' ? input.pollerId : undefined;
  } catch {
    return undefined;
  }
}

export function executionsOf(
  stack: LocalStack,
  pollerId: string,
  status?: ExecutionStatus,
): ExecutionRecord[] {
  return stack.stepFunctions.listExecutions(status).filter((execution) => pollerOf(execution) === pollerId);
}

/**
 * Why a SUCCEEDED execution stopped, from its output: `{ action: 'stop', reason }`, or the Catch of a stop
 * signal (`{ stopped: { Error, Cause } }`, the Cause being the Lambda error payload as on AWS). For reports;
 * assertions use the stack's `stopped` events.
 */
export function stopReasonOf(execution: ExecutionRecord): string | undefined {
  if (execution.output === undefined) return undefined;
  const output = JSON.parse(execution.output) as {
    action?: string;
    reason?: string;
    stopped?: { Error?: string; Cause?: string };
  };
  if (output.action === 'stop') return output.reason;
  return output.stopped === undefined ? undefined : stopReasonFromCause(output.stopped.Cause);
}

/** What the starter and the watchdog use, pointed at a local stack: tests call startLoop with it directly. */
export function starterDepsFor(stack: LocalStack): LoopStarterDeps & { readonly sfn: SFNClient } {
  return {
    table: new ControlTable(stack.dynamoDb, stack.tableName),
    sfn: createSfnClient(localClientOptions(stack.servicesEndpoint)),
    stateMachineArn: stack.stateMachineArn,
  };
}

/**
 * A fault injector for the local Lambda/Step Functions endpoint that answers `count` matching calls with `fault`
 * and then lets calls through again; it records when each faulted call came.
 */
export class FaultBurst {
  readonly faultedAt: number[] = [];
  /** The body of each faulted request, in order. */
  readonly faultedBodies: string[] = [];

  constructor(
    private readonly matches: (service: FaultService, target: string) => boolean,
    private readonly fault: InjectedFault,
    private remaining: number,
  ) {}

  get done(): boolean {
    return this.remaining === 0;
  }

  get lastFaultAt(): number | undefined {
    return this.faultedAt.at(-1);
  }

  inject(service: FaultService, target: string, body = ''): InjectedFault | undefined {
    if (this.remaining === 0 || !this.matches(service, target)) return undefined;
    this.remaining -= 1;
    this.faultedAt.push(Date.now());
    this.faultedBodies.push(body);
    return this.fault;
  }

  /** The seqs of the worker ticks whose invokes were faulted (a DryRun warm-up has no body, no seq). */
  faultedSeqs(): Set<number> {
    const seqs = new Set<number>();
    for (const body of this.faultedBodies) {
      try {
        const seq: unknown = (JSON.parse(body) as { seq?: unknown }).seq;
        if (typeof seq === 'number') seqs.add(seq);
      } catch {
        // Not a tick.
      }
    }
    return seqs;
  }
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One line per test for the owner to quote: `[fault] name: key value, key value`. */
export function reportFault(name: string, figures: Record<string, string | number>): void {
  const text = Object.entries(figures)
    .map(([key, value]) => `${key} ${value}`)
    .join(', ');
  console.log(`[fault] ${name}: ${text}`);
}
