import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CONTROL_PLANE_MAX_ATTEMPTS,
  CONTROL_PLANE_TIMEOUTS,
  requestHandlerOf,
} from '../shared/client-config';
import type { Clock } from '../shared/clock';
import {
  DEFAULT_OUTCOME_RECORD_SECONDS,
  ENV,
  type TickOutcome,
  type TickResult,
  type WorkerEvent,
} from '../shared/contract';
import { isRecord } from '../shared/decode';
import type { Environment } from '../shared/env';
import { describeCause, InvalidWorkerSettingError, TickFailedError } from '../shared/errors';
import { emfLine, type MetricSink, stdoutMetricSink } from '../shared/metrics';
import {
  OUTCOME_WRITE_BUDGET_MS,
  type OutcomeRecording,
  type OutcomeWrite,
  recordTickOutcome,
} from '../shared/tick-outcome-write';
import { OutcomeSampler } from './outcome-sampler';
import { idempotencyKeyOf, parseWorkerEvent } from './tick-event';

/** A tick as the worker's work sees it. */
export interface Tick extends WorkerEvent {
  /** `pollerId#seq` (a trigger: `pollerId#trigger-<id>`): dedupe side effects on it (async delivery is at least once). */
  readonly idempotencyKey: string;
  /** When the tick was due, epoch ms. */
  readonly scheduledAtMs: number;
  /** How long after its due instant the worker started on it, ms (async delivery and a cold start included). */
  readonly latenessMs: number;
}

export type MetricProperties = Readonly<Record<string, string | number | boolean>>;

/** What the work may say about a tick that went well: a short detail (`HTTP 200`) and context for its metric line. */
export interface TickReport {
  readonly detail?: string;
  readonly properties?: MetricProperties;
}

/** The user's work for one tick: return (optionally a report) for success, throw for a failed tick. */
export type TickWork<Context> = (
  tick: Tick,
  context: Context,
) => Promise<TickReport | undefined> | Promise<void>;

/** What the handler returns for a tick that went well (a synchronous caller, `overlap: skip`, sees it). */
export interface TickSucceeded extends TickOutcome {
  readonly pollerId: string;
  readonly result: Extract<TickResult, 'ok'>;
}

/**
 * Where outcomes are recorded: the control table (functions/shared/control-table.ts `recordTickOutcome`), bounded
 * by the invocation's remaining time when the handler was given a Lambda context.
 */
export interface OutcomeStore {
  record(pollerId: string, outcome: TickOutcome, recording?: OutcomeRecording): Promise<OutcomeWrite>;
}

export interface TickKitDeps {
  readonly clock: Pick<Clock, 'now'>;
  /** Where the tick's one EMF line goes (a line on stdout in Lambda: CloudWatch Logs extracts the metrics). */
  readonly metrics: MetricSink;
  /**
   * The control table: the `ControlTable` dimension of the metrics and where outcomes are recorded. Undefined (a
   * worker deployed without CONTROL_TABLE_NAME): no metrics and no outcome records, the work still runs.
   */
  readonly tableName?: string | undefined;
  readonly outcomes?: OutcomeStore | undefined;
  readonly sampler: OutcomeSampler;
  /** Adds the per-poller dimension set (one billed metric per poller per name). */
  readonly perPollerMetrics: boolean;
}

/**
 * Wraps a worker's work into a Lambda handler: parses the tick event (refusing anything that is not one), times the
 * work, writes one EMF metric line per tick, then records the outcome on the control item by the sampling rule
 * within the invocation's remaining time (a write that fails or has no time never fails the tick: one more line
 * says why nothing was recorded), and rethrows a failure so Lambda counts it and sends the tick to the function's
 * on-failure destination. Reads its settings from the environment:
 * CONTROL_TABLE_NAME, PER_POLLER_METRICS=true, OUTCOME_RECORD_SECONDS.
 */
export function tickHandler<Context = unknown>(
  work: TickWork<Context>,
  env: Environment = process.env,
): (event: unknown, context: Context) => Promise<TickSucceeded> {
  const tableName = env[ENV.controlTableName] || undefined;
  let client: DynamoDBClient | undefined;
  const outcomes: OutcomeStore | undefined =
    tableName === undefined
      ? undefined
      : {
          record: (pollerId, outcome, recording) => {
            // Built on first use, not at init (a worker without outcomes to record builds none). The control
            // plane's limits (about 4 s at most): a stuck write must not eat the worker's own timeout.
            client ??= new DynamoDBClient({
              maxAttempts: CONTROL_PLANE_MAX_ATTEMPTS,
              requestHandler: requestHandlerOf(CONTROL_PLANE_TIMEOUTS),
            });
            return recordTickOutcome(client, tableName, pollerId, outcome, recording);
          },
        };
  return createTickHandler(work, {
    clock: { now: () => Date.now() },
    metrics: stdoutMetricSink,
    tableName,
    outcomes,
    sampler: new OutcomeSampler(outcomeRecordMs(env)),
    perPollerMetrics: env[ENV.perPollerMetrics] === 'true',
  });
}

/** OUTCOME_RECORD_SECONDS: a number of seconds from 0 (0 records every success); 10 when unset. */
export function outcomeRecordMs(env: Environment): number {
  const raw = env[ENV.outcomeRecordSeconds];
  if (raw === undefined || raw.trim() === '') return DEFAULT_OUTCOME_RECORD_SECONDS * 1000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new InvalidWorkerSettingError(ENV.outcomeRecordSeconds, raw, 'must be a number of seconds from 0');
  }
  return seconds * 1000;
}

/** `tickHandler` with its dependencies given (tests, the local stack's in-process worker). */
export function createTickHandler<Context>(
  work: TickWork<Context>,
  deps: TickKitDeps,
): (event: unknown, context: Context) => Promise<TickSucceeded> {
  return async (event, context) => {
    const startedMs = deps.clock.now();
    const parsed = parseWorkerEvent(event);
    const scheduledAtMs = Date.parse(parsed.scheduledAt);
    const tick: Tick = {
      ...parsed,
      idempotencyKey: idempotencyKeyOf(parsed),
      scheduledAtMs,
      latenessMs: startedMs - scheduledAtMs,
    };
    let report: TickReport | undefined;
    let failure: unknown;
    let failed = false;
    try {
      report = (await work(tick, context)) ?? undefined;
    } catch (error) {
      failure = error;
      failed = true;
    }
    const endedMs = deps.clock.now();
    const durationMs = endedMs - startedMs;
    const detail = failed ? failureDetail(failure) : report?.detail;
    const properties = failure instanceof TickFailedError ? failure.properties : (report?.properties ?? {});
    const outcome = {
      seq: tick.seq,
      result: failed ? 'failed' : 'ok',
      at: new Date(endedMs).toISOString(),
      durationMs,
      ...(detail !== undefined ? { detail } : {}),
      ...(tick.trigger !== undefined ? { trigger: tick.trigger } : {}),
    } as const;
    // The metric line first: recording may wait on the table, and the line must not wait on it (nor be lost to the
    // Lambda timeout).
    writeMetricLine(deps, tick, outcome, properties, endedMs);
    const notRecorded = await recordSampled(deps, tick.pollerId, outcome, endedMs, remainingTimeOf(context));
    if (notRecorded !== undefined) writeNotRecordedLine(deps, tick, notRecorded);
    if (failed) throw failure;
    return { pollerId: tick.pollerId, ...outcome, result: 'ok' };
  };
}

/** A TickFailedError's own reason; any other error as `Name: message` (ECONNREFUSED, a TypeError…). */
function failureDetail(error: unknown): string {
  return error instanceof TickFailedError ? error.detail : describeCause(error);
}

function writeMetricLine(
  deps: TickKitDeps,
  tick: Tick,
  outcome: TickOutcome,
  properties: MetricProperties,
  atMs: number,
): void {
  if (deps.tableName === undefined) return;
  const failed = outcome.result === 'failed';
  const line = emfLine({
    table: deps.tableName,
    ...(deps.perPollerMetrics ? { perPollerId: tick.pollerId } : {}),
    timestampMs: atMs,
    // Both counts on every line: a period with ticks and no failure reads 0, not missing data.
    values: {
      tickSucceeded: failed ? 0 : 1,
      tickFailed: failed ? 1 : 0,
      tickDurationMs: outcome.durationMs,
      workerLatenessMs: tick.latenessMs,
    },
    properties: {
      ...properties,
      pollerId: tick.pollerId,
      seq: tick.seq,
      ...(tick.trigger !== undefined ? { trigger: tick.trigger } : {}),
      result: outcome.result,
      ...(outcome.detail !== undefined ? { detail: outcome.detail } : {}),
    },
  });
  if (line !== undefined) deps.metrics(line);
}

/**
 * The invocation's remaining time, ms, when the handler was given a Lambda context (`getRemainingTimeInMillis`);
 * undefined otherwise (a test, the local stack's in-process worker), and then recording is not bounded.
 */
function remainingTimeOf(context: unknown): (() => number) | undefined {
  if (!isRecord(context)) return undefined;
  const read = context.getRemainingTimeInMillis;
  if (typeof read !== 'function') return undefined;
  return () => {
    const ms: unknown = read.call(context);
    return typeof ms === 'number' && !Number.isNaN(ms) ? ms : Number.POSITIVE_INFINITY;
  };
}

/**
 * Records the outcome when the sampling rule says so, and only with time for a write left in the invocation
 * (OUTCOME_WRITE_BUDGET_MS). A write that fails (throttling, the table unreachable) or has no time never fails the
 * tick: its reason is returned for the line after the metric line (`outcomeNotRecorded`), and the rule tries again
 * at the next tick.
 */
async function recordSampled(
  deps: TickKitDeps,
  pollerId: string,
  outcome: TickOutcome,
  nowMs: number,
  remainingMs: (() => number) | undefined,
): Promise<string | undefined> {
  const failed = outcome.result === 'failed';
  // A `ctl trigger` fire is rare and asked for by an operator: always recorded, and no part of the sampling.
  const triggered = outcome.trigger !== undefined;
  if (deps.outcomes === undefined || !(triggered || deps.sampler.shouldRecord(pollerId, failed, nowMs)))
    return undefined;
  try {
    const written = await deps.outcomes.record(pollerId, outcome, { remainingMs });
    if (written === 'out-of-time') {
      const left = Math.max(0, Math.round(remainingMs?.() ?? 0));
      return `no time left to record: ${left} ms of the invocation left, a write needs ${OUTCOME_WRITE_BUDGET_MS} ms`;
    }
    if (!triggered) deps.sampler.recorded(pollerId, failed, nowMs);
    return undefined;
  } catch (error) {
    return describeCause(error);
  }
}

/**
 * Why a tick's outcome was not recorded: one JSON line after its metric line (no metric in it), found in the
 * worker's log group by `outcomeNotRecorded`.
 */
function writeNotRecordedLine(deps: TickKitDeps, tick: Tick, reason: string): void {
  deps.metrics(JSON.stringify({ pollerId: tick.pollerId, seq: tick.seq, outcomeNotRecorded: reason }));
}
