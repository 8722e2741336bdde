import {
  type AttributeValue,
  DeleteTableCommand,
  PutItemCommand,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { ANSI } from '../../../scripts/ctl/format-watch';
import { runCtl } from '../../../scripts/ctl/run';
import { localTarget, type ResolvedTarget } from '../../../scripts/ctl/target';
import { LOCAL_TABLE_NAME } from '../../../scripts/local-stack/local-endpoints';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';
import { type SimulatedClock, simulatedClock } from '../../support/simulated-clock';

const START_MS = Date.parse('2030-01-01T12:00:00.000Z');

/**
 * `ctl watch` as the CLI runs it, on dynalite (the real DynamoDB API) and a simulated clock: between refreshes,
 * each sleep first runs the next step of the test (what the table looks like at the next refresh), then moves
 * the clock; the sleep after the last step aborts instead, as Ctrl-C does.
 */
describe('ctl watch: the refresh loop', () => {
  let dynamoDb: LocalDynamoDb;
  let target: ResolvedTarget;
  let clock: SimulatedClock;
  beforeEach(async () => {
    dynamoDb = await startLocalDynamoDb();
    // Nothing listens on the services endpoint: watch only reads the table.
    target = localTarget({ dynamoDbEndpoint: dynamoDb.endpoint, servicesEndpoint: 'http://127.0.0.1:9' });
    clock = simulatedClock({ startMs: START_MS });
  });
  afterEach(async () => {
    await dynamoDb.close();
  });

  /** The default poller at 2 s with a fresh heartbeat and `seq`, as its loop would have written it. */
  async function putDefault(seq: number, fields: Record<string, AttributeValue> = {}) {
    await dynamoDb.client.send(
      new PutItemCommand({
        TableName: LOCAL_TABLE_NAME,
        Item: {
          [FIELD.id]: { S: 'default' },
          [FIELD.running]: { BOOL: true },
          [FIELD.waitSeconds]: { N: '2' },
          [FIELD.generation]: { N: '1' },
          [FIELD.heartbeatAt]: { S: new Date(clock.peek()).toISOString() },
          [FIELD.seq]: { N: String(seq) },
          ...fields,
        },
      }),
    );
  }

  async function watch(
    argv: readonly string[],
    steps: readonly (() => Promise<void>)[],
    terminal?: string[],
  ) {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const controller = new AbortController();
    let step = 0;
    const exitCode = await runCtl(['watch', '--local', ...argv], {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stderr.push(text),
      resolveTarget: async () => target,
      nowMs: clock.now,
      interrupt: () => controller.signal,
      sleep: async (ms) => {
        const next = steps[step];
        step += 1;
        if (next === undefined) {
          controller.abort();
          return;
        }
        await next();
        await clock.sleep(ms);
      },
      ...(terminal ? { terminal: (text: string) => terminal.push(text) } : {}),
    });
    return { exitCode, stdout, stderr };
  }

  it('shows a failed read, reads again at the next refresh, then counts the seq the loop recorded', async () => {
    const run = await watch(
      ['--json'],
      [() => dynamoDb.createControlTable(LOCAL_TABLE_NAME).then(() => putDefault(10)), () => putDefault(25)],
    );

    expect(run).toMatchObject({ exitCode: 0, stderr: [] });
    const frames = run.stdout.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(frames.map((frame) => frame.at)).toEqual([
      '2030-01-01T12:00:00.000Z',
      '2030-01-01T12:00:02.000Z',
      '2030-01-01T12:00:04.000Z',
    ]);
    expect(frames[0]).toEqual({
      at: '2030-01-01T12:00:00.000Z',
      table: LOCAL_TABLE_NAME,
      error: expect.stringMatching(/^ResourceNotFoundException: /),
      lastReadAt: null,
    });
    expect(frames.slice(1).map((frame) => frame.changes)).toEqual([
      [{ pollerId: 'default', kind: 'first', seq: 10 }],
      [{ pollerId: 'default', kind: 'advanced', seq: 25, advance: 15 }],
    ]);
    expect(clock.sleeps).toEqual([2_000, 2_000]);
  });

  it('keeps counting from the last good frame across a failed read', async () => {
    await dynamoDb.createControlTable(LOCAL_TABLE_NAME);
    await putDefault(10);

    const run = await watch(
      ['--json', '--interval', '0.5'],
      [
        async () => {
          await dynamoDb.client.send(new DeleteTableCommand({ TableName: LOCAL_TABLE_NAME }));
          await waitUntilTableNotExists(
            { client: dynamoDb.client, maxWaitTime: 30, minDelay: 0.1, maxDelay: 0.2 },
            { TableName: LOCAL_TABLE_NAME },
          );
        },
        () => dynamoDb.createControlTable(LOCAL_TABLE_NAME).then(() => putDefault(30)),
      ],
    );

    expect(run).toMatchObject({ exitCode: 0, stderr: [] });
    const frames = run.stdout.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(frames[1]).toMatchObject({
      at: '2030-01-01T12:00:00.500Z',
      error: expect.stringMatching(/^ResourceNotFoundException: /),
      lastReadAt: '2030-01-01T12:00:00.000Z',
    });
    expect(frames[2]?.changes).toEqual([{ pollerId: 'default', kind: 'advanced', seq: 30, advance: 20 }]);
    expect(clock.sleeps).toEqual([500, 500]);
  });

  it('keeps its refreshes on the interval grid: one that comes late is not followed by a burst', async () => {
    await dynamoDb.createControlTable(LOCAL_TABLE_NAME);
    await putDefault(10);

    const run = await watch(
      ['--json'],
      [
        async () => {
          // Something (a stalled event loop, a slow network) holds the process for 4.5 s.
          clock.advance(4_500);
        },
        async () => {},
      ],
    );

    const frames = run.stdout.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(frames.map((frame) => frame.at)).toEqual([
      '2030-01-01T12:00:00.000Z',
      '2030-01-01T12:00:06.500Z',
      '2030-01-01T12:00:08.000Z',
    ]);
    expect(clock.sleeps).toEqual([2_000, 1_500]);
  });

  it('prints one block per refresh without escape codes when stdout is not a terminal', async () => {
    await dynamoDb.createControlTable(LOCAL_TABLE_NAME);
    await putDefault(10);

    const run = await watch(['--interval', '5'], [() => putDefault(12)]);

    expect(run.exitCode).toBe(0);
    expect(run.stdout).toHaveLength(2);
    expect(run.stdout[0]?.split('\n')[0]).toBe(
      `watch: table ${LOCAL_TABLE_NAME}  |  2030-01-01T12:00:00Z  |  1 poller: 1 running  |  every 5 s`,
    );
    // A blank line, then the next frame under its own header.
    expect(run.stdout[1]?.split('\n').slice(0, 2)).toEqual([
      '',
      `watch: table ${LOCAL_TABLE_NAME}  |  2030-01-01T12:00:05Z  |  1 poller: 1 running  |  every 5 s`,
    ]);
    expect(run.stdout[1]).toMatch(/ \+2 {2}/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for the escape character itself
    expect(run.stdout.join('')).not.toMatch(/\x1b/);
  });

  it('on a terminal redraws in place, and shows the cursor again when Ctrl-C ends it (exit 0)', async () => {
    await dynamoDb.createControlTable(LOCAL_TABLE_NAME);
    await putDefault(10);
    const terminal: string[] = [];

    const run = await watch([], [() => putDefault(11)], terminal);

    expect(run).toEqual({ exitCode: 0, stdout: [], stderr: [] });
    expect(terminal[0]).toBe(ANSI.hideCursor);
    expect(terminal.slice(1, -1).every((frame) => frame.startsWith(ANSI.home))).toBe(true);
    expect(terminal).toHaveLength(4);
    expect(terminal[2]).toMatch(/ \+1 {2}/);
    expect(terminal.at(-1)).toBe(`${ANSI.showCursor}\n`);
  });

  it('--once prints one frame and exits 0, or 1 when its read failed', async () => {
    const failed = await watch(['--once'], []);
    await dynamoDb.createControlTable(LOCAL_TABLE_NAME);
    await putDefault(10);
    const read = await watch(['--once'], []);

    expect(failed.exitCode).toBe(1);
    expect(failed.stdout).toHaveLength(1);
    expect(failed.stdout[0]).toMatch(/\nread failed: ResourceNotFoundException: /);
    expect(read.exitCode).toBe(0);
    expect(read.stdout).toHaveLength(1);
    expect(read.stdout[0]?.split('\n')[2]).toMatch(/^default +running .* seq 10 +-$/);
    expect(clock.sleeps).toEqual([]);
  });
});
