import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbClient, localClientOptions } from '../../../functions/shared/aws-clients';
import {
  FIELD,
  MAX_RECENT_DETAIL_LENGTH,
  MAX_TICK_DETAIL_LENGTH,
  RECENT_RESULTS_KEPT,
  RECENT_RESULTS_TRIM_AT,
  type TickOutcome,
} from '../../../functions/shared/contract';
import { outcomeFieldsOf, type RawItem } from '../../../functions/shared/control-item';
import { ControlTable, recordTickOutcome } from '../../../functions/shared/control-table';
import { cutDetail, OUTCOME_WRITE_BUDGET_MS } from '../../../functions/shared/tick-outcome-write';
import { failingProxy } from '../../support/failing-proxy';
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

/** A control item as a loop leaves it: its generation, the last seq fired, and the claim it fires under. */
async function putItem(id: string, claimedSeq = 1000): Promise<void> {
  await local.client.send(
    new PutItemCommand({
      TableName: TABLE_NAME,
      Item: {
        [FIELD.id]: { S: id },
        [FIELD.running]: { BOOL: true },
        [FIELD.waitSeconds]: { N: '1' },
        [FIELD.generation]: { N: '3' },
        [FIELD.seq]: { N: '40' },
        [FIELD.claimedSeq]: { N: String(claimedSeq) },
      },
    }),
  );
}

beforeEach(async () => {
  counter += 1;
  pollerId = `poller-${counter}`;
  await putItem(pollerId);
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
      [FIELD.claimedSeq]: { N: '1000' },
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
    expect(recent.length).toBeGreaterThanOrEqual(RECENT_RESULTS_KEPT);
    // Exactly the newest outcomes, none lost from the middle: the oldest go, whichever way REMOVE takes its indexes.
    const last = RECENT_RESULTS_TRIM_AT + 2;
    expect(recent).toEqual(
      Array.from({ length: recent.length }, (_, index) => last - recent.length + 1 + index),
    );
  });

  it(`cuts a long detail, ${MAX_TICK_DETAIL_LENGTH} characters as the last result and ${MAX_RECENT_DETAIL_LENGTH} in the recent list, so the item stays small`, async () => {
    // act
    await record(failed(41, `HTTP 500 ${'x'.repeat(1_000)}`));

    // assess
    const fields = await outcomes();
    expect(fields.lastResultDetail?.length).toBe(MAX_TICK_DETAIL_LENGTH);
    expect(fields.recentResults?.[0]?.detail).toBe(`HTTP 500 ${'x'.repeat(MAX_RECENT_DETAIL_LENGTH - 9)}`);
  });

  it('cuts a detail on a code-point boundary: never half of a surrogate pair', async () => {
    // prepare: an emoji (two UTF-16 code units) straddling the cut
    const detail = `${'x'.repeat(MAX_RECENT_DETAIL_LENGTH - 1)}🚌 late`;

    // act
    await record(failed(41, detail));

    // assess
    expect((await outcomes()).recentResults?.[0]?.detail).toBe('x'.repeat(MAX_RECENT_DETAIL_LENGTH - 1));
    expect(cutDetail(detail, MAX_RECENT_DETAIL_LENGTH + 1)).toBe(
      `${'x'.repeat(MAX_RECENT_DETAIL_LENGTH - 1)}🚌`,
    );
    expect(cutDetail('HTTP 404', MAX_RECENT_DETAIL_LENGTH)).toBe('HTTP 404');
    expect(cutDetail(undefined, MAX_RECENT_DETAIL_LENGTH)).toBeUndefined();
  });
});

describe('a failure is counted once', () => {
  it('refuses the same failure again when it is the last result (a redelivery, or the SDK retrying an applied write)', async () => {
    // prepare
    await record(failed(41, 'HTTP 503'));

    // act
    const again = await record(failed(41, 'HTTP 503'));

    // assess
    expect(again).toBe('refused');
    const fields = await outcomes();
    expect(fields.failedTicks).toBe(1);
    expect(fields.recentResults?.map((entry) => entry.seq)).toEqual([41]);
  });

  it('refuses an older failure already counted and listed, even after newer outcomes', async () => {
    // prepare
    await record(ok(45));
    await record(failed(44, 'HTTP 503'));
    await record(ok(46));

    // act
    const again = await record(failed(44, 'TimeoutError: late redelivery'));

    // assess
    expect(again).toBe('refused');
    const fields = await outcomes();
    expect(fields).toMatchObject({ lastResult: 'ok', lastResultSeq: 46, failedTicks: 1 });
    expect(fields.recentResults?.map((entry) => entry.seq)).toEqual([45, 44, 46]);
  });
});

describe("the item's identity", () => {
  it('refuses a report of a tick the item never claimed', async () => {
    // prepare: a loop that claimed through seq 50
    await putItem(pollerId, 50);

    // act
    const results = [await record(ok(51)), await record(failed(52, 'HTTP 500'))];

    // assess
    expect(results).toEqual(['refused', 'refused']);
    expect(await outcomes()).toMatchObject({ lastResultSeq: undefined, failedTicks: undefined });
  });

  it("keeps a deleted poller's late report off the poller created again under its id", async () => {
    // prepare: the old poller ran to seq 900; deleted, created again, its new loop claimed through seq 5
    await record(ok(899));
    await local.client.send(
      new DeleteItemCommand({ TableName: TABLE_NAME, Key: { [FIELD.id]: { S: pollerId } } }),
    );
    await putItem(pollerId, 5);

    // act: the old worker reports seq 900 late (up to the max event age plus its timeout), then the new poller
    const late = [await record(ok(900)), await record(failed(900, 'HTTP 500'))];
    const fresh = await record(ok(3, 'HTTP 200'));

    // assess
    expect(late).toEqual(['refused', 'refused']);
    expect(fresh).toBe('written');
    expect(await outcomes()).toMatchObject({
      lastResultSeq: 3,
      lastResultDetail: 'HTTP 200',
      failedTicks: undefined,
    });
  });
});

describe('bounded by the invocation', () => {
  it('records the outcome and leaves the trim to the next write when the trim fails', async () => {
    // prepare: a list one entry short of its trim, and an endpoint that fails the call after the first
    for (let seq = 1; seq < RECENT_RESULTS_TRIM_AT; seq += 1) await record(ok(seq));
    const proxy = await failingProxy(local.endpoint, (call) => call === 2);
    const client = createDynamoDbClient(localClientOptions(proxy.endpoint, 1));

    // act
    const written = await recordTickOutcome(client, TABLE_NAME, pollerId, ok(RECENT_RESULTS_TRIM_AT)).finally(
      async () => {
        client.destroy();
        await proxy.close();
      },
    );

    // assess
    expect(written).toBe('written');
    expect(proxy.calls()).toBe(2);
    expect((await outcomes()).recentResults).toHaveLength(RECENT_RESULTS_TRIM_AT);
    await record(ok(RECENT_RESULTS_TRIM_AT + 1));
    expect((await outcomes()).recentResults).toHaveLength(RECENT_RESULTS_KEPT);
  });

  it(`skips the trim when less than ${OUTCOME_WRITE_BUDGET_MS} ms of the invocation is left after the write`, async () => {
    // prepare
    for (let seq = 1; seq < RECENT_RESULTS_TRIM_AT; seq += 1) await record(ok(seq));
    const remaining = [OUTCOME_WRITE_BUDGET_MS + 500, OUTCOME_WRITE_BUDGET_MS - 1];
    const asked: number[] = [];

    // act
    const written = await recordTickOutcome(local.client, TABLE_NAME, pollerId, ok(RECENT_RESULTS_TRIM_AT), {
      remainingMs: () => {
        const ms = remaining.shift() ?? 0;
        asked.push(ms);
        return ms;
      },
    });

    // assess
    expect(written).toBe('written');
    expect(asked).toEqual([OUTCOME_WRITE_BUDGET_MS + 500, OUTCOME_WRITE_BUDGET_MS - 1]);
    expect((await outcomes()).recentResults).toHaveLength(RECENT_RESULTS_TRIM_AT);
  });

  it('does not begin counting an older failure without time for that second write', async () => {
    // prepare
    await record(ok(45));
    const remaining = [OUTCOME_WRITE_BUDGET_MS, OUTCOME_WRITE_BUDGET_MS - 1];

    // act
    const written = await recordTickOutcome(local.client, TABLE_NAME, pollerId, failed(44, 'HTTP 500'), {
      remainingMs: () => remaining.shift() ?? 0,
    });

    // assess
    expect(written).toBe('out-of-time');
    expect((await outcomes()).failedTicks).toBeUndefined();
  });

  it('writes nothing without time for one write', async () => {
    // act
    const written = await recordTickOutcome(local.client, TABLE_NAME, pollerId, failed(41, 'HTTP 500'), {
      remainingMs: () => OUTCOME_WRITE_BUDGET_MS - 1,
    });

    // assess
    expect(written).toBe('out-of-time');
    expect(await outcomes()).toMatchObject({ lastResultSeq: undefined, failedTicks: undefined });
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
