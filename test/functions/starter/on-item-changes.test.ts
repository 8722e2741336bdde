import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { silentLogger } from '../../../functions/shared/logger';
import { shouldStart, startLoopsForChanges } from '../../../functions/starter/on-item-changes';
import { executionsOf, starterDepsFor } from '../../support/fault-probes';
import { type Harness, startHarness } from '../../support/local-stack-harness';

const withRunning = (running: boolean | undefined) => ({
  [FIELD.id]: { S: 'orders' },
  [FIELD.generation]: { N: '2' },
  ...(running === undefined ? {} : { [FIELD.running]: { BOOL: running } }),
});

describe('shouldStart', () => {
  it('starts a loop for an item created with running=true', () => {
    expect(shouldStart(undefined, withRunning(true))).toBe(true);
  });

  it('starts a loop when running flips from false to true', () => {
    expect(shouldStart(withRunning(false), withRunning(true))).toBe(true);
  });

  it('starts a loop when running appears as true on an item that had none', () => {
    expect(shouldStart(withRunning(undefined), withRunning(true))).toBe(true);
  });

  it('does nothing for changes that keep running=true on an item with a loop (the controller writing its progress)', () => {
    expect(shouldStart(withRunning(true), withRunning(true))).toBe(false);
  });

  it('starts on any change of a running item that never had a loop (its configuration may just have been fixed)', () => {
    const { [FIELD.generation]: _, ...neverStarted } = withRunning(true);
    expect(shouldStart(neverStarted, neverStarted)).toBe(true);
  });

  it('starts on any change of a running item whose loop recorded a stop', () => {
    const stopped = { ...withRunning(true), [FIELD.stoppedReason]: { S: 'control item invalid' } };
    expect(shouldStart(stopped, stopped)).toBe(true);
  });

  it('does nothing for a stop, a removal or a running flag that is not a boolean', () => {
    expect(shouldStart(withRunning(true), withRunning(false))).toBe(false);
    expect(shouldStart(withRunning(true), undefined)).toBe(false);
    expect(
      shouldStart(withRunning(false), { ...withRunning(undefined), [FIELD.running]: { S: 'true' } }),
    ).toBe(false);
  });
});

describe('startLoopsForChanges', () => {
  let harness: Harness;
  let deps: ReturnType<typeof starterDepsFor>;

  /** A stream record of `pollerId`'s running turning true, as DynamoDB Streams delivers it (NEW_AND_OLD_IMAGES). */
  const runningTurnedOn = (pollerId: string, sequenceNumber: string, newImageGeneration?: number) => ({
    eventID: `event-${sequenceNumber}`,
    eventName: 'MODIFY',
    eventSource: 'aws:dynamodb',
    dynamodb: {
      Keys: { [FIELD.id]: { S: pollerId } },
      OldImage: { [FIELD.id]: { S: pollerId }, [FIELD.running]: { BOOL: false } },
      NewImage: {
        [FIELD.id]: { S: pollerId },
        [FIELD.running]: { BOOL: true },
        ...(newImageGeneration === undefined
          ? {}
          : { [FIELD.generation]: { N: String(newImageGeneration) } }),
      },
      SequenceNumber: sequenceNumber,
    },
  });

  /** A running poller; with a generation, its loop is alive (a heartbeat just now) unless `stopped` says why not. */
  const runningPoller = (pollerId: string, generation?: number, stopped?: string) =>
    harness.setFields(
      {
        [FIELD.running]: { BOOL: true },
        [FIELD.waitSeconds]: { N: '60' },
        ...(generation === undefined
          ? {}
          : {
              [FIELD.generation]: { N: String(generation) },
              [FIELD.heartbeatAt]: { S: new Date().toISOString() },
            }),
        ...(stopped === undefined ? {} : { [FIELD.stoppedReason]: { S: stopped } }),
      },
      pollerId,
    );

  beforeAll(async () => {
    harness = await startHarness({ startLoops: false });
    deps = starterDepsFor(harness.stack);
  });

  afterEach(() => {
    harness.stack.services.injectFault = () => undefined;
  });

  afterAll(async () => {
    deps.sfn.destroy();
    await harness.stack.stop();
  });

  it('names a record whose start failed by its dynamodb.SequenceNumber, not its eventID', async () => {
    // prepare
    await runningPoller('refused');
    harness.stack.services.injectFault = (service, target) =>
      service === 'stepfunctions' && target === 'StartExecution'
        ? { status: 400, errorType: 'ThrottlingException', message: 'Rate exceeded' }
        : undefined;
    const record = runningTurnedOn('refused', '4421584500000000017450439091');

    // act
    const response = await startLoopsForChanges([record], deps, silentLogger);

    // assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '4421584500000000017450439091' }] });
  });

  it('reports only the records that failed, and starts the others', async () => {
    // prepare: Step Functions takes the first start and refuses every later one
    await runningPoller('fine');
    await runningPoller('refused-too');
    let starts = 0;
    harness.stack.services.injectFault = (service, target) =>
      service === 'stepfunctions' && target === 'StartExecution' && ++starts > 1
        ? { status: 500, errorType: 'ServiceUnavailable', message: 'injected' }
        : undefined;
    const records = [runningTurnedOn('fine', '100'), runningTurnedOn('refused-too', '200')];

    // act
    const response = await startLoopsForChanges(records, deps, silentLogger);

    // assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '200' }]);
    expect(executionsOf(harness.stack, 'fine').map((execution) => execution.name)).toEqual([
      expect.stringMatching(/^fine-g1-[0-9a-z]+$/),
    ]);
  });

  it('names a failed record without a sequence number by an empty identifier: Lambda retries the whole batch', async () => {
    // prepare
    await runningPoller('unnamed');
    harness.stack.services.injectFault = (service) =>
      service === 'stepfunctions'
        ? { status: 500, errorType: 'ServiceException', message: 'injected' }
        : undefined;
    const { SequenceNumber: _dropped, ...withoutSequence } = runningTurnedOn('unnamed', '1').dynamodb;

    // act
    const response = await startLoopsForChanges(
      [{ eventID: 'e-1', dynamodb: withoutSequence }],
      deps,
      silentLogger,
    );

    // assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '' }]);
  });

  it("starts nothing for a fleet shard item's change, whatever its image holds", async () => {
    // act
    const response = await startLoopsForChanges([runningTurnedOn('~shard/s0', '250')], deps, silentLogger);

    // assess
    expect(response.batchItemFailures).toEqual([]);
    expect(executionsOf(harness.stack, '~shard/s0')).toEqual([]);
  });

  it('starts a loop for a change no start has served yet', async () => {
    // prepare: generation 3's loop stopped
    await runningPoller('fresh', 3, 'control item invalid');

    // act
    const response = await startLoopsForChanges([runningTurnedOn('fresh', '300', 3)], deps, silentLogger);

    // assess
    expect(response.batchItemFailures).toEqual([]);
    expect(executionsOf(harness.stack, 'fresh').map((execution) => execution.name)).toEqual([
      expect.stringMatching(/^fresh-g4-[0-9a-z]+$/),
    ]);
  });

  it('does not restart a loop for a replayed change that a later start already served (TRIM_HORIZON)', async () => {
    // prepare: the item is at generation 5 with a live loop, the replayed record was written at generation 4
    await runningPoller('replayed', 5);

    // act
    const response = await startLoopsForChanges([runningTurnedOn('replayed', '400', 4)], deps, silentLogger);

    // assess
    expect(response.batchItemFailures).toEqual([]);
    expect(executionsOf(harness.stack, 'replayed')).toEqual([]);
  });
});
