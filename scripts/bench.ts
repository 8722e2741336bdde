// First: a Node older than package.json's engines.node stops here with one line saying what to install.
import './require-node';
import { runBench } from './bench/cli';
import { BenchUsageError, parseBenchArgs, USAGE } from './bench/cli-options';
import { runFleetBench } from './bench/fleet-cli';

/**
 * `npm run bench [-- --quick]`: timing of our loop against the relative-wait recipe on the local stack under a
 * seeded latency model, and the cost per poller against the anchor designs. Tables go to stdout, progress to
 * stderr, the report to bench/results/. With `--fleet N[,N…]`, a fleet of N pollers instead (fleet.md).
 */
async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const args = process.argv.slice(2);
  const options = parseBenchArgs(args);
  const log = (line: string) => console.error(line);
  const { markdown, files } = options.fleet
    ? await runFleetBench(options, options.fleet, ['npm run bench --', ...args].join(' '), log)
    : await runBench(options, log);
  console.log(markdown);
  console.error(`wrote ${files.join(', ')}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof BenchUsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
