import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD } from '../../../functions/shared/contract';
import { decodeFailedDelivery } from '../../../scripts/ctl/failed-delivery';
import {
  LOCAL_CONTROLLER_NAME,
  LOCAL_FAILED_TICKS_QUEUE_NAME,
} from '../../../scripts/local-stack/local-endpoints';
import type { InvocationStart } from '../../../scripts/local-stack/local-functions';
import type { StreamEvent } from '../../../scripts/local-stack/stream-records';
import { localRuleArn, type ScheduledEvent } from '../../../scripts/local-stack/watchdog-schedule';
import { executionsOf, sleep, waitUntil } from '../../support/fault-probes';
import { type Harness, startHarness } from '../../support/local-stack-harness';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The control plane's invocations with a stream batch, and the poller ids of their records. */
const streamBatches = (starts: readonly InvocationStart[]) =>
  starts
    .filter((start) => start.functionName === LOCAL_CONTROLLER_NAME && isObject(start.event))
    .map((start) => start.event as Partial<StreamEvent>)
    .filter((event) => Array.isArray(event.Records));
const pollersOf = (batch: Partial<StreamEvent>) =>
  (batch.Records ?? []).map((record) => record.dynamodb.Keys[FIELD.id]?.S);

const scheduledEvents = (starts: readonly InvocationStart[]) =>
  starts
    .filter((start) => start.functionName === LOCAL_CONTROLLER_NAME && isObject(start.event))
    .map((start) => start.event as Partial<ScheduledEvent>)
    .filter((event) => event.source === 'aws.events');

/**
 * The local stack reaches the deployed entry point (the control plane function, in its sandbox) as AWS does: table
 * changes as DynamoDB Streams batches through the mapping's filters, the watchdog as an EventBridge Scheduled Event.
 */
describe('the local stack invokes the control plane for stream starts and the watchdog', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  async function startObserved(options: Parameters<typeof startHarness>[0] = {}) {
    const starts: InvocationStart[] = [];
    harness = await startHarness({
      everySeconds: 1,
      ...options,
      onInvocationStart: (start) => starts.push(start),
    });
    return { harness, starts };
  }

  const createRunning = (stack: Harness['stack'], pollerId: string, running = true) =>
    stack.dynamoDb.send(
      new PutItemCommand({
        TableName: stack.tableName,
        Item: {
          [FIELD.id]: { S: pollerId },
          [FIELD.running]: { BOOL: running },
          [FIELD.waitSeconds]: { N: '1' },
        },
      }),
    );

  it('starts an item created with running=true through the control plane, with a stream record as Lambda delivers it', async () => {
    // prepare
    const { harness, starts } = await startObserved();
    const { stack } = harness;

    // act
    await createRunning(stack, 'created');
    await harness.waitForFires(1, 8_000, 'created');

    // assess
    const batches = streamBatches(starts);
    expect(batches.map(pollersOf)).toEqual([['created']]);
    const [record] = batches[0]?.Records ?? [];
    expect(record).toMatchObject({
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      awsRegion: stack.region,
      eventSourceARN: expect.stringMatching(
        new RegExp(`^arn:aws:dynamodb:${stack.region}:\\d{12}:table/${stack.tableName}/stream/`),
      ),
      dynamodb: {
        Keys: { [FIELD.id]: { S: 'created' } },
        NewImage: { [FIELD.running]: { BOOL: true } },
        SequenceNumber: expect.stringMatching(/^\d+$/),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    expect(record?.dynamodb.OldImage).toBeUndefined();
    expect(starts.find((start) => start.event === batches[0])?.invocationType).toBe('RequestResponse');
    expect(executionsOf(stack, 'created').map((execution) => execution.name)).toEqual([
      expect.stringMatching(/^created-g1-[0-9a-z]+$/),
    ]);
  });

  it("routes a stream batch the same way when the functions run in the stack's process", async () => {
    // prepare
    const { harness, starts } = await startObserved({ sandbox: 'in-process' });

    // act
    await createRunning(harness.stack, 'in-process');
    await harness.waitForFires(1, 8_000, 'in-process');

    // assess
    expect(streamBatches(starts).map(pollersOf)).toEqual([['in-process']]);
    expect(executionsOf(harness.stack, 'in-process')).toHaveLength(1);
  });

  it('invokes nothing for changes the filters drop', async () => {
    // prepare
    const { harness, starts } = await startObserved();
    const { stack } = harness;
    await harness.waitForFires(1, 5_000);

    // act: a cadence change of a running loop, an item created stopped, then one the filters pass (a marker that
    // proves the feed saw the others before it)
    await harness.setFields({ [FIELD.waitSeconds]: { N: '2' } });
    await createRunning(stack, 'created-stopped', false);
    await sleep(1_000);
    await createRunning(stack, 'marker');
    await waitUntil(() => streamBatches(starts).length > 0, 5_000, 'the marker to reach the control plane');
    await sleep(500);

    // assess
    expect(streamBatches(starts).map(pollersOf)).toEqual([['marker']]);
    expect(executionsOf(stack, 'created-stopped')).toEqual([]);
    expect(executionsOf(stack, DEFAULT_POLLER_ID)).toHaveLength(1);
  });

  it('restarts a stale loop from the watchdog tick, which invokes the control plane with a Scheduled Event', async () => {
    // prepare
    const { harness, starts } = await startObserved({ watchdogIntervalMs: 1_000 });
    const { stack } = harness;
    await harness.waitForFires(2, 5_000);
    const [execution] = executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING');
    if (!execution) throw new Error('no running execution');

    // act: the loop's execution ends behind its back and its heartbeat is old (the stale threshold is ≥ 90 s)
    stack.stepFunctions.stopExecution(execution.executionArn);
    await harness.setFields({ [FIELD.heartbeatAt]: { S: new Date(Date.now() - 5 * 60_000).toISOString() } });
    await waitUntil(
      () => executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING').length === 1,
      6_000,
      'the watchdog to start a new loop',
    );

    // assess
    const [event] = scheduledEvents(starts);
    expect(event).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: expect.stringMatching(/^\d{12}$/),
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      region: stack.region,
      resources: [localRuleArn(stack.region)],
      detail: {},
    });
    const item = await harness.readItem();
    expect(item?.[FIELD.restarts]?.N).toBe('1');
    expect(item?.[FIELD.lastRestartReason]?.S).toContain('watchdog');
    expect(
      executionsOf(stack, DEFAULT_POLLER_ID, 'RUNNING').map((running) =>
        running.name.replace(/-[0-9a-z]+$/, ''),
      ),
    ).toEqual([`${DEFAULT_POLLER_ID}-g2`]);
  });

  it('retries a start Step Functions refused and reports each record that still fails', async () => {
    // prepare: every StartExecution is refused
    const { harness, starts } = await startObserved();
    const { stack } = harness;
    stack.services.injectFault = (service, target) =>
      service === 'stepfunctions' && target === 'StartExecution'
        ? { status: 400, errorType: 'ThrottlingException', message: 'Rate exceeded' }
        : undefined;

    // act
    await createRunning(stack, 'refused-a');
    await createRunning(stack, 'refused-b');
    const failures = ['refused-a', 'refused-b'].map((pollerId) =>
      harness.waitFor(
        (event) =>
          event.event === 'error' && event.poller === pollerId && event.message.includes('stream record'),
        20_000,
      ),
    );
    const reported = await Promise.all(failures);

    // assess: each record went to the control plane once and then three times more (STREAM_START.retryAttempts)
    const deliveries = (pollerId: string) =>
      streamBatches(starts).filter((batch) => pollersOf(batch).includes(pollerId)).length;
    expect(deliveries('refused-a')).toBe(4);
    expect(deliveries('refused-b')).toBe(4);
    for (const event of reported) {
      expect(event).toMatchObject({
        message: expect.stringMatching(
          /^could not start the loop: stream record \d+ \(INSERT\) failed: the function reported failed records .* \(after 3 retries\)$/,
        ),
      });
    }
    expect(executionsOf(stack, 'refused-a')).toEqual([]);
    // and, as the mapping's on-failure destination, the failed-ticks queue says where each given-up batch was
    const queued = stack.services.queues
      .receive(LOCAL_FAILED_TICKS_QUEUE_NAME, 10, 0)
      .map((message) => decodeFailedDelivery(message.body));
    const sequenceNumbers = reported.map((event) =>
      BigInt(/stream record (\d+)/.exec('message' in event ? event.message : '')?.[1] ?? '-1'),
    );
    expect(queued.length).toBeGreaterThanOrEqual(1);
    for (const sequenceNumber of sequenceNumbers) {
      expect(
        queued.some(
          (batch) =>
            batch.kind === 'stream-batch' &&
            batch.condition === 'RetryAttemptsExhausted' &&
            BigInt(batch.startSequenceNumber) <= sequenceNumber &&
            sequenceNumber <= BigInt(batch.endSequenceNumber),
        ),
      ).toBe(true);
    }
  });

  it('starts the loop on the retry when Step Functions refused the first attempt only', async () => {
    // prepare: the control plane's first invocation (its SDK tries StartExecution twice) is refused
    const { harness, starts } = await startObserved();
    const { stack } = harness;
    let refusals = 0;
    stack.services.injectFault = (service, target) =>
      service === 'stepfunctions' && target === 'StartExecution' && ++refusals <= 2
        ? { status: 500, errorType: 'ServiceUnavailable', message: 'injected' }
        : undefined;

    // act
    await createRunning(stack, 'second-try');
    await harness.waitForFires(2, 10_000, 'second-try');

    // assess
    expect(streamBatches(starts).map(pollersOf)).toEqual([['second-try'], ['second-try']]);
    expect(executionsOf(stack, 'second-try')).toHaveLength(1);
    expect(harness.events.filter((event) => event.event === 'error')).toEqual([]);
  });
});
