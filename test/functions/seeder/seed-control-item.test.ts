import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CfnResponse, putResponse } from '../../../functions/seeder/cfn-response';
import { handleSeedEvent, SEED_DATA, type SeederDeps } from '../../../functions/seeder/seed-control-item';
import { createDynamoDbClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { FIELD } from '../../../functions/shared/contract';
import { ControlTable } from '../../../functions/shared/control-table';
import { ResponseNotDeliveredError } from '../../../functions/shared/errors';
import { silentLogger } from '../../../functions/shared/logger';
import { createSfnClient } from '../../../functions/shared/sfn-client';
import { type LoopStarterDeps, startLoop } from '../../../functions/starter/start-loop';
import { executionsOf, sleep, starterDepsFor } from '../../support/fault-probes';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';
import { type Harness, startHarness } from '../../support/local-stack-harness';

const TABLE = 'SubMinute-ControlTable-1A2B3C';

interface ReceivedRequest {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A local stand-in for CloudFormation's pre-signed response URL: records every request, answers `status`. */
async function startResponseServer(status = 200) {
  const received: ReceivedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, received, url: `http://127.0.0.1:${port}/cloudformation-response?X-Amz-Signature=abc` };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function seedEvent(overrides: Record<string, unknown> = {}) {
  return {
    RequestType: 'Create',
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:seeder',
    ResponseURL: 'set by the test',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/SubMinute/guid',
    RequestId: 'request-1',
    LogicalResourceId: 'SeedC76DC678',
    ResourceType: 'Custom::ControlItemSeed',
    ResourceProperties: { TableName: TABLE, PollerId: 'default', Running: 'true', WaitSeconds: '5' },
    ...overrides,
  };
}

/** Nothing listens on port 1: any write through this client fails at once. */
const unreachableDynamoDb = () => createDynamoDbClient(localClientOptions('http://127.0.0.1:1', 1));

/** A state machine nobody serves (port 1): every start or stop fails at once. */
const unreachableLoops = (dynamoDb: DynamoDBClient) => ({
  table: new ControlTable(dynamoDb, TABLE),
  sfn: createSfnClient(localClientOptions('http://127.0.0.1:1', 1)),
  stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:SubMinute-loop',
});

describe('handleSeedEvent', () => {
  let responses: Awaited<ReturnType<typeof startResponseServer>>;
  let localDynamoDb: LocalDynamoDb;
  let dynamoDb: DynamoDBClient;

  /** The seeder stops loops with `loops`; these tests also start them with it (the loop's table included). */
  const deps = (overrides: Partial<SeederDeps> & { loops?: LoopStarterDeps } = {}): SeederDeps => {
    const loops = overrides.loops ?? unreachableLoops(dynamoDb);
    return {
      dynamoDb,
      tableName: TABLE,
      sendResponse: putResponse,
      log: silentLogger,
      loops,
      startSeeded: (pollerId) => startLoop(pollerId, loops),
      ...overrides,
    };
  };

  const lastResponse = (): CfnResponse => JSON.parse(responses.received.at(-1)?.body ?? 'null');

  const readItem = async (pollerId = 'default') =>
    (await dynamoDb.send(new GetItemCommand({ TableName: TABLE, Key: { [FIELD.id]: { S: pollerId } } })))
      .Item;

  beforeAll(async () => {
    localDynamoDb = await startLocalDynamoDb({ controlTable: TABLE, maxAttempts: 1 });
    dynamoDb = localDynamoDb.client;
    responses = await startResponseServer();
  });

  afterEach(() => {
    responses.received.length = 0;
  });

  afterAll(async () => {
    await closeServer(responses.server);
    await localDynamoDb.close();
  });

  it('creates the control item on Create and answers SUCCESS with a stable physical id', async () => {
    // prepare
    const event = seedEvent({
      ResponseURL: responses.url,
      ResourceProperties: { ...seedEvent().ResourceProperties, PollerId: 'created' },
    });

    // act
    const outcome = await handleSeedEvent(event, deps());

    // assess
    expect(outcome).toBe('written');
    // The start took generation 1 for the execution it then failed to start: the watchdog or a retry serves it.
    expect(await readItem('created')).toEqual({
      [FIELD.id]: { S: 'created' },
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '5' },
      [FIELD.generation]: { N: '1' },
      [FIELD.executionArn]: { S: expect.stringMatching(/:execution:.*:created-g1-[0-9a-z]+$/) },
      [FIELD.heartbeatAt]: { S: expect.any(String) },
    });
    expect(lastResponse()).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: `${TABLE}/created`,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      // Nothing serves this seeder's state machine: the answer says the loop is left to the watchdog.
      Data: { [SEED_DATA.loopStart]: 'failed' },
      Reason: expect.stringMatching(
        /^poller 'created' seeded, but starting its loop failed \(.+\); the watchdog/,
      ),
    });
  });

  it('sets only running and waitseconds, leaving every other attribute of an existing item alone', async () => {
    // prepare
    await dynamoDb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          [FIELD.id]: { S: 'existing' },
          [FIELD.running]: { BOOL: false },
          [FIELD.waitSeconds]: { N: '60' },
          [FIELD.target]: { S: 'my-function' },
          [FIELD.seq]: { N: '41' },
        },
      }),
    );
    const properties = { TableName: TABLE, PollerId: 'existing', Running: 'true', WaitSeconds: '2.5' };

    // act
    await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: properties }), deps());

    // assess
    expect(await readItem('existing')).toEqual({
      [FIELD.id]: { S: 'existing' },
      [FIELD.running]: { BOOL: true },
      [FIELD.waitSeconds]: { N: '2.5' },
      [FIELD.target]: { S: 'my-function' },
      [FIELD.seq]: { N: '41' },
      // Turned on, so the seed started a loop: its start's record (the only system fields it writes).
      [FIELD.generation]: { N: '1' },
      [FIELD.executionArn]: { S: expect.any(String) },
      [FIELD.heartbeatAt]: { S: expect.any(String) },
    });
  });

  it('writes on Update when the seeded values changed', async () => {
    // prepare
    const old = { TableName: TABLE, PollerId: 'updated', Running: 'true', WaitSeconds: '5' };
    const event = seedEvent({
      RequestType: 'Update',
      ResponseURL: responses.url,
      PhysicalResourceId: `${TABLE}/updated`,
      OldResourceProperties: old,
      ResourceProperties: { ...old, Running: 'false' },
    });

    await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());

    // act
    const outcome = await handleSeedEvent(event, deps());

    // assess
    expect(outcome).toBe('written');
    expect((await readItem('updated'))?.[FIELD.running]).toEqual({ BOOL: false });
    expect(lastResponse()).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${TABLE}/updated` });
  });

  it('does not touch the item on Update when only other properties changed (operators steer it live)', async () => {
    // prepare
    const properties = seedEvent().ResourceProperties;
    const event = seedEvent({
      RequestType: 'Update',
      ResponseURL: responses.url,
      PhysicalResourceId: `${TABLE}/default`,
      OldResourceProperties: { ...properties },
      ResourceProperties: properties,
    });

    // act
    const outcome = await handleSeedEvent(event, deps({ dynamoDb: unreachableDynamoDb() }));

    // assess
    expect(outcome).toBe('unchanged');
    expect(lastResponse()).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${TABLE}/default` });
  });

  it('writes every poller of a list seed (pollers declared in a CDK app), each only its own fields', async () => {
    // prepare
    const properties = {
      TableName: TABLE,
      Pollers: [
        { PollerId: 'list-a', Running: 'false', WaitSeconds: '2' },
        { PollerId: 'list-b', Running: 'false', WaitSeconds: '0.5' },
      ],
    };

    // act
    const outcome = await handleSeedEvent(
      seedEvent({ ResponseURL: responses.url, ResourceProperties: properties }),
      deps(),
    );

    // assess
    expect(outcome).toBe('written');
    expect(await readItem('list-a')).toEqual({
      [FIELD.id]: { S: 'list-a' },
      [FIELD.running]: { BOOL: false },
      [FIELD.waitSeconds]: { N: '2' },
    });
    expect((await readItem('list-b'))?.[FIELD.waitSeconds]).toEqual({ N: '0.5' });
    expect(lastResponse()).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${TABLE}/list-a` });
  });

  it('on Update of a list seed writes only the pollers whose values changed, leaving live edits of the others', async () => {
    // prepare
    const old = {
      TableName: TABLE,
      Pollers: [
        { PollerId: 'kept', Running: 'false', WaitSeconds: '2' },
        { PollerId: 'changed', Running: 'false', WaitSeconds: '2' },
      ],
    };
    await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());
    // An operator steers 'kept' live after the deployment.
    await new ControlTable(dynamoDb, TABLE).seed('kept', { running: false, waitSeconds: '30' });
    const event = seedEvent({
      RequestType: 'Update',
      ResponseURL: responses.url,
      PhysicalResourceId: `${TABLE}/kept`,
      OldResourceProperties: old,
      ResourceProperties: {
        ...old,
        Pollers: [old.Pollers[0], { PollerId: 'changed', Running: 'false', WaitSeconds: '7' }],
      },
    });

    // act
    const outcome = await handleSeedEvent(event, deps());

    // assess
    expect(outcome).toBe('written');
    expect((await readItem('kept'))?.[FIELD.waitSeconds]).toEqual({ N: '30' });
    expect((await readItem('changed'))?.[FIELD.waitSeconds]).toEqual({ N: '7' });
  });

  it('on Update switches off a poller removed from the list, keeps its item, and names it in Reason', async () => {
    // prepare
    const old = {
      TableName: TABLE,
      Pollers: [
        { PollerId: 'stays', Running: 'false', WaitSeconds: '2' },
        { PollerId: 'dropped', Running: 'false', WaitSeconds: '2' },
        { PollerId: 'dropped-off', Running: 'false', WaitSeconds: '2' },
      ],
    };
    await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());
    // An operator runs 'dropped' live (no loop behind it here: only the item matters).
    await new ControlTable(dynamoDb, TABLE).seed('dropped', { running: true, waitSeconds: '3' });
    const event = seedEvent({
      RequestType: 'Update',
      ResponseURL: responses.url,
      PhysicalResourceId: `${TABLE}/stays`,
      OldResourceProperties: old,
      ResourceProperties: { ...old, Pollers: [old.Pollers[0]] },
    });

    // act
    const outcome = await handleSeedEvent(event, deps());

    // assess
    expect(outcome).toBe('written');
    expect(await readItem('dropped')).toEqual({
      [FIELD.id]: { S: 'dropped' },
      [FIELD.running]: { BOOL: false },
      [FIELD.waitSeconds]: { N: '3' },
    });
    expect((await readItem('dropped-off'))?.[FIELD.running]).toEqual({ BOOL: false });
    expect(lastResponse()).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${TABLE}/stays` });
    expect(lastResponse().Reason).toBe(
      "poller 'dropped' removed from the list: running=false, item kept; " +
        "poller 'dropped-off' removed from the list: running=false, item kept",
    );
  });

  it('on Update writes a poller added to the list and leaves the others alone', async () => {
    // prepare
    const old = { TableName: TABLE, Pollers: [{ PollerId: 'first', Running: 'false', WaitSeconds: '2' }] };
    await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());
    await new ControlTable(dynamoDb, TABLE).seed('first', { running: false, waitSeconds: '30' });
    const event = seedEvent({
      RequestType: 'Update',
      ResponseURL: responses.url,
      PhysicalResourceId: `${TABLE}/first`,
      OldResourceProperties: old,
      ResourceProperties: {
        ...old,
        Pollers: [old.Pollers[0], { PollerId: 'added', Running: 'false', WaitSeconds: '4' }],
      },
    });

    // act
    const outcome = await handleSeedEvent(event, deps());

    // assess
    expect(outcome).toBe('written');
    expect(await readItem('added')).toEqual({
      [FIELD.id]: { S: 'added' },
      [FIELD.running]: { BOOL: false },
      [FIELD.waitSeconds]: { N: '4' },
    });
    expect((await readItem('first'))?.[FIELD.waitSeconds]).toEqual({ N: '30' });
    expect(lastResponse().Reason).toBeUndefined();
  });

  it('answers FAILED naming the poller when a list seed names one twice, and writes nothing', async () => {
    // prepare
    const properties = {
      TableName: TABLE,
      Pollers: [
        { PollerId: 'twice', Running: 'false', WaitSeconds: '2' },
        { PollerId: 'twice', Running: 'true', WaitSeconds: '3' },
      ],
    };

    // act
    const outcome = await handleSeedEvent(
      seedEvent({ ResponseURL: responses.url, ResourceProperties: properties }),
      deps(),
    );

    // assess
    expect(outcome).toBe('failed');
    expect(lastResponse()).toMatchObject({
      Status: 'FAILED',
      Reason: 'seed property Pollers must name each poller once; got "twice"',
    });
    expect(await readItem('twice')).toBeUndefined();
  });

  it('leaves the item on Delete and answers SUCCESS with the same physical id', async () => {
    // prepare
    const event = seedEvent({
      RequestType: 'Delete',
      ResponseURL: responses.url,
      PhysicalResourceId: `${TABLE}/default`,
    });

    // act
    const outcome = await handleSeedEvent(event, deps({ dynamoDb: unreachableDynamoDb() }));

    // assess
    expect(outcome).toBe('deleted');
    expect(lastResponse()).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${TABLE}/default` });
  });

  it('answers FAILED naming the field and the value when a property is invalid', async () => {
    // prepare
    const properties = { ...seedEvent().ResourceProperties, WaitSeconds: 'abc' };

    // act
    const outcome = await handleSeedEvent(
      seedEvent({ ResponseURL: responses.url, ResourceProperties: properties }),
      deps(),
    );

    // assess
    expect(outcome).toBe('failed');
    expect(lastResponse()).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringMatching(/^seed property WaitSeconds must be a number of seconds .*; got "abc"$/),
      PhysicalResourceId: `${TABLE}/default`,
    });
  });

  it('answers FAILED with the table, the poller and the cause when the write fails', async () => {
    // act
    const outcome = await handleSeedEvent(
      seedEvent({ ResponseURL: responses.url }),
      deps({ dynamoDb: unreachableDynamoDb() }),
    );

    // assess
    expect(outcome).toBe('failed');
    expect(lastResponse()).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringMatching(
        new RegExp(`^writing control item 'default' to table '${TABLE}' failed: .+`),
      ),
    });
  });

  it('answers FAILED naming the variable when the seeder has no table configured', async () => {
    // act
    await handleSeedEvent(seedEvent({ ResponseURL: responses.url }), deps({ tableName: undefined }));

    // assess
    expect(lastResponse()).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringContaining('CONTROL_TABLE_NAME'),
    });
  });

  it('keeps the old physical id when an Update fails', async () => {
    // prepare
    const event = seedEvent({
      RequestType: 'Update',
      ResponseURL: responses.url,
      PhysicalResourceId: `${TABLE}/default`,
      OldResourceProperties: seedEvent().ResourceProperties,
      ResourceProperties: { ...seedEvent().ResourceProperties, PollerId: 'renamed', Running: 'maybe' },
    });

    // act
    await handleSeedEvent(event, deps());

    // assess
    expect(lastResponse()).toMatchObject({ Status: 'FAILED', PhysicalResourceId: `${TABLE}/default` });
  });
  describe('the operator fields a declared poller carries (target, payload, timezone, windows, overlap)', () => {
    const REPORTS = 'arn:aws:lambda:eu-west-1:123456789012:function:reports';
    /** A declared poller as the construct passes it; switched off, so no loop start is involved. */
    const declared = (pollerId: string, overrides: Record<string, unknown> = {}) => ({
      TableName: TABLE,
      PollerId: pollerId,
      Running: 'false',
      WaitSeconds: '2',
      Target: REPORTS,
      Payload: '{"url":"https://example.com/orders","retries":3}',
      TimeZone: 'Europe/Berlin',
      Windows: ['Mon-Fri 06:00-20:00 every 2', 'Sun 01:00-05:00 pause'],
      Overlap: 'skip',
      ...overrides,
    });
    const update = (pollerId: string, old: object, properties: object) =>
      seedEvent({
        RequestType: 'Update',
        ResponseURL: responses.url,
        PhysicalResourceId: `${TABLE}/${pollerId}`,
        OldResourceProperties: old,
        ResourceProperties: properties,
      });

    it('Create writes every declared field as ctl create stores it', async () => {
      // act
      const outcome = await handleSeedEvent(
        seedEvent({ ResponseURL: responses.url, ResourceProperties: declared('fields-create') }),
        deps(),
      );

      // assess
      expect(outcome).toBe('written');
      expect(await readItem('fields-create')).toEqual({
        [FIELD.id]: { S: 'fields-create' },
        [FIELD.running]: { BOOL: false },
        [FIELD.waitSeconds]: { N: '2' },
        [FIELD.target]: { S: REPORTS },
        [FIELD.payload]: { M: { url: { S: 'https://example.com/orders' }, retries: { N: '3' } } },
        [FIELD.timezone]: { S: 'Europe/Berlin' },
        [FIELD.windows]: { L: [{ S: 'Mon-Fri 06:00-20:00 every 2' }, { S: 'Sun 01:00-05:00 pause' }] },
        [FIELD.overlap]: { S: 'skip' },
      });
      // The item reads as the loop will read it: no field refused.
      const item = await new ControlTable(dynamoDb, TABLE).read('fields-create');
      expect(item?.config.problems).toEqual([]);
      expect(item?.config.config).toMatchObject({ intervalMs: 2000, target: REPORTS, overlap: 'skip' });
    });

    it('an Update changing one field writes only it: operator edits of the others stay', async () => {
      // prepare
      const old = declared('fields-one');
      await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());
      // Operators steer the poller live after the deployment.
      await new ControlTable(dynamoDb, TABLE).editOperatorFields('fields-one', {
        waitSeconds: 30,
        windows: ['Sat 10:00-12:00 every 5'],
        overlap: 'allow',
      });
      await new ControlTable(dynamoDb, TABLE).switchOn('fields-one');

      // act
      const outcome = await handleSeedEvent(
        update('fields-one', old, declared('fields-one', { Payload: '{"url":"https://example.com/v2"}' })),
        deps(),
      );

      // assess
      expect(outcome).toBe('written');
      expect(await readItem('fields-one')).toMatchObject({
        [FIELD.running]: { BOOL: true },
        [FIELD.waitSeconds]: { N: '30' },
        [FIELD.payload]: { M: { url: { S: 'https://example.com/v2' } } },
        [FIELD.windows]: { L: [{ S: 'Sat 10:00-12:00 every 5' }] },
        [FIELD.overlap]: { S: 'allow' },
      });
    });

    it("an Update changing only waitseconds keeps an operator's pause: running is written only when it changed", async () => {
      // prepare
      const old = declared('fields-paused', { Running: 'true' });
      await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());
      await new ControlTable(dynamoDb, TABLE).switchOff('fields-paused');

      // act
      const outcome = await handleSeedEvent(
        update('fields-paused', old, declared('fields-paused', { Running: 'true', WaitSeconds: '4' })),
        deps(),
      );

      // assess
      expect(outcome).toBe('written');
      expect(await readItem('fields-paused')).toMatchObject({
        [FIELD.running]: { BOOL: false },
        [FIELD.waitSeconds]: { N: '4' },
      });
      // Nothing turned on, so nothing started: the answer names no loop start.
      expect(lastResponse().Data).toBeUndefined();
    });

    it('an Update REMOVEs a field dropped from the declaration, and leaves a field never declared alone', async () => {
      // prepare
      const old = declared('fields-dropped', { Target: undefined });
      await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());
      await new ControlTable(dynamoDb, TABLE).editOperatorFields('fields-dropped', { target: 'set-live' });
      const { Windows: _dropped, ...withoutWindows } = old;

      // act
      const outcome = await handleSeedEvent(update('fields-dropped', old, withoutWindows), deps());

      // assess
      expect(outcome).toBe('written');
      const item = await readItem('fields-dropped');
      expect(item?.[FIELD.windows]).toBeUndefined();
      expect(item?.[FIELD.target]).toEqual({ S: 'set-live' });
      expect(item?.[FIELD.payload]).toBeDefined();
    });

    it('an Update of one field on an item an operator deleted does not re-create it, and names it in Reason', async () => {
      // prepare
      const old = declared('fields-deleted', { Running: 'true' });
      await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());
      await new ControlTable(dynamoDb, TABLE).switchOff('fields-deleted');
      expect(await new ControlTable(dynamoDb, TABLE).deletePoller('fields-deleted')).toMatchObject({
        kind: 'deleted',
      });

      // act
      const outcome = await handleSeedEvent(
        update('fields-deleted', old, declared('fields-deleted', { Overlap: 'allow' })),
        deps(),
      );

      // assess
      expect(outcome).toBe('unchanged');
      expect(await readItem('fields-deleted')).toBeUndefined();
      // Declared running=true, but nothing is started for a poller that is not there.
      expect(lastResponse()).toMatchObject({
        Status: 'SUCCESS',
        Reason:
          "poller 'fields-deleted' deleted by an operator: not re-created; delete it from the code or re-create it with ctl create",
      });
      expect(lastResponse().Data).toBeUndefined();
    });

    it('an Update that only drops a field does not re-create an item an operator deleted', async () => {
      // prepare
      const old = declared('fields-deleted-drop');
      await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());
      await new ControlTable(dynamoDb, TABLE).deletePoller('fields-deleted-drop');
      const { Windows: _dropped, ...withoutWindows } = old;

      // act
      await handleSeedEvent(update('fields-deleted-drop', old, withoutWindows), deps());

      // assess
      expect(await readItem('fields-deleted-drop')).toBeUndefined();
      expect(lastResponse().Reason).toMatch(
        /^poller 'fields-deleted-drop' deleted by an operator: not re-created/,
      );
    });

    it('an Update creates a poller new in the declaration with every declared field, next to a deleted one', async () => {
      // prepare
      const old = { TableName: TABLE, Pollers: [declared('list-kept')] };
      await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());
      await new ControlTable(dynamoDb, TABLE).deletePoller('list-kept');
      const { TableName: _table, ...added } = declared('list-added');
      const { TableName: _table2, ...kept } = declared('list-kept', { WaitSeconds: '3' });

      // act
      const outcome = await handleSeedEvent(
        update('list-kept', old, { TableName: TABLE, Pollers: [kept, added] }),
        deps(),
      );

      // assess
      expect(outcome).toBe('written');
      expect(await readItem('list-kept')).toBeUndefined();
      expect(await readItem('list-added')).toEqual({
        [FIELD.id]: { S: 'list-added' },
        [FIELD.running]: { BOOL: false },
        [FIELD.waitSeconds]: { N: '2' },
        [FIELD.target]: { S: REPORTS },
        [FIELD.payload]: { M: { url: { S: 'https://example.com/orders' }, retries: { N: '3' } } },
        [FIELD.timezone]: { S: 'Europe/Berlin' },
        [FIELD.windows]: { L: [{ S: 'Mon-Fri 06:00-20:00 every 2' }, { S: 'Sun 01:00-05:00 pause' }] },
        [FIELD.overlap]: { S: 'skip' },
      });
      expect(lastResponse().Reason).toBe(
        "poller 'list-kept' deleted by an operator: not re-created; delete it from the code or re-create it with ctl create",
      );
    });

    it.each([
      ['Windows', 'windows', { windows: ['Sat 10:00-12:00 every 5'] }],
      ['Payload', 'payload', { payload: { url: 'https://example.com/live' } }],
      ['Overlap', 'overlap', { overlap: 'allow' as const }],
      ['TimeZone', 'timezone', { timeZone: 'Asia/Tokyo' }],
    ])(
      'an Update dropping %s keeps the value an operator set after the seed, and says so in Reason',
      async (property, key, edit) => {
        // prepare
        const pollerId = `fields-kept-${key}`;
        const old = declared(pollerId);
        await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());
        const table = new ControlTable(dynamoDb, TABLE);
        await table.editOperatorFields(pollerId, edit);
        const before = await readItem(pollerId);
        const { [property]: _dropped, ...without } = old as Record<string, unknown>;

        // act
        const outcome = await handleSeedEvent(update(pollerId, old, without), deps());

        // assess
        expect(outcome).toBe('written');
        expect(await readItem(pollerId)).toEqual(before);
        expect(lastResponse()).toMatchObject({
          Status: 'SUCCESS',
          Reason: `poller '${pollerId}': ${key} dropped from the code but changed by an operator since: kept`,
        });
      },
    );

    it('an Update dropping a map field (payload) REMOVEs it while the item holds what the seed wrote', async () => {
      // prepare
      const old = declared('fields-dropped-payload');
      await handleSeedEvent(seedEvent({ ResponseURL: responses.url, ResourceProperties: old }), deps());
      const { Payload: _dropped, ...without } = old;

      // act
      await handleSeedEvent(update('fields-dropped-payload', old, without), deps());

      // assess
      expect((await readItem('fields-dropped-payload'))?.[FIELD.payload]).toBeUndefined();
      expect(lastResponse().Reason).toBeUndefined();
    });

    it('an Update that changes no declared field writes nothing (no table reachable, still SUCCESS)', async () => {
      // act
      const outcome = await handleSeedEvent(
        update(
          'fields-same',
          declared('fields-same'),
          declared('fields-same', { Payload: '{ "url": "https://example.com/orders", "retries": 3 }' }),
        ),
        deps({ dynamoDb: unreachableDynamoDb() }),
      );

      // assess
      expect(outcome).toBe('unchanged');
      expect(lastResponse()).toMatchObject({ Status: 'SUCCESS' });
    });

    it.each([
      [
        'Target',
        'not a function!',
        /^seed property Target fails the controller's check \(target must be .*; got "not a function!"$/,
      ],
      [
        'Payload',
        '{"n":1e200}',
        /^seed property Payload fails the controller's check \(payload holds the number 1e\+200.*; got .*1e200/,
      ],
      [
        'TimeZone',
        'Mars/Olympus',
        /^seed property TimeZone fails the controller's check \(timezone must be .*; got "Mars\/Olympus"$/,
      ],
      [
        'Windows',
        ['Mon 25:00-26:00 every 1'],
        /^seed property Windows fails the controller's check \(windows\[0\] .*; got \["Mon 25:00-26:00 every 1"\]$/,
      ],
      [
        'Overlap',
        'never',
        /^seed property Overlap fails the controller's check \(overlap must be one of allow, skip.*; got "never"$/,
      ],
    ])('refuses %s %j with FAILED naming the value, and writes nothing', async (property, value, reason) => {
      // prepare
      const pollerId = `fields-bad-${property.toLowerCase()}`;

      // act
      const outcome = await handleSeedEvent(
        seedEvent({
          ResponseURL: responses.url,
          ResourceProperties: declared(pollerId, { [property]: value }),
        }),
        deps(),
      );

      // assess
      expect(outcome).toBe('failed');
      expect(lastResponse()).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(reason) });
      expect(await readItem(pollerId)).toBeUndefined();
    });
  });
});

describe('putResponse', () => {
  let responses: Awaited<ReturnType<typeof startResponseServer>>;

  afterEach(async () => {
    await closeServer(responses.server);
  });

  it('PUTs the JSON body to the URL with an empty Content-Type and its length', async () => {
    // prepare
    responses = await startResponseServer();
    const response: CfnResponse = {
      Status: 'SUCCESS',
      PhysicalResourceId: 'table/default',
      StackId: 'stack',
      RequestId: 'request',
      LogicalResourceId: 'Seed',
    };

    // act
    await putResponse(responses.url, response);

    // assess
    const [request] = responses.received;
    expect(request?.method).toBe('PUT');
    expect(request?.url).toBe('/cloudformation-response?X-Amz-Signature=abc');
    expect(request?.headers['content-type']).toBe('');
    expect(request?.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(response))));
    expect(JSON.parse(request?.body ?? '')).toEqual(response);
  });

  it('rejects when the URL answers with an error status', async () => {
    // prepare
    responses = await startResponseServer(403);
    const response: CfnResponse = {
      Status: 'FAILED',
      PhysicalResourceId: 'x',
      StackId: 's',
      RequestId: 'r',
      LogicalResourceId: 'l',
    };

    // act
    const delivery = putResponse(responses.url, response);

    // assess
    await expect(delivery).rejects.toThrow(ResponseNotDeliveredError);
    await expect(delivery).rejects.toThrow('HTTP 403');
  });
});

describe('handleSeedEvent and the loops (local stack)', () => {
  let harness: Harness;
  let responses: Awaited<ReturnType<typeof startResponseServer>>;
  let loops: ReturnType<typeof starterDepsFor>;
  let hanging: { url: string; close: () => Promise<void> };

  const deps = (overrides: Partial<SeederDeps> & { loops?: LoopStarterDeps } = {}): SeederDeps => {
    const seedLoops = overrides.loops ?? loops;
    return {
      dynamoDb: harness.stack.dynamoDb,
      tableName: harness.stack.tableName,
      sendResponse: putResponse,
      log: silentLogger,
      loops: seedLoops,
      startSeeded: (pollerId) => startLoop(pollerId, seedLoops),
      ...overrides,
    };
  };

  const lastResponse = (): CfnResponse => JSON.parse(responses.received.at(-1)?.body ?? 'null');

  const event = (pollerId: string, overrides: Record<string, unknown> = {}) =>
    seedEvent({
      ResponseURL: responses.url,
      ResourceProperties: {
        TableName: harness.stack.tableName,
        PollerId: pollerId,
        Running: 'true',
        WaitSeconds: '60',
      },
      ...overrides,
    });

  const executionNames = (pollerId: string) => executionsOf(harness.stack, pollerId).map((run) => run.name);

  beforeAll(async () => {
    harness = await startHarness({ startLoops: false });
    loops = starterDepsFor(harness.stack);
    responses = await startResponseServer();
    hanging = await startSilentServer();
  });

  afterEach(() => {
    responses.received.length = 0;
    harness.stack.services.injectFault = () => undefined;
  });

  afterAll(async () => {
    loops.sfn.destroy();
    await hanging.close();
    await closeServer(responses.server);
    await harness.stack.stop();
  });

  it('starts the loop itself when Create seeds running=true, and says so in Data', async () => {
    // act
    const outcome = await handleSeedEvent(event('created-running'), deps());

    // assess
    expect(outcome).toBe('written');
    expect(executionNames('created-running')).toEqual([
      expect.stringMatching(/^created-running-g1-[0-9a-z]+$/),
    ]);
    expect(lastResponse()).toMatchObject({ Status: 'SUCCESS', Data: { [SEED_DATA.loopStart]: 'started' } });
    expect(lastResponse().Reason).toBeUndefined();
  });

  it('starts the loop of each running poller of a list seed, and says which in Data', async () => {
    // prepare
    const properties = {
      TableName: harness.stack.tableName,
      Pollers: [
        { PollerId: 'listed-a', Running: 'true', WaitSeconds: '60' },
        { PollerId: 'listed-off', Running: 'false', WaitSeconds: '60' },
        { PollerId: 'listed-b', Running: 'true', WaitSeconds: '60' },
      ],
    };

    // act
    const outcome = await handleSeedEvent(event('listed-a', { ResourceProperties: properties }), deps());

    // assess
    expect(outcome).toBe('written');
    expect(executionNames('listed-a')).toEqual([expect.stringMatching(/^listed-a-g1-[0-9a-z]+$/)]);
    expect(executionNames('listed-b')).toEqual([expect.stringMatching(/^listed-b-g1-[0-9a-z]+$/)]);
    expect(executionNames('listed-off')).toEqual([]);
    expect(lastResponse()).toMatchObject({
      Status: 'SUCCESS',
      Data: { [SEED_DATA.loopStart]: 'listed-a:started,listed-b:started' },
    });
  });

  it('starts nothing when Create seeds running=false', async () => {
    // prepare
    const properties = { ...event('created-stopped').ResourceProperties, Running: 'false' };

    // act
    await handleSeedEvent(event('created-stopped', { ResourceProperties: properties }), deps());

    // assess
    expect(executionNames('created-stopped')).toEqual([]);
    expect(lastResponse()).toMatchObject({ Status: 'SUCCESS' });
    expect(lastResponse().Data).toBeUndefined();
  });

  it('starts the loop when an Update turns running from false to true', async () => {
    // prepare
    const stopped = { ...event('turned-on').ResourceProperties, Running: 'false' };
    await handleSeedEvent(event('turned-on', { ResourceProperties: stopped }), deps());
    const update = event('turned-on', {
      RequestType: 'Update',
      PhysicalResourceId: `${harness.stack.tableName}/turned-on`,
      OldResourceProperties: stopped,
    });

    // act
    await handleSeedEvent(update, deps());

    // assess
    expect(executionNames('turned-on')).toEqual([expect.stringMatching(/^turned-on-g1-[0-9a-z]+$/)]);
    expect(lastResponse()).toMatchObject({
      Status: 'SUCCESS',
      Reason: "poller 'turned-on' turned on",
    });
  });

  it('starts no second loop when an Update keeps running=true and changes the cadence', async () => {
    // prepare
    await handleSeedEvent(event('kept-on'), deps());
    const update = event('kept-on', {
      RequestType: 'Update',
      PhysicalResourceId: `${harness.stack.tableName}/kept-on`,
      OldResourceProperties: event('kept-on').ResourceProperties,
      ResourceProperties: { ...event('kept-on').ResourceProperties, WaitSeconds: '30' },
    });

    // act
    const outcome = await handleSeedEvent(update, deps());

    // assess
    expect(outcome).toBe('written');
    expect(executionNames('kept-on')).toEqual([expect.stringMatching(/^kept-on-g1-[0-9a-z]+$/)]);
  });

  it('keeps its physical id on an Update that moves it to another poller, so CloudFormation never replaces it', async () => {
    // prepare
    const physicalId = `${harness.stack.tableName}/first-poller`;
    const update = event('second-poller', {
      RequestType: 'Update',
      PhysicalResourceId: physicalId,
      OldResourceProperties: event('first-poller').ResourceProperties,
    });

    // act
    await handleSeedEvent(update, deps());

    // assess
    expect(lastResponse()).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId });
  });

  it('answers SUCCESS, naming the failure in Reason and Data, when Step Functions refuses the start', async () => {
    // prepare
    harness.stack.services.injectFault = (service, target) =>
      service === 'stepfunctions' && target === 'StartExecution'
        ? {
            status: 400,
            errorType: 'AccessDeniedException',
            message: 'not authorized to perform states:StartExecution',
          }
        : undefined;

    // act
    const outcome = await handleSeedEvent(event('refused-start'), deps());

    // assess
    expect(outcome).toBe('written');
    expect((await harness.readItem('refused-start'))?.[FIELD.running]).toEqual({ BOOL: true });
    expect(lastResponse()).toMatchObject({
      Status: 'SUCCESS',
      Data: { [SEED_DATA.loopStart]: 'failed' },
      Reason: expect.stringMatching(
        /^poller 'refused-start' seeded, but starting its loop failed \(.*AccessDeniedException.*\); the watchdog starts it/,
      ),
    });
  });

  it('gives up on a start that gets no answer, within its budget, and still answers SUCCESS', async () => {
    // prepare
    const silentSfn = createSfnClient(localClientOptions(hanging.url, 1));
    const startedAt = Date.now();

    // act
    try {
      await handleSeedEvent(
        event('unanswered-start'),
        deps({ loops: { ...loops, sfn: silentSfn }, startTimeoutMs: 300 }),
      );
    } finally {
      silentSfn.destroy();
    }

    // assess
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect(lastResponse()).toMatchObject({
      Status: 'SUCCESS',
      Data: { [SEED_DATA.loopStart]: 'failed' },
      Reason: expect.stringContaining('no answer within 300 ms'),
    });
  });

  it('on Delete stops every running loop, mid-round ones included: nothing fires after the answer', async () => {
    // prepare: a loop staying awake (0.5 s) and one in its Wait state (60 s)
    await harness.setFields({ [FIELD.running]: { BOOL: true }, [FIELD.waitSeconds]: { N: '0.5' } }, 'awake');
    await harness.setFields({ [FIELD.running]: { BOOL: true }, [FIELD.waitSeconds]: { N: '60' } }, 'waiting');
    await startLoop('awake', loops);
    await startLoop('waiting', loops);
    await harness.waitForFires(2, 5_000, 'awake');
    await harness.waitForFires(1, 5_000, 'waiting');
    const physicalId = `${harness.stack.tableName}/default`;
    const deletion = seedEvent({
      RequestType: 'Delete',
      ResponseURL: responses.url,
      PhysicalResourceId: physicalId,
    });

    // act
    const outcome = await handleSeedEvent(deletion, deps());
    const firedBeforeAnswer = harness.fires('awake').length;
    await sleep(2_000);

    // assess
    expect(outcome).toBe('deleted');
    expect(harness.stack.stepFunctions.listExecutions('RUNNING')).toEqual([]);
    expect(executionsOf(harness.stack, 'waiting').map((run) => run.status)).toEqual(['ABORTED']);
    expect((await harness.readItem('awake'))?.[FIELD.running]).toEqual({ BOOL: false });
    // At most the tick that was already under way when running turned off.
    expect(harness.fires('awake').length - firedBeforeAnswer).toBeLessThanOrEqual(1);
    expect(lastResponse()).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: physicalId,
    });
    expect(Number(lastResponse().Data?.[SEED_DATA.loopsStopped])).toBeGreaterThanOrEqual(2);
    expect(lastResponse().Reason).toBeUndefined();
  });

  it('answers Delete with SUCCESS and the reason when Step Functions refuses to list executions', async () => {
    // prepare
    harness.stack.services.injectFault = (service) =>
      service === 'stepfunctions'
        ? {
            status: 400,
            errorType: 'AccessDeniedException',
            message: 'not authorized to perform states:ListExecutions',
          }
        : undefined;

    // act
    const outcome = await handleSeedEvent(
      seedEvent({ RequestType: 'Delete', ResponseURL: responses.url, PhysicalResourceId: 'table/default' }),
      deps(),
    );

    // assess
    expect(outcome).toBe('deleted');
    expect(lastResponse()).toMatchObject({
      Status: 'SUCCESS',
      Data: { [SEED_DATA.loopsStopped]: '0' },
      Reason: expect.stringMatching(/listing the running executions of '.*' failed: AccessDeniedException/),
    });
  });

  it('answers Delete within its budget when Step Functions never answers', async () => {
    // prepare
    const silentSfn = createSfnClient(localClientOptions(hanging.url, 1));
    const startedAt = Date.now();

    // act
    try {
      await handleSeedEvent(
        seedEvent({ RequestType: 'Delete', ResponseURL: responses.url, PhysicalResourceId: 'table/default' }),
        deps({ loops: { ...loops, sfn: silentSfn }, stopTimeoutMs: 500 }),
      );
    } finally {
      silentSfn.destroy();
    }

    // assess
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect(lastResponse()).toMatchObject({
      Status: 'SUCCESS',
      Reason: expect.stringContaining('gave up after 500 ms'),
    });
  });
});

/** A server that accepts connections and never answers: a service that hangs. */
async function startSilentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
