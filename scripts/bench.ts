import { runBench } from './bench/cli';
import { BenchUsageError, parseBenchArgs, USAGE } from './bench/cli-options';

/**
 * `npm run bench [-- --quick]`: timing of our loop against the relative-wait recipe on the local stack under a
 * seeded latency model, and the cost per poller against the anchor designs. Tables go to stdout, progress to
 * stderr, the report to bench/results/.
 */
async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const options = parseBenchArgs(process.argv.slice(2));
  const { markdown, files } = await runBench(options, (line) => console.error(line));
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
