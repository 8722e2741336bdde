import { parseArgs } from 'node:util';
import { SubMinuteError } from '../../functions/shared/errors';

export interface BenchOptions {
  readonly quick: boolean;
  readonly seed: number;
  /** Multiplies every figure of the latency model; 0 is `--latency none`. */
  readonly latencyScale: number;
  /** Ticks per timing cadence (200 full, 30 quick unless given). */
  readonly ticks: number;
  readonly outDir: string;
  /** File name stem: `latest` for a full run, `quick` for --quick, unless given. */
  readonly name: string;
}

export const USAGE = `npm run bench -- [--quick] [--seed N] [--latency harsh|none] [--latency-scale X] [--ticks N] [--out DIR] [--name STEM]

  --quick            30 ticks per timing cadence, no per-cadence count runs (< 5 minutes); writes quick.*
  --seed N           seed of the latency model (default 1)
  --latency MODEL    harsh (default: DynamoDB 5–15 ms, invoke 10–40 ms, round 20–80 ms, cold start 300 ms / 100) or none
  --latency-scale X  multiply every latency figure by X (default 1)
  --ticks N          ticks per timing cadence (default 200, or 30 with --quick)
  --out DIR          where the report goes (default bench/results)
  --name STEM        report file names (default latest, or quick with --quick)`;

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
    name: values.name ?? (quick ? 'quick' : 'latest'),
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
    },
  });
}

function integer(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min)
    throw new BenchUsageError(`${flag} must be a whole number ≥ ${min}; got '${text}'`);
  return value;
}
