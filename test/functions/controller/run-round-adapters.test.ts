import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRound } from '../../../functions/controller/run-round';
import { DEFAULT_TIMING, type Timing } from '../../../functions/scheduling/plan-round';
import { createLambdaClient, localClientOptions } from '../../../functions/shared/aws-clients';
import { type ControllerOutput, FIELD, type WorkerEvent } from '../../../functions/shared/contract';
import { ControlTable } from '../../../functions/shared/control-table';
import { silentLogger } from '../../../functions/shared/logger';
import { LambdaWorkerInvoker } from '../../../functions/shared/worker-invoker';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../support/local-dynamodb';
import { simulatedClock } from '../../support/simulated-clock';

/**
 * runRound on its production adapters: ControlTable on dynalite and LambdaWorkerInvoker on a local stand-in for
 * the Lambda Invoke API. The behaviour of a round is tested in run-round.test.ts on in-memory ports; this keeps
 * the real adapters wired the way the controller uses them (the contract suite holds the stores to each other).
 */
const TABLE_NAME = 'pollers';
const TIMING: Timing = { ...DEFAULT_TIMING, handBackMarginMs: 200, claimWindowMs: 500 };
/** Real I/O here: the simulated clock lets it run before time moves. */
const clock = simulatedClock({ startMs: Date.now(), yieldToEventLoop: true });

let localDynamoDb: LocalDynamoDb | undefined;
let workerServer: Server;
let dynamoDb: DynamoDBClient;
let invoker: LambdaWorkerInvoker;
/** Each tick's event, with the (simulated) time the whole request had arrived. */
const received: { event: WorkerEvent; receivedAt: number }[] = [];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function answerInvoke(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  if (request.headers['x-amz-invocation-type'] === 'Event') {
    received.push({
      event: JSON.parse(Buffer.concat(chunks).toString('utf8')) as WorkerEvent,
      receivedAt: clock.peek(),
    });
    response.writeHead(202).end();
    return;
  }
  response.writeHead(204).end();
}

beforeAll(async () => {
  localDynamoDb = await startLocalDynamoDb({ controlTable: TABLE_NAME, maxAttempts: 1 });
  dynamoDb = localDynamoDb.client;
  workerServer = createServer((request, response) => {
    answerInvoke(request, response).catch((error: unknown) => response.writeHead(500).end(String(error)));
  });
  invoker = new LambdaWorkerInvoker(createLambdaClient(localClientOptions(await listen(workerServer), 1)));
});

afterAll(async () => {
  invoker?.destroy();
  if (workerServer) await close(workerServer);
  await localDynamoDb?.close();
});

const round = (state: unknown): Promise<ControllerOutput> => {
  const deadlineMs = clock.peek() + 2_500;
  return runRound(
    { state, executionId: 'exec-1' },
    {
      table: new ControlTable(dynamoDb, TABLE_NAME),
      invoker,
      defaultTarget: 'worker',
      clock,
      log: silentLogger,
      timing: TIMING,
    },
    () => deadlineMs,
  );
};

describe('runRound on ControlTable and LambdaWorkerInvoker', () => {
  const pollerId = 'adapters';
  let first: ControllerOutput;

  beforeAll(async () => {
    await dynamoDb.send(
      new PutItemCommand({
        TableName: TABLE_NAME,
        Item: {
          [FIELD.id]: { S: pollerId },
          [FIELD.running]: { BOOL: true },
          [FIELD.waitSeconds]: { N: '0.1' },
        },
      }),
    );
    first = await round({ pollerId });
  });

  it('fires a fresh round on the grid, each invoke arriving when due, and records it on the item', async () => {
    // assess
    const scheduled = received.map(({ event }) => Date.parse(event.scheduledAt));
    expect(received.length).toBeGreaterThanOrEqual(5);
    expect(received.map(({ event }) => event.seq)).toEqual(received.map((_, i) => i + 1));
    expect(received.map(({ receivedAt }) => receivedAt)).toEqual(scheduled);
    const item = await dynamoDb.send(
      new GetItemCommand({
        TableName: TABLE_NAME,
        Key: { [FIELD.id]: { S: pollerId } },
        ConsistentRead: true,
      }),
    );
    expect(item.Item?.[FIELD.seq]).toEqual({ N: String(received.length) });
    expect(item.Item?.[FIELD.generation]).toEqual({ N: String(first.loop.generation) });
  });

  it('continues the loop in the next round with no gap', async () => {
    // prepare
    const firedBefore = received.length;

    // act
    const second = await round(first);

    // assess
    expect(received.length).toBeGreaterThan(firedBefore);
    expect(received.map(({ event }) => event.seq)).toEqual(received.map((_, i) => i + 1));
    expect(second.loop.nextSeq).toBe(received.length + 1);
  });
});
