import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USAGE } from '../../../scripts/ctl/command-line';
import { type LocalStack, startLocalStack } from '../../../scripts/local-stack/local-stack';
import { freePortPair, lines, runCli } from './cli-runner';

describe('npm run ctl as a process', () => {
  it('prints the usage on --help and exits 0', async () => {
    const run = await runCli(['--help']);

    expect(run).toEqual({ exitCode: 0, stdout: `${USAGE}\n`, stderr: '' });
  });

  it('exits 2 with one stderr line on a usage error', async () => {
    const run = await runCli(['set', '--every', '0', '--local']);

    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toEqual([
      `ctl: --every: poller 'default': waitseconds must be a number (N) of seconds from 0.1 to 3600, decimals allowed; got N "0"`,
    ]);
  });

  it('exits 1 with one stderr line and a hint when nothing listens on the local port', async () => {
    const port = await freePortPair();

    const run = await runCli(['status', '--local', '--port', String(port)]);

    expect(run.exitCode).toBe(1);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(
      /^ctl: reading poller 'default' .* failed: .*ECONNREFUSED.*\(is `npm start` running\?/,
    );
  });

  describe('against a local stack on a fixed port pair', () => {
    let stack: LocalStack | undefined;
    let port = 0;
    beforeAll(async () => {
      port = await freePortPair();
      stack = await startLocalStack({ port, startLoops: false, everySeconds: 2 });
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('prints the status and exits 0 with nothing on stderr', async () => {
      const run = await runCli(['--local', '--port', String(port), 'status']);

      expect(run).toMatchObject({ exitCode: 0, stderr: '' });
      expect(lines(run.stdout)).toEqual(expect.arrayContaining(['running        true', 'waitseconds    2']));
    });

    it('watch --once prints one frame without escape codes (stdout is a pipe) and exits 0', async () => {
      const run = await runCli(['watch', '--once', '--local', '--port', String(port)]);

      expect(run).toMatchObject({ exitCode: 0, stderr: '' });
      expect(lines(run.stdout)[0]).toMatch(/^watch: table \S+ {2}\| {2}\S+Z {2}\| {2}1 poller: 1 stale$/);
      expect(lines(run.stdout)[2]).toMatch(/^default +stale /);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for the escape character itself
      expect(run.stdout).not.toMatch(/\x1b/);
    });

    it('watch ends on Ctrl-C (SIGINT) with exit 0 after the frames it printed', async () => {
      let interrupted = false;
      const run = await runCli(
        ['watch', '--local', '--port', String(port), '--interval', '0.5'],
        (stdout, child) => {
          // Two frames read: interrupt once, as Ctrl-C does (a second SIGINT would kill it by default).
          if (!interrupted && stdout.split('watch: table').length > 2) {
            interrupted = true;
            child.kill('SIGINT');
          }
        },
      );

      expect(interrupted).toBe(true);
      expect(run).toMatchObject({ exitCode: 0, stderr: '' });
      expect(run.stdout.split('watch: table').length).toBeGreaterThan(2);
    });
  });
});
