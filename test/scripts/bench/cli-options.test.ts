import { describe, expect, it } from 'vitest';
import { BenchUsageError, parseBenchArgs } from '../../../scripts/bench/cli-options';

describe('parseBenchArgs --fleet', () => {
  it('leaves the fleet out of the timing run', () => {
    const options = parseBenchArgs([]);
    expect(options.fleet).toBeUndefined();
    expect(options.name).toBe('latest');
  });

  it('takes sizes smallest first, each once, with the defaults', () => {
    const options = parseBenchArgs(['--fleet', '100, 10,50,10']);
    expect(options.fleet).toEqual({
      sizes: [10, 50, 100],
      cadences: 'uniform',
      seconds: 60,
      warmupSeconds: 20,
      serve: 'loops',
      maxShards: undefined,
      controllerMemoryMb: undefined,
      capacitySearch: false,
      workerInProcess: false,
    });
    expect(options.name).toBe('fleet');
  });

  it('takes the mix, the window, the warm-up and a name', () => {
    const options = parseBenchArgs([
      '--fleet',
      '8',
      '--fleet-mix',
      '--fleet-seconds',
      '15',
      '--fleet-warmup',
      '0',
      '--name',
      'fleet-mix',
    ]);
    expect(options.fleet).toMatchObject({ sizes: [8], cadences: 'mix', seconds: 15, warmupSeconds: 0 });
    expect(options.name).toBe('fleet-mix');
  });

  it.each([
    [['--fleet', ''], /--fleet must be a whole number/],
    [['--fleet', '10,x'], /--fleet must be a whole number ≥ 1; got 'x'/],
    [['--fleet', '0'], /--fleet must be a whole number ≥ 1/],
    [['--fleet', '10', '--fleet-seconds', '0'], /--fleet-seconds must be a whole number ≥ 1/],
    [['--fleet', '10', '--fleet-warmup=-1'], /--fleet-warmup must be a whole number ≥ 0/],
    [['--fleet-mix'], /--fleet-mix needs --fleet/],
    [['--fleet-seconds', '30'], /--fleet-seconds needs --fleet/],
    [['--fleet', '10', '--quick'], /leave out --quick and --ticks/],
    [['--fleet'], /argument missing/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });
});

describe('parseBenchArgs --serve shards and --shard-capacity', () => {
  it('serves a fleet by shards, with MAX_SHARDS and the memory left to the load and the fleet default', () => {
    const options = parseBenchArgs(['--fleet', '100,1000', '--serve', 'shards']);
    expect(options.fleet).toEqual({
      sizes: [100, 1000],
      cadences: 'uniform',
      seconds: 60,
      warmupSeconds: 20,
      serve: 'shards',
      maxShards: undefined,
      controllerMemoryMb: undefined,
      capacitySearch: false,
      workerInProcess: false,
    });
    expect(options.name).toBe('fleet-shards');
  });

  it('takes MAX_SHARDS and the shard controller memory', () => {
    const options = parseBenchArgs([
      '--fleet',
      '50',
      '--serve',
      'shards',
      '--max-shards',
      '2',
      '--controller-memory',
      '2048',
    ]);
    expect(options.fleet).toMatchObject({ serve: 'shards', maxShards: 2, controllerMemoryMb: 2048 });
  });

  it('searches one shard at rising fires/s: shards, MAX_SHARDS 1, its own report name', () => {
    const options = parseBenchArgs(['--shard-capacity', '400,100,200', '--fleet-seconds', '30']);
    expect(options.fleet).toEqual({
      sizes: [100, 200, 400],
      cadences: 'uniform',
      seconds: 30,
      warmupSeconds: 20,
      serve: 'shards',
      maxShards: 1,
      controllerMemoryMb: undefined,
      capacitySearch: true,
      workerInProcess: false,
    });
    expect(options.name).toBe('shard-capacity');
  });

  it('runs the worker in-process when asked, for either design', () => {
    expect(parseBenchArgs(['--fleet', '10', '--worker', 'in-process']).fleet?.workerInProcess).toBe(true);
    expect(parseBenchArgs(['--shard-capacity', '10', '--worker', 'sandbox']).fleet?.workerInProcess).toBe(
      false,
    );
  });

  it.each([
    [['--fleet', '10', '--worker', 'thread'], /--worker must be sandbox or in-process; got 'thread'/],
    [['--worker', 'in-process'], /--worker needs --fleet/],
    [['--fleet', '10', '--serve', 'threads'], /--serve must be loops or shards; got 'threads'/],
    [['--fleet', '10', '--max-shards', '2'], /--max-shards is for shared shard controllers/],
    [['--fleet', '10', '--controller-memory', '1024'], /--controller-memory is for shared shard controllers/],
    [
      ['--fleet', '10', '--serve', 'shards', '--max-shards', '0'],
      /--max-shards must be a whole number from 1 to 10000/,
    ],
    [
      ['--fleet', '10', '--serve', 'shards', '--controller-memory', '64'],
      /--controller-memory must be a whole number from 128 to 10240; got '64'/,
    ],
    [['--serve', 'shards'], /--serve needs --fleet/],
    [['--fleet', '10', '--shard-capacity', '100'], /not both/],
    [['--shard-capacity', '100', '--serve', 'loops'], /leave out --serve loops/],
    [['--shard-capacity', '100', '--fleet-mix'], /leave out --fleet-mix/],
    [['--shard-capacity', '100', '--max-shards', '2'], /leave out --max-shards/],
    [['--shard-capacity', '100', '--quick'], /--shard-capacity measures a fleet/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });
});
