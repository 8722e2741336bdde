import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTROL_PLANE_MAX_ATTEMPTS,
  CONTROL_PLANE_TIMEOUTS,
  createDynamoDbClient,
  createLambdaClient,
  localClientOptions,
} from '../../../functions/shared/aws-clients';

/** The control plane's worst case for one call: every attempt waits out the connection and the request limits. */
const WORST_CASE_MS =
  CONTROL_PLANE_MAX_ATTEMPTS * (CONTROL_PLANE_TIMEOUTS.connectionMs + CONTROL_PLANE_TIMEOUTS.requestMs);

describe("the control plane's clients against an endpoint that accepts and never answers", () => {
  let stuck: Server;
  let endpoint: string;
  let requests = 0;
  beforeAll(async () => {
    // A stuck socket: the request arrives, no response ever leaves.
    stuck = createServer(() => {
      requests += 1;
    });
    await new Promise<void>((resolve) => stuck.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(stuck.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    stuck.closeAllConnections();
    await new Promise<void>((resolve) => stuck.close(() => resolve()));
  });

  const options = () => ({
    ...localClientOptions(endpoint),
    timeouts: CONTROL_PLANE_TIMEOUTS,
    maxAttempts: CONTROL_PLANE_MAX_ATTEMPTS,
  });

  it('gives up a GetItem within the hand-back margin (5 s), after its attempts', async () => {
    const client = createDynamoDbClient(options());
    const before = requests;
    const startedAt = Date.now();

    const outcome = await client
      .send(new GetItemCommand({ TableName: 't', Key: { id: { S: 'p' } }, ConsistentRead: true }))
      .catch((error: unknown) => error);
    const tookMs = Date.now() - startedAt;
    client.destroy();

    expect(outcome).toBeInstanceOf(Error);
    expect(requests - before).toBe(CONTROL_PLANE_MAX_ATTEMPTS);
    expect(tookMs).toBeGreaterThanOrEqual(CONTROL_PLANE_TIMEOUTS.requestMs);
    expect(tookMs).toBeLessThan(WORST_CASE_MS + 1_000);
    expect(WORST_CASE_MS + 1_000).toBeLessThanOrEqual(5_000);
  }, 10_000);

  it('gives up an async Invoke the same way', async () => {
    const client = createLambdaClient(options());
    const startedAt = Date.now();

    const outcome = await client
      .send(new InvokeCommand({ FunctionName: 'worker', InvocationType: 'Event', Payload: new Uint8Array() }))
      .catch((error: unknown) => error);
    client.destroy();

    expect(outcome).toBeInstanceOf(Error);
    expect(Date.now() - startedAt).toBeLessThan(WORST_CASE_MS + 1_000);
  }, 10_000);
});

describe('createDynamoDbClient', () => {
  it('has no SDK logger step (it copied every input and output through their schemas for a logger that drops them)', () => {
    // act
    const steps = createDynamoDbClient().middlewareStack.identify();

    // assess: the step is gone by the name the SDK gives it, and the stack is still the SDK's
    expect(steps.some((step) => step.startsWith('loggerMiddleware'))).toBe(false);
    expect(steps.some((step) => step.startsWith('retryMiddleware'))).toBe(true);
    expect(
      new DynamoDBClient({}).middlewareStack.identify().some((step) => step.startsWith('loggerMiddleware')),
    ).toBe(true);
  });
});
