import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FIELD,
  RECENT_RESULTS_KEPT,
  RECENT_RESULTS_TRIM_AT,
  type TickOutcome,
} from '../../../functions/shared/contract';
import { outcomeFieldsOf, type RawItem } from '../../../functions/shared/control-item';
import { ControlTable, recordTickOutcome } from '../../../functions/shared/control-table';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';

const TABLE_NAME = 'control';

let local: LocalDynamoDb;
let table: ControlTable;
let pollerId: string;
let counter = 0;

beforeAll(async () => {
  local = await startLocalDynamoDb({ controlTable: TABLE_NAME });
  table = new ControlTable(local.client, TABLE_NAME);
});

afterAll(async () => {
  await local?.close();
});

beforeEach(async () => {
  counter += 1;
  pollerId = `poller-${counter}`;
  await local.client.send(
    new PutItemCommand({
      TableName: TABLE_NAME,
      Item: {
        [FIELD.id]: { S: pollerId },
        [FIELD.running]: { BOOL: true },
        [FIELD.waitSeconds]: { N: '1' },
        [FIELD.generation]: { N: '3' },
        [FIELD.seq]: { N: '40' },
      },
    }),
  );
});

const ok = (seq: number, detail?: string): TickOutcome => ({
  seq,
  result: 'ok',
  at: `2030-01-01T00:00:${String(seq % 60).padStart(2, '0')}.500Z`,
  durationMs: 35,
  ...(detail !== undefined ? { detail } : {}),
});
const failed = (seq: number, detail: string): TickOutcome => ({ ...ok(seq), result: 'failed', detail });

const record = (outcome: TickOutcome, id = pollerId) =>
  recordTickOutcome(local.client, TABLE_NAME, id, outcome);

async function raw(id = pollerId): Promise<RawItem | undefined> {
  const result = await local.client.send(
    new GetItemCommand({ TableName: TABLE_NAME, Key: { [FIELD.id]: { S: id } }, ConsistentRead: true }),
  );
  return result.Item;
}

async function outcomes() {
  const item = await table.read(pollerId);
  if (item === undefined) throw new Error(`no item ${pollerId}`);
  return outcomeFieldsOf(item);
}

describe('recordTickOutcome', () => {
  it('records the last result and lists it, leaving the operator and loop fields as they were', async () => {
    // act
    const written = await record(ok(41, 'HTTP 200'));

    // assess
    expect(written).toBe('written');
    const fields = await outcomes();
    expect(fields).toMatchObject({
      lastResult: 'ok',
      lastResultSeq: 41,
      lastResultAt: '2030-01-01T00:00:41.500Z',
      lastResultMs: 35,
      lastResultDetail: 'HTTP 200',
      failedTicks: undefined,
      recentResults: [ok(41, 'HTTP 200')],
      problems: [],
    });
    expect(await raw()).toMatchObject({
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '1' },
      [FIELD.generation]: { N: '3' },
      [FIELD.seq]: { N: '40' },
    });
  });

  it('counts each failure in failedTicks and removes the detail of an earlier outcome a success does not have', async () => {
    // act
    await record(failed(41, 'HTTP 404'));
    await record(failed(42, 'connect ECONNREFUSED 127.0.0.1:9'));
    await record(ok(43));

    // assess
    const fields = await outcomes();
    expect(fields.failedTicks).toBe(2);
    expect(fields.lastResult).toBe('ok');
    expect(fields.lastResultDetail).toBeUndefined();
    expect(fields.recentResults?.map((entry) => [entry.seq, entry.result, entry.detail])).toEqual([
      [41, 'failed', 'HTTP 404'],
      [42, 'failed', 'connect ECONNREFUSED 127.0.0.1:9'],
      [43, 'ok', undefined],
    ]);
  });

  it('never creates an item: a worker finishing after its poller was deleted leaves it deleted', async () => {
    // prepare
    await local.client.send(
      new DeleteItemCommand({ TableName: TABLE_NAME, Key: { [FIELD.id]: { S: pollerId } } }),
    );

    // act
    const afterSuccess = await record(ok(41));
    const afterFailure = await record(failed(42, 'HTTP 500'));

    // assess
    expect([afterSuccess, afterFailure]).toEqual(['refused', 'refused']);
    expect(await raw()).toBeUndefined();
  });

  it('never lets an older success replace a newer outcome', async () => {
    // prepare
    await record(failed(45, 'HTTP 503'));

    // act
    const written = await record(ok(44, 'HTTP 200'));

    // assess
    expect(written).toBe('refused');
    expect(await outcomes()).toMatchObject({
      lastResult: 'failed',
      lastResultSeq: 45,
      lastResultDetail: 'HTTP 503',
      failedTicks: 1,
    });
  });

  it('still counts and lists an older failure, without replacing the newer outcome', async () => {
    // prepare
    await record(ok(45, 'HTTP 200'));

    // act
    const written = await record(failed(44, 'TimeoutError: The operation was aborted due to timeout'));

    // assess
    expect(written).toBe('counted');
    const fields = await outcomes();
    expect(fields).toMatchObject({ lastResult: 'ok', lastResultSeq: 45, failedTicks: 1 });
    expect(fields.recentResults?.map((entry) => entry.seq)).toEqual([45, 44]);
  });

  it(`keeps at least ${RECENT_RESULTS_KEPT} recent outcomes, trimming the oldest once the list reaches ${RECENT_RESULTS_TRIM_AT}`, async () => {
    // act
    const lengths: number[] = [];
    for (let seq = 1; seq <= RECENT_RESULTS_TRIM_AT + 2; seq += 1) {
      await record(ok(seq));
      lengths.push((await outcomes()).recentResults?.length ?? 0);
    }

    // assess
    expect(Math.max(...lengths)).toBeLessThan(RECENT_RESULTS_TRIM_AT);
    expect(lengths.slice(RECENT_RESULTS_KEPT)).toContain(RECENT_RESULTS_KEPT);
    const recent = (await outcomes()).recentResults?.map((entry) => entry.seq) ?? [];
    expect(recent.at(-1)).toBe(RECENT_RESULTS_TRIM_AT + 2);
    expect(recent).toEqual([...recent].sort((a, b) => a - b));
    expect(recent.length).toBeGreaterThanOrEqual(RECENT_RESULTS_KEPT);
  });

  it('cuts a long detail, so the item stays small', async () => {
    // act
    await record(failed(41, `HTTP 500 ${'x'.repeat(1_000)}`));

    // assess
    expect((await outcomes()).lastResultDetail?.length).toBe(200);
  });
});

describe('outcomeFieldsOf', () => {
  it('treats a hand-edited outcome field as absent and names it and its value', async () => {
    // prepare
    await local.client.send(
      new PutItemCommand({
        TableName: TABLE_NAME,
        Item: {
          [FIELD.id]: { S: pollerId },
          [FIELD.lastResult]: { S: 'maybe' },
          [FIELD.failedTicks]: { S: '3' },
          [FIELD.recentResults]: { L: [{ S: 'ok' }] },
        },
      }),
    );

    // act
    const fields = await outcomes();

    // assess
    expect(fields).toMatchObject({ lastResult: undefined, failedTicks: undefined, recentResults: undefined });
    expect(fields.problems.map((problem) => problem.message)).toEqual([
      `poller '${pollerId}': lastResult must be one of ok, failed (S), as the system writes it; got S "maybe"`,
      `poller '${pollerId}': failedTicks must be a whole number (N) from 0, as the system writes it; got S "3"`,
      expect.stringContaining(`poller '${pollerId}': recentResults must be a list (L) of maps`),
    ]);
  });
});
