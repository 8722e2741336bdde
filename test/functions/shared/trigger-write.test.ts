import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { FIELD, TRIGGER_IDS_KEPT, TRIGGER_IDS_TRIM_AT } from '../../../functions/shared/contract';
import { type RawItem, triggerFieldsOf } from '../../../functions/shared/control-item';
import {
  ControlTable,
  claimTrigger,
  recordTickOutcome,
  settleTrigger,
  type TriggerClaim,
} from '../../../functions/shared/control-table';
import { CLAIM_ATTEMPTS, runEntry } from '../../../functions/shared/trigger-write';
import { failingProxy } from '../../support/failing-proxy';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';

const TABLE_NAME = 'control';

let local: LocalDynamoDb;
let table: ControlTable;
let pollerId: string;
let counter = 0;

/** The loop's own fields: a trigger must leave every one of them as it was. */
const LOOP_FIELDS: RawItem = {
  [FIELD.running]: { BOOL: true },
  [FIELD.waitSeconds]: { N: '1' },
  [FIELD.generation]: { N: '3' },
  [FIELD.seq]: { N: '40' },
  [FIELD.claimedSeq]: { N: '70' },
  [FIELD.nextTickAt]: { S: '2030-01-01T00:00:41.000Z' },
  [FIELD.heartbeatAt]: { S: '2030-01-01T00:00:30.000Z' },
  [FIELD.lastResultSeq]: { N: '39' },
};

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
    new PutItemCommand({ TableName: TABLE_NAME, Item: { [FIELD.id]: { S: pollerId }, ...LOOP_FIELDS } }),
  );
});

const request = (id: string, claim: string): TriggerClaim => ({
  id,
  claim,
  at: '2030-01-01T00:00:40.500Z',
  target: 'worker',
});

async function claim(id: string, claimNonce: string) {
  const read = await table.read(pollerId);
  if (read === undefined) throw new Error('no item');
  return claimTrigger(local.client, TABLE_NAME, pollerId, request(id, claimNonce), read);
}

async function raw(): Promise<RawItem> {
  const result = await local.client.send(
    new GetItemCommand({ TableName: TABLE_NAME, Key: { [FIELD.id]: { S: pollerId } }, ConsistentRead: true }),
  );
  return result.Item ?? {};
}

async function triggerFields() {
  const item = await table.read(pollerId);
  if (item === undefined) throw new Error('no item');
  return triggerFieldsOf(item);
}

describe('claimTrigger on dynalite', () => {
  it('two runs racing with the same request id: one claims, the other finds it taken', async () => {
    const results = await Promise.all([claim('req-1', 'run-a'), claim('req-1', 'run-b')]);

    expect(results.map((result) => result.kind).sort()).toEqual(['claimed', 'duplicate']);
    const fields = await triggerFields();
    expect(fields.triggers).toBe(1);
    expect(fields.recentTriggers).toEqual(['req-1']);
    expect(fields.lastTrigger).toMatchObject({ id: 'req-1', state: 'claimed', seq: -1, target: 'worker' });
  });

  it('racing requests with different ids each claim, with their own seq', async () => {
    const results = await Promise.all([claim('a', 'run-a'), claim('b', 'run-b'), claim('c', 'run-c')]);

    const seqs = results.map((result) => (result.kind === 'claimed' ? result.seq : Number.NaN));
    expect(seqs.sort()).toEqual([-1, -2, -3].sort());
    expect((await triggerFields()).triggers).toBe(3);
  });

  it('leaves the loop’s seq, claim, generation, schedule and outcome seq as they were', async () => {
    await claim('req-1', 'run-a');
    await settleTrigger(local.client, TABLE_NAME, pollerId, {
      id: 'req-1',
      claim: 'run-a',
      state: 'fired',
      status: 202,
      at: '2030-01-01T00:00:40.600Z',
    });

    const item = await raw();
    for (const [field, value] of Object.entries(LOOP_FIELDS)) expect(item[field]).toEqual(value);
    expect((await triggerFields()).lastTrigger).toMatchObject({ state: 'fired', status: 202 });
  });

  it('a repeated request (an operator retrying, another run) fires nothing, even after other triggers', async () => {
    await claim('req-1', 'run-a');
    await claim('req-2', 'run-b');

    const repeated = await claim('req-1', 'run-c');

    expect(repeated.kind).toBe('duplicate');
    expect((await triggerFields()).triggers).toBe(2);
  });

  it('a run finding its own record (its write retried after it had succeeded) fires it, once', async () => {
    const first = await claim('req-1', 'run-a');
    const again = await claim('req-1', 'run-a');

    expect(again).toEqual(first);
    expect((await triggerFields()).triggers).toBe(1);
  });

  it('a refused request may be tried again with its id; the refusal is recorded in lastError', async () => {
    await claim('req-1', 'run-a');
    await settleTrigger(local.client, TABLE_NAME, pollerId, {
      id: 'req-1',
      claim: 'run-a',
      state: 'refused',
      error: 'ResourceNotFoundException: Function not found',
      at: '2030-01-01T00:00:40.600Z',
    });
    const refused = await table.read(pollerId);
    expect(refused?.lastError?.message).toBe(
      'trigger req-1 not fired: ResourceNotFoundException: Function not found',
    );
    expect(triggerFieldsOf(refused ?? (await Promise.reject(new Error('no item')))).lastTrigger?.state).toBe(
      'refused',
    );

    const retried = await claim('req-1', 'run-b');

    // Nothing fired as seq -1: the retry fires as seq -1 again, so a worker keyed on pollerId#seq sees one fire.
    expect(retried).toEqual({ kind: 'claimed', seq: -1 });
    const fields = await triggerFields();
    expect(fields.triggers).toBe(1);
    expect(fields.lastTrigger).toMatchObject({ id: 'req-1', claim: 'run-b', state: 'claimed', seq: -1 });
    // A third run with the id now finds it claimed by run-b: taken.
    expect((await claim('req-1', 'run-c')).kind).toBe('duplicate');
  });

  it('a run whose applied write is retried after another request replaced lastTrigger still claims its own', async () => {
    const before = await table.read(pollerId);
    if (before === undefined) throw new Error('no item');
    // Run a's write was applied (its answer lost), then run b recorded req-2, then the SDK retried a's write.
    await claimTrigger(local.client, TABLE_NAME, pollerId, request('req-1', 'run-a'), before);
    await claim('req-2', 'run-b');

    const retried = await claimTrigger(local.client, TABLE_NAME, pollerId, request('req-1', 'run-a'), before);

    expect(retried).toEqual({ kind: 'claimed', seq: -1 });
    expect((await triggerFields()).triggers).toBe(2);
    // Another run with req-1 is still a duplicate.
    expect((await claim('req-1', 'run-c')).kind).toBe('duplicate');
  });

  it(`gives up after ${CLAIM_ATTEMPTS} lost races (another request recorded first each time): nothing recorded`, async () => {
    const racing = createDynamoDbClient(localClientOptions(local.endpoint));
    let others = 0;
    // Before each of this run's writes, another run records a request of its own (a new id each).
    racing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateItemCommand') {
          others += 1;
          await claim(`other-${others}`, `other-run-${others}`);
        }
        return next(args);
      },
      { step: 'initialize' },
    );
    const read = await table.read(pollerId);
    if (read === undefined) throw new Error('no item');

    const outcome = await claimTrigger(racing, TABLE_NAME, pollerId, request('mine', 'run-m'), read);
    racing.destroy();

    expect(outcome.kind).toBe('gave-up');
    expect(others).toBe(CLAIM_ATTEMPTS);
    const fields = await triggerFields();
    expect(fields.recentTriggers).not.toContain('mine');
    expect(fields.triggers).toBe(CLAIM_ATTEMPTS);
  });

  it('a trim that fails leaves the request recorded: claimed, trimmed by a later claim', async () => {
    const ids = Array.from({ length: TRIGGER_IDS_TRIM_AT - 1 }, (_, index) => `old-${index}`);
    await local.client.send(
      new PutItemCommand({
        TableName: TABLE_NAME,
        Item: {
          [FIELD.id]: { S: pollerId },
          ...LOOP_FIELDS,
          [FIELD.triggers]: { N: String(ids.length) },
          [FIELD.recentTriggers]: {
            L: ids.flatMap((id, index) => [{ S: id }, { S: runEntry(id, 'old', -(index + 1)) }]),
          },
        },
      }),
    );
    // Call 1 is the claim, call 2 the trim: DynamoDB answers it with a 500.
    const proxy = await failingProxy(local.endpoint, (call) => call === 2);
    const client = createDynamoDbClient(localClientOptions(proxy.endpoint, 1));
    try {
      const read = await table.read(pollerId);
      if (read === undefined) throw new Error('no item');

      const outcome = await claimTrigger(client, TABLE_NAME, pollerId, request('new', 'run-n'), read);

      expect(outcome).toEqual({ kind: 'claimed', seq: -TRIGGER_IDS_TRIM_AT });
      expect(proxy.calls()).toBe(2);
      expect((await triggerFields()).recentTriggers).toHaveLength(TRIGGER_IDS_TRIM_AT);
    } finally {
      client.destroy();
      await proxy.close();
    }
    await claim('later', 'run-l');
    expect((await triggerFields()).recentTriggers).toHaveLength(TRIGGER_IDS_KEPT);
  });

  it('never creates an item', async () => {
    const read = await table.read(pollerId);
    if (read === undefined) throw new Error('no item');
    const claimed = await claimTrigger(local.client, TABLE_NAME, 'gone', request('x', 'run'), {
      ...read,
      pollerId: 'gone',
    });
    expect(claimed.kind).toBe('missing');
    expect(await table.read('gone')).toBeUndefined();
  });

  it(`remembers the last ${TRIGGER_IDS_KEPT} ids, trimmed once the list reaches ${TRIGGER_IDS_TRIM_AT}`, async () => {
    for (let index = 1; index <= TRIGGER_IDS_TRIM_AT; index += 1) await claim(`r${index}`, `run-${index}`);

    const fields = await triggerFields();
    expect(fields.triggers).toBe(TRIGGER_IDS_TRIM_AT);
    expect(fields.recentTriggers).toHaveLength(TRIGGER_IDS_KEPT);
    expect(fields.recentTriggers?.at(-1)).toBe(`r${TRIGGER_IDS_TRIM_AT}`);
  });
});

describe('a trigger’s outcome (recordTickOutcome)', () => {
  it('is listed with its request id, a failure counted once, and lastResultSeq never moves back', async () => {
    const outcome = { seq: -1, at: '2030-01-01T00:00:41.000Z', durationMs: 20, trigger: 'req-1' } as const;
    expect(await recordTickOutcome(local.client, TABLE_NAME, pollerId, { ...outcome, result: 'ok' })).toBe(
      'counted',
    );
    expect(
      await recordTickOutcome(local.client, TABLE_NAME, pollerId, {
        ...outcome,
        seq: -2,
        trigger: 'req-2',
        result: 'failed',
        detail: 'HTTP 500',
      }),
    ).toBe('counted');
    // The same trigger's outcome again (async delivery is at least once): listed once, counted once.
    expect(
      await recordTickOutcome(local.client, TABLE_NAME, pollerId, {
        ...outcome,
        seq: -2,
        trigger: 'req-2',
        result: 'failed',
        detail: 'HTTP 500',
      }),
    ).toBe('refused');

    const item = await raw();
    expect(item[FIELD.lastResultSeq]).toEqual({ N: '39' });
    expect(item[FIELD.lastResult]).toBeUndefined();
    expect(item[FIELD.failedTicks]).toEqual({ N: '1' });
    expect(item[FIELD.recentResults]?.L?.map((entry) => entry.M?.trigger?.S)).toEqual(['req-1', 'req-2']);
  });
});
