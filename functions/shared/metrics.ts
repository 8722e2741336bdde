/**
 * CloudWatch metrics in Embedded Metric Format (EMF): a metric is one JSON line on stdout, which Lambda ships to
 * CloudWatch Logs and CloudWatch extracts into metrics. No SDK call, no network on the tick path, nothing to wait
 * for. The one catalogue of metric names and units, shared by the controller, the watchdog, the worker kit, the
 * alarms and the dashboard (infra), so that a name cannot drift between who writes it and who alarms on it.
 *
 * Cost: every distinct (metric name × dimension values) is one billed custom metric ($0.30 a month each, see
 * ../shared/AWS-FACTS.md). By default every metric has the one dimension `ControlTable` (a handful of metrics per
 * table); per-poller metrics add the set [ControlTable, PollerId] and so one metric per poller per name.
 */

/** The CloudWatch namespace of every metric this project writes. */
export const METRIC_NAMESPACE = 'SubMinuteLambdaExecutor';

/** Dimension names. */
export const METRIC_DIMENSION = {
  table: 'ControlTable',
  poller: 'PollerId',
} as const;

export type MetricUnit = 'Count' | 'Milliseconds';

/**
 * The catalogue: name → unit. Who writes each is said next to it. Each name is its key with a capital, and its unit
 * Milliseconds when the key ends in `Ms` (metricOf): emfLine derives them, so the functions' bundles do not carry
 * this table, and a test holds every entry to the rule.
 */
export const METRIC = {
  /** Controller: ticks fired (worker invokes sent). */
  fires: { name: 'Fires', unit: 'Count' },
  /** Controller: how far from its due instant a fire was sent (ms, one value per fire). */
  controllerPrecisionMs: { name: 'ControllerPrecisionMs', unit: 'Milliseconds' },
  /** Controller: ticks not fired because they would have been too late (or crowded out at a window edge). */
  skippedTicks: { name: 'SkippedTicks', unit: 'Count' },
  /** Controller: fires whose invoke failed, or whose synchronous answer (overlap `skip`) was an error. */
  failedFires: { name: 'FailedFires', unit: 'Count' },
  /** Controller: ticks not fired because the previous fire had not answered (overlap `skip`). */
  overlapSkips: { name: 'OverlapSkips', unit: 'Count' },
  /** Controller: loops started (a loop's first round, once its first write as owner held), whichever path started it. */
  loopStarts: { name: 'LoopStarts', unit: 'Count' },
  /** Watchdog: running pollers with a live loop, once a minute. */
  activePollers: { name: 'ActivePollers', unit: 'Count' },
  /**
   * Watchdog, once a minute: running pollers without a live loop (no heartbeat for 3 intervals of its cadence, or a
   * recorded stop), plus live loops that fire nothing (no tick recorded for 3 intervals, at least 90 s: findNotTicking).
   */
  stalePollers: { name: 'StalePollers', unit: 'Count' },
  /** Watchdog: loops it started again (each also counts in LoopStarts when its first round runs). */
  watchdogRestarts: { name: 'WatchdogRestarts', unit: 'Count' },
  /** Worker kit: ticks the worker finished successfully. */
  tickSucceeded: { name: 'TickSucceeded', unit: 'Count' },
  /** Worker kit: ticks the worker reported as failed (it threw, or the example worker's fetch failed or was not 2xx). */
  tickFailed: { name: 'TickFailed', unit: 'Count' },
  /** Worker kit: how long the worker's work for a tick took (ms). */
  tickDurationMs: { name: 'TickDurationMs', unit: 'Milliseconds' },
  /** Worker kit: how long after its due instant the worker started on a tick (ms). */
  workerLatenessMs: { name: 'WorkerLatenessMs', unit: 'Milliseconds' },
} as const satisfies Record<string, { readonly name: string; readonly unit: MetricUnit }>;

export type MetricKey = keyof typeof METRIC;

/** The name and unit of `key`, as METRIC lists them. */
export function metricOf(key: MetricKey): { readonly name: string; readonly unit: MetricUnit } {
  return {
    name: key.charAt(0).toUpperCase() + key.slice(1),
    unit: key.endsWith('Ms') ? 'Milliseconds' : 'Count',
  };
}

/** CloudWatch takes at most 100 values of one metric in one EMF line; more are dropped by the encoder. */
export const MAX_VALUES_PER_METRIC = 100;

export interface MetricRecord {
  /** The control table the metrics are about (the `ControlTable` dimension). */
  readonly table: string;
  /** Set to add the per-poller dimension set [ControlTable, PollerId] (opt-in: one billed metric per poller). */
  readonly perPollerId?: string;
  readonly timestampMs: number;
  /** One number, or several values of one metric (CloudWatch computes the statistics); empty arrays are left out. */
  readonly values: Partial<Record<MetricKey, number | readonly number[]>>;
  /** Searchable context that is not a metric (pollerId, seq, status…): logged, not billed as a metric. */
  readonly properties?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * One EMF line, or undefined when there is nothing to record. Pure: the caller writes it (console.log in Lambda,
 * the local stack's output locally).
 */
export function emfLine(record: MetricRecord): string | undefined {
  const metrics: { Name: string; Unit: MetricUnit }[] = [];
  const fields: Record<string, number | number[]> = {};
  for (const [key, raw] of Object.entries(record.values) as [MetricKey, number | readonly number[]][]) {
    if (raw === undefined) continue;
    const values = typeof raw === 'number' ? [raw] : raw.slice(0, MAX_VALUES_PER_METRIC);
    const finite = values.filter((value) => Number.isFinite(value));
    if (finite.length === 0) continue;
    const { name, unit } = metricOf(key);
    metrics.push({ Name: name, Unit: unit });
    fields[name] = finite.length === 1 ? (finite[0] as number) : finite;
  }
  if (metrics.length === 0) return undefined;
  const dimensions: string[][] = [[METRIC_DIMENSION.table]];
  if (record.perPollerId !== undefined) dimensions.push([METRIC_DIMENSION.table, METRIC_DIMENSION.poller]);
  return JSON.stringify({
    ...record.properties,
    _aws: {
      Timestamp: Math.round(record.timestampMs),
      CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: dimensions, Metrics: metrics }],
    },
    [METRIC_DIMENSION.table]: record.table,
    ...(record.perPollerId !== undefined ? { [METRIC_DIMENSION.poller]: record.perPollerId } : {}),
    ...fields,
  });
}

/** Where EMF lines go: stdout in Lambda (one line each, as CloudWatch Logs needs). */
export type MetricSink = (line: string) => void;

/**
 * Straight to stdout, not through console.log: Lambda's Node runtime patches console to prefix every line (text
 * log format) or to wrap it into the `message` of a JSON record (JSON log format), and a wrapped EMF object is no
 * longer extracted as metrics. A raw stdout line is an EMF log event in either format.
 */
export const stdoutMetricSink: MetricSink = (line) => {
  process.stdout.write(`${line}\n`);
};

/** Where nothing is recorded (tests that do not look, the local stack's quiet screen). */
export const discardMetricSink: MetricSink = () => {};

/**
 * The environment variable that adds the per-poller dimension set [ControlTable, PollerId] (one billed metric per
 * poller per name), set from the stack's PerPollerMetrics parameter; the controller and the worker kit read it.
 */
export const PER_POLLER_METRICS_VARIABLE = 'PER_POLLER_METRICS';

/** `true` turns per-poller metrics on; absent, empty or anything else leaves the per-table default. */
export function perPollerMetricsFrom(env: Readonly<Record<string, string | undefined>>): boolean {
  return env[PER_POLLER_METRICS_VARIABLE]?.trim().toLowerCase() === 'true';
}

/** What a function needs to write metrics: where the lines go and which table (and whether per poller) they are about. */
export interface MetricsSetup {
  readonly sink: MetricSink;
  readonly table: string;
  /** Add the per-poller dimension set (PER_POLLER_METRICS=true). */
  readonly perPoller: boolean;
}
