import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { FIELD, type WorkerEvent } from '../../../functions/shared/contract';
import { triggerFieldsOf } from '../../../functions/shared/control-item';
import { ControlTable } from '../../../functions/shared/control-table';
import { createSfnClient } from '../../../functions/shared/sfn-client';
import { type TriggerResult, trigger } from '../../../scripts/ctl/commands/trigger';
import { TriggerNotFiredError } from '../../../scripts/ctl/errors';
import { exitCodeOf, formatResult } from '../../../scripts/ctl/format';
import type { CtlSession } from '../../../scripts/ctl/session';
import { failingProxy } from '../../support/failing-proxy';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';

/**
 * `ctl trigger`'s invoke against Lambda's wire protocol: a real SDK v3 Lambda client talks to a small HTTP endpoint
 * that answers as Lambda does (202 accepted; 404 with a ResourceNotFoundException body) or drops the connection
 * after reading the request (Lambda may have queued the event); the table is dynalite.
 */
type Answer = 'accept' | 'not-found' | 'drop';

const TABLE_NAME = 'control';
let local: LocalDynamoDb;
let lambda: Server;
let lambdaEndpoint = '';
let answer: Answer = 'accept';
let received: WorkerEvent[] = [];
let pollerId = '';
let counter = 0;

function answerAsLambda(incoming: IncomingMessage, outgoing: ServerResponse): void {
  const chunks: Buffer[] = [];
  incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
  incoming.on('end', () => {
    received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WorkerEvent);
    if (answer === 'drop') {
      incoming.socket.destroy();
      return;
    }
    if (answer === 'not-found') {
      outgoing
        .writeHead(404, {
          'content-type': 'application/json',
          'x-amzn-errortype': 'ResourceNotFoundException',
        })
        .end(JSON.stringify({ Type: 'User', message: 'Function not found: worker' }));
      return;
    }
    outgoing.writeHead(202, { 'content-type': 'application/json' }).end();
  });
}

beforeAll(async () => {
  local = await startLocalDynamoDb({ controlTable: TABLE_NAME });
  lambda = createServer(answerAsLambda);
  await new Promise<void>((resolve) => lambda.listen(0, '127.0.0.1', resolve));
  lambdaEndpoint = `http://127.0.0.1:${(lambda.address() as AddressInfo).port}`;
});

afterAll(async () => {
  lambda.closeAllConnections();
  await new Promise<void>((resolve) => lambda.close(() => resolve()));
  await local?.close();
});

beforeEach(async () => {
  counter += 1;
  pollerId = `poller-${counter}`;
  answer = 'accept';
  received = [];
  await putItem({});
});

const putItem = (fields: Record<string, { S: string } | { BOOL: boolean }>) =>
  local.client.send(
    new PutItemCommand({
      TableName: TABLE_NAME,
      Item: {
        [FIELD.id]: { S: pollerId },
        [FIELD.running]: { BOOL: true },
        [FIELD.waitSeconds]: { N: '5' },
        ...fields,
      },
    }),
  );

const sessions: { close(): void }[] = [];
afterEach(() => {
  for (const session of sessions.splice(0)) session.close();
});

/** A session whose DynamoDB calls go to `dynamoDbEndpoint` (dynalite, or a failing proxy in front of it). */
function sessionFor(dynamoDbEndpoint = local.endpoint): CtlSession {
  const dynamoDb = createDynamoDbClient(localClientOptions(dynamoDbEndpoint, 1));
  const sfn = createSfnClient(localClientOptions(lambdaEndpoint));
  sessions.push({
    close: () => {
      dynamoDb.destroy();
      sfn.destroy();
    },
  });
  return {
    target: {
      tableName: TABLE_NAME,
      stateMachineArn: undefined,
      dynamoDb: localClientOptions(dynamoDbEndpoint, 1),
      stepFunctions: localClientOptions(lambdaEndpoint),
      lambda: localClientOptions(lambdaEndpoint),
      defaultWorker: 'worker',
    },
    dynamoDb,
    table: new ControlTable(dynamoDb, TABLE_NAME),
    sfn,
    nowMs: Date.now,
  };
}

async function lastTrigger() {
  const item = await new ControlTable(local.client, TABLE_NAME).read(pollerId);
  if (item === undefined) throw new Error('no item');
  return { trigger: triggerFieldsOf(item).lastTrigger, lastError: item.lastError?.message };
}

const notFired = async (run: Promise<unknown>) => {
  const error = await run.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof TriggerNotFiredError))
    throw new Error(`expected a TriggerNotFiredError, got ${String(error)}`);
  return error;
};

describe('ctl trigger: how the invoke ended', () => {
  it('Lambda answers with an error status: refused, and a retry with the same id fires as the same seq', async () => {
    answer = 'not-found';
    const refused = await notFired(trigger(sessionFor(), { pollerId, requestId: 'r-1' }));

    expect(refused).toMatchObject({ outcome: 'refused', pollerId, value: 'r-1' });
    expect(refused.message).toMatch(
      /trigger r-1 not fired: .*ResourceNotFoundException.*repeat with --id r-1/,
    );
    expect(await lastTrigger()).toMatchObject({ trigger: { state: 'refused', status: 404, seq: -1 } });

    answer = 'accept';
    const retried = await trigger(sessionFor(), { pollerId, requestId: 'r-1' });

    expect(retried).toMatchObject({ outcome: 'fired', seq: -1, warning: null });
    expect(received.map((event) => event.seq)).toEqual([-1, -1]);
  });

  it('the connection drops after Lambda read the request: unknown (it may have fired), not retryable', async () => {
    answer = 'drop';
    const unknown = await notFired(trigger(sessionFor(), { pollerId, requestId: 'u-1' }));

    expect(unknown).toMatchObject({ outcome: 'unknown', pollerId, value: 'u-1' });
    expect(unknown.message).toMatch(/trigger u-1 may have fired \(seq -1\)/);
    expect(unknown.message).not.toMatch(/repeat with --id/);
    const recorded = await lastTrigger();
    expect(recorded.trigger).toMatchObject({ state: 'unknown', seq: -1 });
    expect(recorded.lastError).toMatch(/^trigger u-1 may have fired: /);

    answer = 'accept';
    const again = await trigger(sessionFor(), { pollerId, requestId: 'u-1' });

    expect(again).toMatchObject({ outcome: 'duplicate', earlierState: 'unknown', seq: -1 });
    expect(exitCodeOf(again)).toBe(1);
    expect(formatResult(again, false)).toMatch(/it may have fired, check `ctl history`/);
    expect(received).toHaveLength(1);
  });

  it('Lambda accepted, the "fired" record fails: reported fired (exit 0) with a warning; a rerun says claimed, check history', async () => {
    // Calls: 1 GetItem (read), 2 UpdateItem (claim), 3 UpdateItem (fired): DynamoDB answers the third with a 500.
    const proxy = await failingProxy(local.endpoint, (call) => call === 3);
    try {
      const fired = await trigger(sessionFor(proxy.endpoint), { pollerId, requestId: 'f-1' });

      expect(fired).toMatchObject({ outcome: 'fired', seq: -1, statusCode: 202 });
      expect(fired.warning).toMatch(/record stays 'claimed'/);
      expect(exitCodeOf(fired)).toBe(0);
      expect(formatResult(fired, false)).toMatch(/; warning: the record stays 'claimed'/);
    } finally {
      await proxy.close();
    }
    expect((await lastTrigger()).trigger).toMatchObject({ state: 'claimed' });

    const rerun = await trigger(sessionFor(), { pollerId, requestId: 'f-1' });

    expect(rerun).toMatchObject({ outcome: 'duplicate', earlierState: 'claimed' });
    expect(formatResult(rerun, false)).toMatch(
      /claimed at .*, fire not confirmed: .*check `ctl history` for trigger f-1/,
    );
    expect(received).toHaveLength(1);
  });

  it('an overlap skip poller: fired, and the output says overlap skip is not applied', async () => {
    await putItem({ [FIELD.overlap]: { S: 'skip' } });

    const fired: TriggerResult = await trigger(sessionFor(), { pollerId, requestId: 'o-1' });

    expect(fired).toMatchObject({ outcome: 'fired', overlapSkipIgnored: true });
    expect(formatResult(fired, false)).toMatch(/overlap skip is not applied to a trigger/);
  });
});
