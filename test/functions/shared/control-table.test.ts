import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { FIELD } from '../../../functions/shared/contract';
import type { RawItem } from '../../../functions/shared/control-item';
import { ControlTable } from '../../../functions/shared/control-table';
import { ControlTableUnavailableError } from '../../../functions/shared/errors';
import { decideStart } from '../../../functions/shared/loop-ownership';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';

const TABLE_NAME = 'control';
const AT = '2030-01-01T00:00:00.000Z';

let local: LocalDynamoDb;
let endpoint: string;
let dynamoDb: DynamoDBClient;
let table: ControlTable;
let pollerId: string;
let counter = 0;

beforeAll(async () => {
  local = await startLocalDynamoDb({ controlTable: TABLE_NAME });
  endpoint = local.endpoint;
  dynamoDb = local.client;
  table = new ControlTable(dynamoDb, TABLE_NAME);
});

afterAll(async () => {
  await local?.close();
});

beforeEach(() => {
  counter += 1;
  pollerId = `poller-${counter}`;
});

/** The operator's side: items are put and read raw, as the console or the CLI would. */
async function put(fields: RawItem, id = pollerId): Promise<void> {
  await dynamoDb.send(
    new PutItemCommand({ TableName: TABLE_NAME, Item: { [FIELD.id]: { S: id }, ...fields } }),
  );
}

async function raw(id = pollerId): Promise<RawItem | undefined> {
  const result = await dynamoDb.send(
    new GetItemCommand({ TableName: TABLE_NAME, Key: { [FIELD.id]: { S: id } }, ConsistentRead: true }),
  );
  return result.Item;
}

const LIVE: RawItem = {
  [FIELD.running]: { BOOL: true },
  [FIELD.waitSeconds]: { N: '2' },
  [FIELD.generation]: { N: '4' },
  [FIELD.heartbeatAt]: { S: AT },
  [FIELD.claimedSeq]: { N: '10' },
};

describe('ControlTable.read', () => {
  it('returns the decoded view of the item', async () => {
    // prepare
    await put({ ...LIVE, [FIELD.executionArn]: { S: 'arn:exec' } });

    // act
    const item = await table.read(pollerId);

    // assess
    expect(item).toMatchObject({
      pollerId,
      generation: 4,
      heartbeatAt: AT,
      claimedSeq: 10,
      executionArn: 'arn:exec',
      waitSeconds: 2,
      operator: { running: true, intervalMs: 2_000 },
    });
  });

  it('returns undefined for a poller without an item', async () => {
    expect(await table.read(pollerId)).toBeUndefined();
  });

  it('throws ControlTableUnavailableError, naming the poller, when the table cannot be reached', async () => {
    // prepare: nothing listens on port 9 (discard) on this machine
    const unreachable = new ControlTable(
      createDynamoDbClient(localClientOptions('http://127.0.0.1:9', 1)),
      TABLE_NAME,
    );

    // act
    const reading = unreachable.read(pollerId);

    // assess
    await expect(reading).rejects.toBeInstanceOf(ControlTableUnavailableError);
    await expect(reading).rejects.toMatchObject({ pollerId });
  });
});

describe('ControlTable.takeGeneration', () => {
  it('takes the generation when the item is as the start read it, naming the execution and clearing the stop', async () => {
    // prepare
    await put({ ...LIVE, [FIELD.stoppedReason]: { S: 'running is false' } });

    // act
    const outcome = await table.takeGeneration(pollerId, {
      generation: 5,
      expected: { generation: 4, heartbeatAt: AT },
      executionArn: 'arn:exec-5',
      at: '2030-01-01T00:05:00.000Z',
      restartReason: 'watchdog: heartbeat 100 s old',
    });

    // assess
    expect(outcome).toEqual({ kind: 'taken' });
    const item = await table.read(pollerId);
    expect(item).toMatchObject({
      generation: 5,
      executionArn: 'arn:exec-5',
      heartbeatAt: '2030-01-01T00:05:00.000Z',
      stoppedReason: undefined,
      restarts: 1,
      lastRestartAt: '2030-01-01T00:05:00.000Z',
      lastRestartReason: 'watchdog: heartbeat 100 s old',
    });
  });

  it('is refused with the item as it is when another start wrote first', async () => {
    // prepare
    await put(LIVE);

    // act
    const outcome = await table.takeGeneration(pollerId, {
      generation: 4,
      expected: { generation: 3, heartbeatAt: AT },
      executionArn: 'arn:late',
      at: AT,
    });

    // assess: dynalite returns no item with the failure, so this is the re-read path
    expect(outcome.kind).toBe('changed');
    expect(outcome.kind === 'changed' && outcome.item).toMatchObject({ pollerId, generation: 4 });
    expect((await raw())?.[FIELD.executionArn]).toBeUndefined();
  });

  it('says missing, and creates nothing, when the item is gone', async () => {
    // act
    const outcome = await table.takeGeneration(pollerId, {
      generation: 1,
      expected: { generation: undefined, heartbeatAt: undefined },
      executionArn: 'arn:exec',
      at: AT,
    });

    // assess
    expect(outcome).toEqual({ kind: 'missing' });
    expect(await raw()).toBeUndefined();
  });
});

describe('ControlTable.takeGeneration: a corrupt generation or heartbeat never blocks a start', () => {
  const STALE = '2029-12-31T23:00:00.000Z';

  /** A start as every start path makes it: read, decide by the start rule, take. */
  async function start(executionArn: string) {
    const decision = decideStart(await table.read(pollerId), Date.parse(AT));
    if (decision.kind !== 'take') throw new Error(`expected a take, got ${decision.kind}`);
    const take = () =>
      table.takeGeneration(pollerId, {
        generation: decision.generation,
        expected: decision.expected,
        executionArn,
        at: AT,
      });
    return { decision, take };
  }

  it.each([
    { stored: { N: '0' }, shown: 'N "0"', next: 1 },
    { stored: { N: '2.5' }, shown: 'N "2.5"', next: 3 },
    { stored: { N: '-1' }, shown: 'N "-1"', next: 1 },
    { stored: { S: '3' }, shown: 'S "3"', next: 4 },
  ])(
    'replaces generation $shown with $next, records the problem in lastError, and a racing start loses',
    async ({ stored, shown, next }) => {
      // prepare: two starts read the same item and decide the same take
      await put({ ...LIVE, [FIELD.generation]: stored, [FIELD.heartbeatAt]: { S: STALE } });
      const first = await start('arn:first');
      const second = await start('arn:second');

      // act
      const firstOutcome = await first.take();
      const secondOutcome = await second.take();

      // assess
      expect(first.decision.generation).toBe(next);
      expect(firstOutcome).toEqual({ kind: 'taken' });
      expect(secondOutcome).toMatchObject({ kind: 'changed', item: { generation: next } });
      const item = await raw();
      expect(item?.[FIELD.generation]).toEqual({ N: String(next) });
      expect(item?.[FIELD.executionArn]).toEqual({ S: 'arn:first' });
      expect(item?.[FIELD.lastError]?.M?.message?.S).toBe(
        `poller '${pollerId}': generation must be a whole number (N) from 1, as the system writes it; got ${shown}; replaced by the start of generation ${next}`,
      );
      expect(item?.[FIELD.lastError]?.M?.at).toEqual({ S: AT });
    },
  );

  it('replaces a heartbeat that is not a string (N 5), recording it', async () => {
    // prepare
    await put({ ...LIVE, [FIELD.heartbeatAt]: { N: '5' } });
    const { decision, take } = await start('arn:exec');

    // act
    const outcome = await take();

    // assess
    expect(decision.generation).toBe(5);
    expect(outcome).toEqual({ kind: 'taken' });
    const item = await raw();
    expect(item?.[FIELD.heartbeatAt]).toEqual({ S: AT });
    expect(item?.[FIELD.lastError]?.M?.message?.S).toContain('heartbeatAt must be a string (S)');
  });

  it('is refused when the operator changed the corrupt value after the start read it', async () => {
    // prepare
    await put({ ...LIVE, [FIELD.generation]: { S: '3' }, [FIELD.heartbeatAt]: { S: STALE } });
    const { take } = await start('arn:exec');
    await put({ ...LIVE, [FIELD.generation]: { S: '7' }, [FIELD.heartbeatAt]: { S: STALE } });

    // act
    const outcome = await take();

    // assess
    expect(outcome.kind).toBe('changed');
    expect((await raw())?.[FIELD.generation]).toEqual({ S: '7' });
  });
});

describe('ControlTable.recordRound', () => {
  it('writes progress and a claim under the generation and claim it holds', async () => {
    // prepare
    await put(LIVE);

    // act
    const outcome = await table.recordRound(
      pollerId,
      {
        seq: 10,
        claimedSeq: 40,
        heartbeatAt: AT,
        skippedTicksAdded: 2,
        lastError: { message: 'late', at: AT },
      },
      { generation: 4, claimedSeq: 10 },
    );

    // assess
    expect(outcome).toBe('written');
    expect(await table.read(pollerId)).toMatchObject({
      seq: 10,
      claimedSeq: 40,
      skippedTicks: 2,
      lastError: { message: 'late', at: AT },
    });
  });

  it('is refused as superseded under another generation or claim, and writes nothing', async () => {
    // prepare
    await put(LIVE);

    // act
    const otherGeneration = await table.recordRound(pollerId, { seq: 99 }, { generation: 3 });
    const otherClaim = await table.recordRound(pollerId, { seq: 99 }, { generation: 4, claimedSeq: 9 });

    // assess
    expect([otherGeneration, otherClaim]).toEqual(['superseded', 'superseded']);
    expect((await table.read(pollerId))?.seq).toBeUndefined();
  });

  it('records a stop for running=false only while running is not true', async () => {
    // prepare
    await put(LIVE);

    // act
    const outcome = await table.recordRound(
      pollerId,
      { stoppedReason: 'running is false' },
      { generation: 4, whileNotRunning: true },
    );

    // assess
    expect(outcome).toBe('superseded');
    expect((await table.read(pollerId))?.stoppedReason).toBeUndefined();
  });

  it('says missing, and creates nothing, when the item is gone', async () => {
    expect(await table.recordRound(pollerId, { seq: 1 }, { generation: 1 })).toBe('missing');
    expect(await raw()).toBeUndefined();
  });
});

describe('ControlTable.recordError', () => {
  it('records a start problem once, and never creates an item', async () => {
    // prepare
    await put({ [FIELD.running]: { BOOL: true } });

    // act
    await table.recordError(pollerId, 'no valid waitseconds', AT);
    await table.recordError(pollerId, 'no valid waitseconds', '2030-01-02T00:00:00.000Z');
    await table.recordError('nobody', 'no valid waitseconds', AT);

    // assess
    expect((await table.read(pollerId))?.lastError).toEqual({ message: 'no valid waitseconds', at: AT });
    expect(await raw('nobody')).toBeUndefined();
  });
});

describe('ControlTable.switchOn', () => {
  it('sets running=true on an existing item and returns the item as it was', async () => {
    // prepare
    await put({ ...LIVE, [FIELD.running]: { BOOL: false }, [FIELD.executionArn]: { S: 'arn:old' } });

    // act
    const outcome = await table.switchOn(pollerId);

    // assess
    expect(outcome !== 'missing' && outcome.before).toMatchObject({ executionArn: 'arn:old' });
    expect((await table.read(pollerId))?.operator.running).toBe(true);
  });

  it('refuses to create an item without a cadence', async () => {
    expect(await table.switchOn(pollerId)).toBe('missing');
    expect(await raw()).toBeUndefined();
  });

  it('creates the item with a cadence, saying it had none before', async () => {
    // act
    const outcome = await table.switchOn(pollerId, 2.5);

    // assess
    expect(outcome).toEqual({ before: undefined });
    expect(await raw()).toEqual({
      [FIELD.id]: { S: pollerId },
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '2.5' },
    });
  });
});

describe('ControlTable.switchOff', () => {
  it('sets running=false and returns the item as it now is', async () => {
    // prepare
    await put({ ...LIVE, [FIELD.nextTickAt]: { S: AT } });

    // act
    const item = await table.switchOff(pollerId);

    // assess
    expect(item).toMatchObject({ operator: { running: false }, nextTickAt: AT });
  });

  it('says missing, and creates nothing, for a poller without an item', async () => {
    expect(await table.switchOff(pollerId)).toBe('missing');
    expect(await raw()).toBeUndefined();
  });
});

describe('ControlTable.switchOffIfRunning', () => {
  it('turns a running poller off', async () => {
    await put(LIVE);
    expect(await table.switchOffIfRunning(pollerId)).toBe(true);
    expect((await raw())?.[FIELD.running]).toEqual({ BOOL: false });
  });

  it('leaves a stopped poller alone and does not resurrect a deleted one', async () => {
    // prepare
    await put({ ...LIVE, [FIELD.running]: { BOOL: false } });
    await put(LIVE, `${pollerId}-deleted`);
    await dynamoDb.send(
      new DeleteItemCommand({ TableName: TABLE_NAME, Key: { [FIELD.id]: { S: `${pollerId}-deleted` } } }),
    );

    // act
    const stopped = await table.switchOffIfRunning(pollerId);
    const deleted = await table.switchOffIfRunning(`${pollerId}-deleted`);

    // assess
    expect([stopped, deleted]).toEqual([false, false]);
    expect(await raw(`${pollerId}-deleted`)).toBeUndefined();
  });
});

describe('ControlTable.createPoller', () => {
  it('writes the operator fields given on a free id, and nothing for a null field', async () => {
    // act
    const outcome = await table.createPoller(pollerId, {
      running: false,
      waitSeconds: 0.5,
      target: 'my-fn',
      payload: { url: 'https://example.com', tries: 3, tags: ['a'] },
    });

    // assess
    expect(outcome).toBe('created');
    expect(await raw()).toEqual({
      [FIELD.id]: { S: pollerId },
      [FIELD.running]: { BOOL: false },
      [FIELD.waitSeconds]: { N: '0.5' },
      [FIELD.target]: { S: 'my-fn' },
      [FIELD.payload]: {
        M: { url: { S: 'https://example.com' }, tries: { N: '3' }, tags: { L: [{ S: 'a' }] } },
      },
    });
    expect((await table.read(pollerId))?.config.problems).toEqual([]);
  });

  it('refuses a taken id and leaves that item exactly as it was', async () => {
    // prepare
    await put(LIVE);
    const before = await raw();

    // act
    const outcome = await table.createPoller(pollerId, { running: false, waitSeconds: 9, target: null });

    // assess
    expect(outcome).toBe('exists');
    expect(await raw()).toEqual(before);
  });
});

describe('ControlTable.editOperatorFields', () => {
  it('sets and removes operator fields and leaves every system field as it was', async () => {
    // prepare
    await put({ ...LIVE, [FIELD.target]: { S: 'old-fn' }, [FIELD.payload]: { M: { a: { N: '1' } } } });

    // act
    const item = await table.editOperatorFields(pollerId, {
      waitSeconds: 7.5,
      target: null,
      payload: { b: true },
    });

    // assess
    expect(await raw()).toEqual({
      [FIELD.id]: { S: pollerId },
      ...LIVE,
      [FIELD.waitSeconds]: { N: '7.5' },
      [FIELD.payload]: { M: { b: { BOOL: true } } },
    });
    expect(item).toMatchObject({ waitSeconds: 7.5, operator: { target: undefined, payload: { b: true } } });
  });

  it('sets the overlap policy, and removes it (back to allow) for null', async () => {
    // prepare
    await put(LIVE);

    // act
    const skipping = await table.editOperatorFields(pollerId, { overlap: 'skip' });
    const skipStored = (await raw())?.[FIELD.overlap];
    const allowing = await table.editOperatorFields(pollerId, { overlap: null });

    // assess
    expect(skipStored).toEqual({ S: 'skip' });
    expect(skipping).toMatchObject({ operator: { overlap: 'skip' } });
    expect((await raw())?.[FIELD.overlap]).toBeUndefined();
    expect(allowing).toMatchObject({ operator: { overlap: undefined } });
  });

  it('says missing, and creates nothing, for a poller without an item', async () => {
    expect(await table.editOperatorFields(pollerId, { waitSeconds: 3 })).toBe('missing');
    expect(await raw()).toBeUndefined();
  });
});

describe('ControlTable.deletePoller', () => {
  it('deletes a stopped poller and returns the item as it was', async () => {
    // prepare
    await put({ ...LIVE, [FIELD.running]: { BOOL: false } });

    // act
    const outcome = await table.deletePoller(pollerId);

    // assess
    expect(outcome).toMatchObject({ kind: 'deleted', item: { pollerId, generation: 4 } });
    expect(await raw()).toBeUndefined();
  });

  it('keeps a poller whose running is true, and says so with the item as it is', async () => {
    // prepare
    await put(LIVE);

    // act
    const outcome = await table.deletePoller(pollerId);

    // assess
    expect(outcome).toMatchObject({ kind: 'running', item: { operator: { running: true } } });
    expect(await raw()).toEqual({ [FIELD.id]: { S: pollerId }, ...LIVE });
  });

  it('says missing for a poller without an item', async () => {
    expect(await table.deletePoller(pollerId)).toEqual({ kind: 'missing' });
  });
});

describe('ControlTable.seed', () => {
  it('writes running and waitseconds, creating the item, and keeps every other field', async () => {
    // prepare
    await put({ ...LIVE, [FIELD.target]: { S: 'mine' } });

    // act
    await table.seed(pollerId, { running: false, waitSeconds: '9' });
    await table.seed(`${pollerId}-new`, { running: true, waitSeconds: '1.5' });

    // assess
    expect(await raw()).toEqual({
      [FIELD.id]: { S: pollerId },
      ...LIVE,
      [FIELD.target]: { S: 'mine' },
      [FIELD.running]: { BOOL: false },
      [FIELD.waitSeconds]: { N: '9' },
    });
    expect(await raw(`${pollerId}-new`)).toEqual({
      [FIELD.id]: { S: `${pollerId}-new` },
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '1.5' },
    });
  });

  it('keeps an existing waitseconds when asked to, and fills in a missing one', async () => {
    // prepare
    await put({ [FIELD.running]: { BOOL: false }, [FIELD.waitSeconds]: { N: '5' } });

    // act
    await table.seed(pollerId, { running: true, waitSeconds: '2', keepWaitSeconds: true });
    await table.seed(`${pollerId}-new`, { running: true, waitSeconds: '2', keepWaitSeconds: true });

    // assess
    expect((await raw())?.[FIELD.waitSeconds]).toEqual({ N: '5' });
    expect((await raw())?.[FIELD.running]).toEqual({ BOOL: true });
    expect((await raw(`${pollerId}-new`))?.[FIELD.waitSeconds]).toEqual({ N: '2' });
  });

  it('gives up when its abort signal fires', async () => {
    const seeding = table.seed(
      pollerId,
      { running: true, waitSeconds: '2' },
      { abortSignal: AbortSignal.abort() },
    );
    await expect(seeding).rejects.toThrow();
    expect(await raw()).toBeUndefined();
  });
});

describe('ControlTable.listAll', () => {
  it('reads every item over every page, decoded', async () => {
    // prepare: items big enough that a Scan needs several 1 MB pages
    let scans = 0;
    const counted = createDynamoDbClient(localClientOptions(endpoint));
    counted.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ScanCommand') scans += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countScans' },
    );
    const table2 = new ControlTable(counted, `${TABLE_NAME}-pages`);
    await local.createControlTable(table2.tableName);
    const filler = 'x'.repeat(300_000);
    const ids = Array.from({ length: 8 }, (_, index) => `paged-${index}`);
    for (const id of ids) {
      await dynamoDb.send(
        new PutItemCommand({
          TableName: table2.tableName,
          Item: {
            [FIELD.id]: { S: id },
            [FIELD.running]: { BOOL: true },
            [FIELD.generation]: { N: '2' },
            filler: { S: filler },
          },
        }),
      );
    }

    // act
    const items = await table2.listAll();
    const pagesRead = scans;
    const images = await table2.scanImages();
    counted.destroy();

    // assess
    expect(pagesRead).toBeGreaterThan(1);
    expect(items.map((item) => item.pollerId).sort()).toEqual(ids);
    expect(items.every((item) => item.generation === 2 && item.operator.running === true)).toBe(true);
    expect(images.map((image) => image.pollerId).sort()).toEqual(ids);
  });
});
