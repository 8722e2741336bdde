import { parseArgs } from 'node:util';
import { DEFAULT_SHARD_SIZE } from '../../functions/fleet/shard-round';
import { MAX_SHARDS_LIMIT } from '../../functions/shared/contract';
import { SubMinuteError } from '../../functions/shared/errors';
import { LAMBDA_MEMORY_LIMITS_MB } from '../local-stack/local-stack';

export interface BenchOptions {
  readonly quick: boolean;
  readonly seed: number;
  /** Multiplies every figure of the latency model; 0 is `--latency none`. */
  readonly latencyScale: number;
  /** Ticks per timing cadence (200 full, 30 quick unless given). */
  readonly ticks: number;
  readonly outDir: string;
  /** File name stem: `latest` for a full run, `quick` for --quick, `fleet` for --fleet, unless given. */
  readonly name: string;
  /** `--fleet N[,N…]`: measure fleets of these sizes instead of the timing and cost run; undefined otherwise. */
  readonly fleet: FleetOptions | undefined;
}

/** The fleet benchmark: N pollers on one local stack, one size after another. */
export interface FleetOptions {
  /** Fleet sizes, smallest first, each once (a size that fails a target ends the run). */
  readonly sizes: readonly number[];
  /** `uniform`: every poller at 1 s; `mix`: 0.25, 1, 5 and 60 s in turn (`--fleet-mix`). */
  readonly cadences: 'uniform' | 'mix';
  /** Length of the measured window, after the warm-up. */
  readonly seconds: number;
  /** Warm-up before the window (longer while some poller has not fired yet, up to 90 s more): every loop
   * started, its controller sandbox cold-started and settled. */
  readonly warmupSeconds: number;
  /**
   * `loops` (the default): today's design, one execution and one 128 MB controller per poller; `shards`
   * (`--serve shards`): the fleet variant, shared shard controllers (README "Fleet"), with its cost counted.
   */
  readonly serve: 'loops' | 'shards';
  /** With shards: MAX_SHARDS; undefined: as many as the load needs at the committed shard capacity. */
  readonly maxShards: number | undefined;
  /** With shards: the shard controller's memory (default: the fleet's, DEFAULT_SHARD_SIZE). */
  readonly controllerMemoryMb: number | undefined;
  /**
   * `--shard-capacity F[,F…]`: the sizes are fires per second on one shard (that many pollers at 1 s, MAX_SHARDS 1),
   * rising until the controller's precision p99 passes its target: the shard's capacity.
   */
  readonly capacitySearch: boolean;
  /**
   * `--worker in-process`: the worker's handler runs in the local stack's own process, not in sandboxes, so the
   * controller side is measured at full size without the user's worker on the machine (labelled in the report).
   */
  readonly workerInProcess: boolean;
}

export const USAGE = `npm run bench -- [--quick] [--seed N] [--latency harsh|none] [--latency-scale X] [--ticks N] [--out DIR] [--name STEM]
       npm run bench -- --fleet N[,N…] [--serve loops|shards] [--max-shards N] [--controller-memory MB] [--worker sandbox|in-process] [--fleet-mix] [--fleet-seconds S] [--fleet-warmup S] [--seed N] [--latency …] [--out DIR]
       npm run bench -- --shard-capacity F[,F…] [--controller-memory MB] [--worker sandbox|in-process] [--fleet-seconds S] [--fleet-warmup S] [--seed N] [--out DIR]

  --quick            30 ticks per timing cadence, no per-cadence count runs (about 5 minutes); writes quick.*;
                     too few ticks to judge the p99 and drift targets (reported as not judged)
  --seed N           seed of the latency model (default 1)
  --latency MODEL    harsh (default: DynamoDB 5–15 ms, invoke 10–40 ms, round 20–80 ms, cold start 300 ms / 100) or none
  --latency-scale X  multiply every latency figure by X (default 1)
  --ticks N          ticks per timing cadence (default 200, or 30 with --quick)
  --out DIR          where the report goes (default bench/results)
  --name STEM        report file names (default latest, quick with --quick, fleet with --fleet)

  --fleet N[,N…]     instead: N pollers at 1 s on one local stack, each size in turn; writes fleet.md and fleet.json
  --fleet-mix        with --fleet: the pollers cycle through 0.25, 1, 5 and 60 s
  --fleet-seconds S  with --fleet: the measured window (default 60)
  --fleet-warmup S   with --fleet: the warm-up before it (default 20; longer until every poller has fired)
  --serve MODE       with --fleet: loops (default: today's design, one execution and controller per poller) or
                     shards (the fleet variant: shared shard controllers, its cost counted and compared)
  --max-shards N     with --serve shards: MAX_SHARDS (default: enough shards for the load at the committed capacity)
  --controller-memory MB
                     with --serve shards or --shard-capacity: the shard controller's memory (default ${DEFAULT_SHARD_SIZE.memoryMb})
  --worker WHERE     with --fleet or --shard-capacity: sandbox (default: the worker in its own sandboxes, as on
                     Lambda) or in-process (the worker's handler in the stack's process: the controller side
                     measured without the worker's sandboxes on the machine; the report says so)
  --shard-capacity F[,F…]
                     instead: one shard (MAX_SHARDS 1) firing F ticks a second (F pollers at 1 s), each F in turn,
                     until the controller's precision p99 passes 5 ms; writes shard-capacity.md and .json`;

export class BenchUsageError extends SubMinuteError {
  override readonly name = 'BenchUsageError';
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new BenchUsageError(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  const quick = values.quick === true;
  const fleet = fleetOptions(values);
  const seed = integer('--seed', values.seed ?? '1', 0);
  const model = values.latency ?? 'harsh';
  if (model !== 'harsh' && model !== 'none')
    throw new BenchUsageError(`--latency must be harsh or none; got '${model}'`);
  const scale = Number(values['latency-scale'] ?? '1');
  if (!Number.isFinite(scale) || scale < 0) {
    throw new BenchUsageError(`--latency-scale must be a number ≥ 0; got '${values['latency-scale']}'`);
  }
  return {
    quick,
    seed,
    latencyScale: model === 'none' ? 0 : scale,
    ticks: integer('--ticks', values.ticks ?? (quick ? '30' : '200'), 2),
    outDir: values.out ?? 'bench/results',
    name:
      values.name ??
      (fleet?.capacitySearch
        ? 'shard-capacity'
        : fleet?.serve === 'shards'
          ? 'fleet-shards'
          : fleet
            ? 'fleet'
            : quick
              ? 'quick'
              : 'latest'),
    fleet,
  };
}

const FLEET_FLAGS = [
  'fleet-mix',
  'fleet-seconds',
  'fleet-warmup',
  'serve',
  'max-shards',
  'controller-memory',
  'worker',
] as const;

function fleetOptions(values: ReturnType<typeof parse>['values']): FleetOptions | undefined {
  const capacity = values['shard-capacity'];
  if (values.fleet === undefined && capacity === undefined) {
    const stray = FLEET_FLAGS.find((flag) => values[flag] !== undefined);
    if (stray !== undefined) throw new BenchUsageError(`--${stray} needs --fleet N[,N…]`);
    return undefined;
  }
  if (values.fleet !== undefined && capacity !== undefined)
    throw new BenchUsageError('give --fleet N[,N…] or --shard-capacity F[,F…], not both');
  const flag = capacity === undefined ? '--fleet' : '--shard-capacity';
  if (values.quick === true || values.ticks !== undefined) {
    throw new BenchUsageError(`${flag} measures a fleet, not the timing runs: leave out --quick and --ticks`);
  }
  const sizesText = capacity ?? values.fleet ?? '';
  const sizes = [...new Set(sizesText.split(',').map((text) => integer(flag, text.trim(), 1)))].sort(
    (a, b) => a - b,
  );
  const serveText = values.serve ?? (capacity === undefined ? 'loops' : 'shards');
  if (serveText !== 'loops' && serveText !== 'shards')
    throw new BenchUsageError(`--serve must be loops or shards; got '${serveText}'`);
  if (capacity !== undefined) {
    if (serveText !== 'shards')
      throw new BenchUsageError('--shard-capacity measures a shard: leave out --serve loops');
    const stray = (['fleet-mix', 'max-shards'] as const).find((name) => values[name] !== undefined);
    if (stray !== undefined)
      throw new BenchUsageError(`--shard-capacity runs one shard of pollers at 1 s: leave out --${stray}`);
  }
  if (serveText === 'loops') {
    const stray = (['max-shards', 'controller-memory'] as const).find((name) => values[name] !== undefined);
    if (stray !== undefined)
      throw new BenchUsageError(`--${stray} is for shared shard controllers: give --serve shards too`);
  }
  const maxShards =
    capacity !== undefined
      ? 1
      : values['max-shards'] === undefined
        ? undefined
        : integer('--max-shards', values['max-shards'], 1, MAX_SHARDS_LIMIT);
  const controllerMemoryMb =
    values['controller-memory'] === undefined
      ? undefined
      : integer(
          '--controller-memory',
          values['controller-memory'],
          LAMBDA_MEMORY_LIMITS_MB.min,
          LAMBDA_MEMORY_LIMITS_MB.max,
        );
  const worker = values.worker ?? 'sandbox';
  if (worker !== 'sandbox' && worker !== 'in-process')
    throw new BenchUsageError(`--worker must be sandbox or in-process; got '${worker}'`);
  return {
    sizes,
    cadences: values['fleet-mix'] === true ? 'mix' : 'uniform',
    seconds: integer('--fleet-seconds', values['fleet-seconds'] ?? '60', 1),
    warmupSeconds: integer('--fleet-warmup', values['fleet-warmup'] ?? '20', 0),
    serve: serveText,
    maxShards,
    controllerMemoryMb,
    capacitySearch: capacity !== undefined,
    workerInProcess: worker === 'in-process',
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      seed: { type: 'string' },
      latency: { type: 'string' },
      'latency-scale': { type: 'string' },
      ticks: { type: 'string' },
      out: { type: 'string' },
      name: { type: 'string' },
      fleet: { type: 'string' },
      'fleet-mix': { type: 'boolean' },
      'fleet-seconds': { type: 'string' },
      'fleet-warmup': { type: 'string' },
      serve: { type: 'string' },
      'max-shards': { type: 'string' },
      'controller-memory': { type: 'string' },
      'shard-capacity': { type: 'string' },
      worker: { type: 'string' },
    },
  });
}

function integer(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new BenchUsageError(`${flag} must be a whole number ${range}; got '${text}'`);
  }
  return value;
}
