/**
 * `npm start`: the whole poller on this machine. Flags: --port N (DynamoDB; Lambda/Step Functions on N+1),
 * --data DIR, --every S | --pollers FILE | --demo, --fleet [--max-shards N], --controller-memory MB, --json,
 * --duration S, --verbose. See README "The local stack".
 */
// First: a Node older than package.json's engines.node stops here with one line saying what to install.
import './require-node';
import { parseArgs } from 'node:util';
import { DEFAULT_SHARD_SIZE } from '../functions/fleet/shard-round';
import { DEFAULT_MAX_SHARDS, MAX_SHARDS_LIMIT, WAIT_SECONDS_LIMITS } from '../functions/shared/contract';
import { InvalidIntervalError, SubMinuteError } from '../functions/shared/errors';
import { createJsonLogger } from '../functions/shared/logger';
import { parseWaitInterval } from '../functions/shared/wait-interval';
import { DEMO_FEEDS, startDemoFeeds } from './local-stack/demo-feeds';
import { describeOutcome, FireLines } from './local-stack/fire-lines';
import { describeCpuShare } from './local-stack/lambda-sandbox/sandbox-host';
import { DEFAULT_DYNAMODB_PORT } from './local-stack/local-endpoints';
import {
  DEFAULT_EVERY_SECONDS,
  LAMBDA_MEMORY_LIMITS_MB,
  type LocalStack,
  type LocalStackEvent,
  startLocalStack,
} from './local-stack/local-stack';
import { formatLoopLife } from './local-stack/loop-life';
import { operatorCommands } from './local-stack/operator-hints';
import { PollerFileError, readPollerFile } from './local-stack/poller-file';
import type { DeclaredFleet, SeededPoller } from './local-stack/seed-fleet';

class UsageError extends SubMinuteError {
  override readonly name = 'UsageError';
}

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string' },
      data: { type: 'string' },
      every: { type: 'string' },
      pollers: { type: 'string' },
      demo: { type: 'boolean', default: false },
      fleet: { type: 'boolean', default: false },
      'max-shards': { type: 'string' },
      duration: { type: 'string' },
      'controller-memory': { type: 'string' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const number = (flag: string, raw: string | undefined, min: number, max: number) => {
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
      throw new UsageError(`--${flag} must be a number from ${min} to ${max}; got "${raw}"`);
    }
    return value;
  };
  const port = number('port', values.port, 1, 65_534);
  if (port !== undefined && !Number.isInteger(port))
    throw new UsageError(`--port must be a whole number; got "${values.port}"`);
  const rawMemory = values['controller-memory'];
  const controllerMemoryMb = number(
    'controller-memory',
    rawMemory,
    LAMBDA_MEMORY_LIMITS_MB.min,
    LAMBDA_MEMORY_LIMITS_MB.max,
  );
  if (controllerMemoryMb !== undefined && !Number.isInteger(controllerMemoryMb))
    throw new UsageError(`--controller-memory must be a whole number of MB; got "${rawMemory}"`);
  const fleetFlags = [
    values.every === undefined ? [] : ['--every'],
    values.pollers === undefined ? [] : ['--pollers'],
    values.demo ? ['--demo'] : [],
  ].flat();
  if (fleetFlags.length > 1) {
    throw new UsageError(
      `give one of --every (the default poller), --pollers FILE or --demo; got ${fleetFlags.join(' and ')}`,
    );
  }
  const maxShards = number('max-shards', values['max-shards'], 1, MAX_SHARDS_LIMIT);
  if (maxShards !== undefined && !Number.isInteger(maxShards))
    throw new UsageError(`--max-shards must be a whole number; got "${values['max-shards']}"`);
  if (maxShards !== undefined && !values.fleet)
    throw new UsageError('--max-shards is for the fleet variant: give --fleet too');
  return {
    help: values.help,
    fleetVariant: values.fleet ? { ...(maxShards === undefined ? {} : { maxShards }) } : undefined,
    pollersFile: values.pollers,
    demo: values.demo,
    port: port ?? DEFAULT_DYNAMODB_PORT,
    dataDir: values.data,
    everySeconds: values.every === undefined ? undefined : everySeconds(values.every),
    durationSeconds: number('duration', values.duration, 0.1, 31 * 24 * 3600),
    controllerMemoryMb,
    json: values.json,
    verbose: values.verbose,
  };
}

/** The cadence of the default poller, by the one check the control item's `waitseconds` gets too. */
function everySeconds(raw: string): number {
  const interval = parseWaitInterval(raw);
  if (interval instanceof InvalidIntervalError)
    throw new UsageError(`--every must be ${interval.expected}; got ${JSON.stringify(raw)}`);
  return interval.seconds;
}

const USAGE = `Usage: npm start -- [--every S | --pollers FILE | --demo] [--fleet [--max-shards N]] [--port N] [--data DIR] [--duration S] [--controller-memory MB] [--json] [--verbose]
  --every S      cadence of the default poller in seconds (${WAIT_SECONDS_LIMITS.min}-${WAIT_SECONDS_LIMITS.max}, decimals allowed; default ${DEFAULT_EVERY_SECONDS}, or the persisted one)
  --pollers FILE seed the pollers a JSON or YAML file lists instead of the default one (see examples/pollers.yaml)
  --demo         serve three demo transit feeds on 127.0.0.1 and seed three pollers that fetch them
  --fleet        the fleet variant: shared shard controllers serve the pollers (README "Fleet"); the table gets
                 the shard index and the stack starts the fleet (an execution with the input {})
  --max-shards N with --fleet: the most shards (1-${MAX_SHARDS_LIMIT}, default ${DEFAULT_MAX_SHARDS})
  --port N       DynamoDB endpoint port (default ${DEFAULT_DYNAMODB_PORT}); the Lambda/Step Functions endpoint uses N+1
  --data DIR     persist the control table in DIR (default: in memory)
  --duration S   exit cleanly after S seconds (default: run until Ctrl-C)
  --controller-memory MB
                 the controller's memory size, which sets its CPU share (default: the deployed 128; ${DEFAULT_SHARD_SIZE.memoryMb} with --fleet)
  --json         print JSON lines (seeded, resumed, ready, loop-started, shard-taken, fire, outcome,
                 cadence-changed, stopped, error, feed) instead of text
  --verbose      also print the sandboxes' own log lines (and the starter's and watchdog's) to stderr`;

function formatHuman(event: LocalStackEvent): string {
  switch (event.event) {
    case 'ready':
      return `local stack ready: DynamoDB ${event.endpoint}, table ${event.table}, pollers: ${event.pollers.join(', ') || '(none running)'}\n${describeCpuShare(event.cpuShare)}`;
    case 'fire':
      return `fire  ${event.poller}  seq ${String(event.seq).padStart(5)}  ${event.trigger === undefined ? 'scheduled' : `trigger ${event.trigger} at`} ${event.scheduledAt}  late ${event.latenessMs.toFixed(1)} ms`;
    case 'outcome':
      return `done  ${event.poller}  seq ${String(event.seq).padStart(5)}  ${describeOutcome(event)}`;
    case 'stopped':
      return `stop  ${event.poller}  ${event.reason}`;
    case 'error':
      return `error ${event.poller}  ${event.message}`;
    case 'seeded':
      return `seeded ${event.pollers.length} poller${event.pollers.length === 1 ? '' : 's'} from ${event.source}: ${event.pollers.map(describeSeeded).join(', ')}`;
    case 'feed':
      return `feed  ${event.path.padEnd(12)}  ${event.status}  request ${event.requests}`;
    case 'loop-started':
    case 'cadence-changed':
    case 'resumed':
    case 'shard-taken':
      return formatLoopLife(event);
  }
}

function describeSeeded(poller: SeededPoller): string {
  const notes = [poller.running ? [] : ['stopped'], poller.outcome === 'updated' ? ['updated'] : []].flat();
  return `${poller.id} every ${poller.every} s${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
}

async function main(): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`npm start: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  // The file is read and decoded before anything starts: a bad one is refused like a bad flag, nothing written.
  let fileFleet: DeclaredFleet | undefined;
  if (options.pollersFile !== undefined) {
    try {
      fileFleet = { source: options.pollersFile, pollers: await readPollerFile(options.pollersFile) };
    } catch (error) {
      if (!(error instanceof PollerFileError)) throw error;
      console.error(`npm start: ${error.message}`);
      return 2;
    }
  }

  // Text: one line per fire, printed once its worker has finished, with what it did.
  const fireLines = new FireLines(formatHuman, (line) => console.log(line));
  const print = (event: LocalStackEvent) => {
    if (options.json) console.log(JSON.stringify(event));
    else if (event.event === 'fire') fireLines.fire(event);
    else if (event.event === 'outcome') fireLines.outcome(event);
    else console.log(formatHuman(event));
  };
  const demo = options.demo
    ? await startDemoFeeds({ onRequest: (request) => print({ event: 'feed', ...request }) })
    : undefined;
  if (demo && !options.json)
    console.log(`demo feeds: ${DEMO_FEEDS.map((feed) => `${demo.baseUrl}${feed.path}`).join(', ')}`);
  const fleet = demo?.fleet ?? fileFleet;
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      port: options.port,
      dataDir: options.dataDir,
      ...(fleet === undefined ? { everySeconds: options.everySeconds } : { fleet }),
      ...(options.fleetVariant === undefined ? {} : { fleetVariant: options.fleetVariant }),
      onEvent: (event) => {
        print(event);
        // JSON lines stay parseable on stdout; the operator still reads whether the CPU share is applied.
        if (event.event === 'ready' && options.json) console.error(describeCpuShare(event.cpuShare));
      },
      ...(options.controllerMemoryMb !== undefined ? { controllerMemoryMb: options.controllerMemoryMb } : {}),
      ...(options.verbose
        ? {
            handlerLog: createJsonLogger((line) => console.error(line)),
            sandboxLog: ({ functionName, pid, line }) => console.error(`${functionName}[${pid}] ${line}`),
          }
        : {}),
    });
  } catch (error) {
    await demo?.close();
    throw error;
  }
  if (!options.json) console.log(operatorCommands(stack.endpoint, stack.tableName, fleet?.pollers[0]?.id));

  const { promise: finished, resolve: finish } = Promise.withResolvers<void>();
  // `on`, not `once`: Ctrl-C reaches tsx and this process both, and tsx may relay it again while the stack is still
  // stopping; a signal without a listener would end the process before it has removed its sandboxes and cgroups.
  process.on('SIGINT', () => finish());
  process.on('SIGTERM', () => finish());
  const timer =
    options.durationSeconds === undefined ? undefined : setTimeout(finish, options.durationSeconds * 1000);
  await finished;
  clearTimeout(timer);
  await stack.stop();
  fireLines.flush();
  // After the stack: the workers already invoked have finished their fetches.
  await demo?.close();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    const hint = /EADDRINUSE/.test(message)
      ? ' (is another local stack running? pick other ports with --port)'
      : '';
    console.error(`npm start: ${message}${hint}`);
    process.exitCode = 1;
  },
);
