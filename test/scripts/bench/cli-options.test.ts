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
    expect(options.fleet).toEqual({ sizes: [8], cadences: 'mix', seconds: 15, warmupSeconds: 0 });
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
