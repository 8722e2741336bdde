import { describe, expect, it } from 'vitest';
import {
  encodeLoopState,
  parseControllerInput,
  startsOtherPollers,
} from '../../../functions/controller/parse-input';
import {
  CONTROLLER_MAX_RETRIES,
  DEFAULT_HISTORY_BUDGET,
  HISTORY_EVENTS_PER_ROUND,
} from '../../../functions/scheduling/history-budget';
import { DEFAULT_POLLER_ID } from '../../../functions/shared/contract';
import {
  ControlTableUnavailableError,
  describeCause,
  InvalidControllerInputError,
} from '../../../functions/shared/errors';

const EXECUTION_ID = 'arn:aws:states:eu-west-1:123456789012:execution:Poller:run-1';

const validLoop = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  nextSeq: 12,
  anchorAt: Date.parse('2030-01-01T00:00:00.250Z'),
  anchorSeq: 1,
  generation: 2,
  claimedThroughSeq: 40,
  config: { running: true, intervalMs: 2_000, target: 'my-worker', payload: { url: 'http://127.0.0.1:1/' } },
  executionId: EXECUTION_ID,
  historyEvents: 99,
  historyBudget: 5_000,
  skippedTicks: 3,
  ...overrides,
});

const envelope = (state: unknown) => ({ state, executionId: EXECUTION_ID });

function parseError(event: unknown): InvalidControllerInputError {
  try {
    parseControllerInput(event);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidControllerInputError);
    return error as InvalidControllerInputError;
  }
  throw new Error(`expected parseControllerInput to throw for ${JSON.stringify(event)}`);
}

describe('parseControllerInput: defaults', () => {
  it.each([
    { label: 'no input at all', event: undefined },
    { label: 'null', event: null },
    { label: 'an empty object', event: {} },
  ])('starts the default poller from $label', ({ event }) => {
    // act
    const parsed = parseControllerInput(event);

    // assess
    expect(parsed).toEqual({
      pollerId: DEFAULT_POLLER_ID,
      pollerNamed: false,
      executionId: 'direct-invoke',
      loop: undefined,
      historyBudget: DEFAULT_HISTORY_BUDGET,
      generation: undefined,
      previousFailure: undefined,
      previousRoundFailed: false,
      failuresSinceMs: undefined,
      retryCount: 0,
      handOverFailed: false,
      handOverJustFailed: false,
    });
  });

  it('reads the poller id and execution id from the Step Functions envelope', () => {
    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders.v2_eu-1' }));

    // assess
    expect(parsed.pollerId).toBe('orders.v2_eu-1');
    expect(parsed.executionId).toBe(EXECUTION_ID);
    expect(parsed.loop).toBeUndefined();
  });

  it('accepts a direct invoke without the envelope', () => {
    // act
    const parsed = parseControllerInput({ pollerId: 'orders' });

    // assess
    expect(parsed.pollerId).toBe('orders');
    expect(parsed.executionId).toBe('direct-invoke');
  });

  it('passes a well-formed loop through unchanged', () => {
    // prepare
    const loop = validLoop();

    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', loop }));

    // assess
    expect(parsed.loop).toEqual(loop);
  });
});

describe('parseControllerInput: pollerId', () => {
  it.each([
    { label: 'a number', pollerId: 42, rendered: '42' },
    { label: 'empty', pollerId: '', rendered: '""' },
    { label: 'with spaces', pollerId: 'my poller', rendered: '"my poller"' },
    { label: 'longer than 64 characters', pollerId: 'p'.repeat(65), rendered: `"${'p'.repeat(65)}"` },
    { label: 'with a slash', pollerId: 'a/b', rendered: '"a/b"' },
  ])('rejects a pollerId that is $label, naming the value', ({ pollerId, rendered }) => {
    // act
    const error = parseError(envelope({ pollerId }));

    // assess
    expect(error.name).toBe('InvalidControllerInputError');
    expect(error.value).toBe(rendered);
    expect(error.message).toContain('pollerId');
    expect(error.message).toContain(`got ${rendered}`);
  });
});

describe('parseControllerInput: loop', () => {
  it.each([
    { label: 'not an object', loop: 'abc', detail: 'loop must be an object' },
    { label: 'a negative nextSeq', loop: validLoop({ nextSeq: -1 }), detail: 'loop.nextSeq' },
    { label: 'a fractional anchorSeq', loop: validLoop({ anchorSeq: 1.5 }), detail: 'loop.anchorSeq' },
    {
      label: 'a missing claimedThroughSeq',
      loop: validLoop({ claimedThroughSeq: undefined }),
      detail: 'loop.claimedThroughSeq',
    },
    {
      label: 'a negative claimedThroughSeq',
      loop: validLoop({ claimedThroughSeq: -1 }),
      detail: 'loop.claimedThroughSeq',
    },
    {
      label: 'a string claimedThroughSeq',
      loop: validLoop({ claimedThroughSeq: '40' }),
      detail: 'loop.claimedThroughSeq',
    },
    { label: 'a missing generation', loop: validLoop({ generation: undefined }), detail: 'loop.generation' },
    { label: 'a zero generation', loop: validLoop({ generation: 0 }), detail: 'loop.generation' },
    {
      label: 'a string historyEvents',
      loop: validLoop({ historyEvents: '9' }),
      detail: 'loop.historyEvents',
    },
    {
      label: 'a missing skippedTicks',
      loop: validLoop({ skippedTicks: undefined }),
      detail: 'loop.skippedTicks',
    },
    {
      label: 'an ISO anchorAt',
      loop: validLoop({ anchorAt: '2030-01-01T00:00:00Z' }),
      detail: 'loop.anchorAt',
    },
    { label: 'a tiny historyBudget', loop: validLoop({ historyBudget: 1 }), detail: 'loop.historyBudget' },
    { label: 'a numeric executionId', loop: validLoop({ executionId: 7 }), detail: 'loop.executionId' },
    { label: 'no config', loop: validLoop({ config: undefined }), detail: 'loop.config must be an object' },
    {
      label: 'a string running',
      loop: validLoop({ config: { running: 'true', intervalMs: 2_000 } }),
      detail: 'loop.config.running',
    },
    {
      label: 'an interval below 100 ms',
      loop: validLoop({ config: { running: true, intervalMs: 99 } }),
      detail: 'loop.config.intervalMs',
    },
    {
      label: 'an interval above an hour',
      loop: validLoop({ config: { running: true, intervalMs: 3_600_001 } }),
      detail: 'loop.config.intervalMs',
    },
    {
      label: 'a numeric target',
      loop: validLoop({ config: { running: true, intervalMs: 2_000, target: 5 } }),
      detail: 'loop.config.target',
    },
    {
      label: 'an array payload',
      loop: validLoop({ config: { running: true, intervalMs: 2_000, payload: [] } }),
      detail: 'loop.config.payload',
    },
  ])('rejects a loop with $label, naming the field', ({ loop, detail }) => {
    // act
    const error = parseError(envelope({ pollerId: 'orders', loop }));

    // assess
    expect(error.pollerId).toBe('orders');
    expect(error.message).toContain(`poller 'orders'`);
    expect(error.message).toContain(detail);
  });

  it('accepts a loop ticking every 100 ms, the shortest interval', () => {
    // prepare
    const loop = validLoop({ config: { running: true, intervalMs: 100 } });

    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', loop }));

    // assess
    expect(parsed.loop?.config.intervalMs).toBe(100);
  });

  it('carries the claim of a loop through', () => {
    // act
    const parsed = parseControllerInput(
      envelope({ pollerId: 'orders', loop: validLoop({ claimedThroughSeq: 0 }) }),
    );

    // assess
    expect(parsed.loop?.claimedThroughSeq).toBe(0);
  });

  it('treats a null loop as a fresh start', () => {
    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', loop: null }));

    // assess
    expect(parsed.loop).toBeUndefined();
  });
});

describe('parseControllerInput: generation', () => {
  it('takes the generation a fresh start is given', () => {
    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', generation: 7 }));

    // assess
    expect(parsed.generation).toBe(7);
  });

  it.each([0, -1, 1.5, '3'])('rejects a fresh-start generation of %j', (generation) => {
    // act
    const error = parseError(envelope({ pollerId: 'orders', generation }));

    // assess
    expect(error.message).toContain('generation must be a whole number ≥ 1');
    expect(error.value).toBe(JSON.stringify(generation));
  });
});

describe('parseControllerInput: historyBudget', () => {
  const min = 2 * HISTORY_EVENTS_PER_ROUND;
  const max = 23_000;

  it.each([min, 500, max])('accepts a historyBudget of %i on a fresh start', (historyBudget) => {
    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', historyBudget }));

    // assess
    expect(parsed.historyBudget).toBe(historyBudget);
  });

  it.each([min - 1, max + 1, 100.5, '500', 0])('rejects a historyBudget of %j', (historyBudget) => {
    // act
    const error = parseError(envelope({ pollerId: 'orders', historyBudget }));

    // assess
    expect(error.message).toContain(`historyBudget must be a whole number from ${min} to ${max}`);
    expect(error.value).toBe(JSON.stringify(historyBudget));
  });

  it("keeps the loop's own budget once a loop is running", () => {
    // act
    const parsed = parseControllerInput(
      envelope({ pollerId: 'orders', historyBudget: 500, loop: validLoop() }),
    );

    // assess
    expect(parsed.historyBudget).toBe(5_000);
  });
});

describe('parseControllerInput: failures', () => {
  it('turns a Catch output with a Lambda JSON Cause into a readable previousFailure', () => {
    // prepare
    const errorMessage = "poller 'orders': cannot read control table 'ctl': ThrottlingException: slow down";
    const lastFailure = {
      Error: 'ControlTableUnavailableError',
      Cause: JSON.stringify({
        errorType: 'ControlTableUnavailableError',
        errorMessage,
        trace: ['at x (y.js:1:1)'],
      }),
    };

    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', loop: validLoop(), lastFailure }));

    // assess
    expect(parsed.previousFailure).toBe(
      `previous controller attempt failed: ControlTableUnavailableError: ${errorMessage}`,
    );
    expect(parsed.previousRoundFailed).toBe(true);
    expect(parsed.loop?.nextSeq).toBe(12);
  });

  it('keeps a plain-text Cause as it is', () => {
    // prepare
    const lastFailure = { Error: 'States.Timeout', Cause: 'Task timed out after 90 seconds' };

    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', lastFailure }));

    // assess
    expect(parsed.previousFailure).toBe(
      'previous controller attempt failed: States.Timeout: Task timed out after 90 seconds',
    );
    expect(parsed.previousRoundFailed).toBe(true);
  });

  it('cuts a very long Cause short', () => {
    // prepare
    const lastFailure = { Error: 'Boom', Cause: 'z'.repeat(5_000) };

    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', lastFailure }));

    // assess
    expect(parsed.previousFailure).toBe(`previous controller attempt failed: Boom: ${'z'.repeat(300)}`);
  });

  it('reports a failed hand-over without marking the round as failed', () => {
    // prepare
    const handOverFailure = {
      Error: 'StepFunctions.ExecutionLimitExceededException',
      Cause: 'Maximum number of running executions reached',
    };

    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', loop: validLoop(), handOverFailure }));

    // assess
    expect(parsed.previousFailure).toBe(
      'hand-over to a fresh execution failed: StepFunctions.ExecutionLimitExceededException: Maximum number of running executions reached',
    );
    expect(parsed.previousRoundFailed).toBe(false);
  });

  it('knows a hand-over just failed when the hand-over request is the latest caught attempt', () => {
    // prepare: the signal's Catch writes lastFailure, then the HandOver's Catch writes handOverFailure.
    const state = {
      pollerId: 'orders',
      loop: validLoop(),
      lastFailure: { Error: 'HandOverRequested', Cause: '{"errorMessage":"history budget spent"}' },
      handOverFailure: { Error: 'StepFunctions.ExecutionLimitExceededException', Cause: 'too many' },
    };

    // act
    const parsed = parseControllerInput(envelope(state));

    // assess: the request is not reported as a failure; the failed hand-over is.
    expect(parsed.handOverJustFailed).toBe(true);
    expect(parsed.handOverFailed).toBe(true);
    expect(parsed.previousFailure).toBe(
      'hand-over to a fresh execution failed: StepFunctions.ExecutionLimitExceededException: too many',
    );
  });

  it('may ask for a hand-over again once a round attempt failed after the failed hand-over', () => {
    // prepare: that attempt's Catch overwrote lastFailure; handOverFailure stays in the state.
    const state = {
      pollerId: 'orders',
      loop: validLoop(),
      lastFailure: { Error: 'ControlTableUnavailableError', Cause: 'unreachable' },
      handOverFailure: { Error: 'StepFunctions.ExecutionLimitExceededException', Cause: 'too many' },
    };

    // act
    const parsed = parseControllerInput(envelope(state));

    // assess
    expect(parsed.handOverJustFailed).toBe(false);
    expect(parsed.handOverFailed).toBe(true);
    expect(parsed.previousRoundFailed).toBe(true);
  });

  it('carries errors the previous round could not record into previousFailure', () => {
    // prepare
    const pendingErrors = ['firing tick 7 failed', 'waitseconds must be a number'];

    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', loop: validLoop(), pendingErrors }));

    // assess
    expect(parsed.previousFailure).toBe('firing tick 7 failed; waitseconds must be a number');
    expect(parsed.previousRoundFailed).toBe(false);
  });

  it('keeps at most five carried errors of at most 500 characters each, ignoring non-strings', () => {
    // prepare
    const pendingErrors = [42, 'x'.repeat(600), 'b', 'c', 'd', 'e', 'f'];

    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', pendingErrors }));

    // assess
    expect(parsed.previousFailure).toBe(`${'x'.repeat(500)}; b; c; d`);
  });

  it('says an outage once when the carried error is the failure the Catch reports', () => {
    // prepare: a round that fired could not read the table and carried the error; the next attempt failed on it.
    const cause = new ControlTableUnavailableError(
      'default',
      'SubMinuteLambdaExecutor-local-control',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:44861'), { code: 'ECONNREFUSED' }),
    );
    const state = {
      pollerId: 'default',
      lastFailure: {
        Error: cause.name,
        Cause: JSON.stringify({ errorType: cause.name, errorMessage: cause.message }),
      },
      pendingErrors: [describeCause(cause)],
    };

    // act
    const parsed = parseControllerInput(envelope(state));

    // assess
    expect(parsed.previousFailure).toBe(`previous controller attempt failed: ${describeCause(cause)}`);
  });

  it('tells a repeat by the whole text, not the part it shows', () => {
    // prepare: a Cause longer than the 300 characters shown, carried whole as well
    const message = `Boom: ${'y'.repeat(400)}`;
    const state = {
      pollerId: 'orders',
      lastFailure: { Error: 'Boom', Cause: message },
      pendingErrors: [message],
    };

    // act
    const parsed = parseControllerInput(envelope(state));

    // assess
    expect(parsed.previousFailure).toBe(`previous controller attempt failed: Boom: ${'y'.repeat(300)}`);
  });

  it('says a carried error repeated in the carried list once', () => {
    // act
    const parsed = parseControllerInput(
      envelope({ pollerId: 'orders', pendingErrors: ['tick 7 failed', 'tick 7 failed', 'waitseconds bad'] }),
    );

    // assess
    expect(parsed.previousFailure).toBe('tick 7 failed; waitseconds bad');
  });

  it('reports both failures when both are present', () => {
    // prepare
    const state = {
      pollerId: 'orders',
      lastFailure: { Error: 'A', Cause: 'first' },
      handOverFailure: { Error: 'B', Cause: 'second' },
    };

    // act
    const parsed = parseControllerInput(envelope(state));

    // assess
    expect(parsed.previousFailure).toBe(
      'previous controller attempt failed: A: first; hand-over to a fresh execution failed: B: second',
    );
    expect(parsed.previousRoundFailed).toBe(true);
  });
});

describe('parseControllerInput: the path to this round (for the history budget)', () => {
  const startedAt = '2030-01-01T00:00:00.000Z';
  const wakeAt = '2030-01-01T00:10:00Z';
  const stepFunctionsEnvelope = (state: unknown, extra: Record<string, unknown> = {}) => ({
    state,
    executionId: EXECUTION_ID,
    executionStartTime: startedAt,
    retryCount: 0,
    ...extra,
  });

  it('reads $$.State.RetryCount as the retried attempts of this round', () => {
    // act
    const parsed = parseControllerInput(stepFunctionsEnvelope({ pollerId: 'orders' }, { retryCount: 3 }));

    // assess
    expect(parsed.retryCount).toBe(3);
  });

  it.each([
    { label: 'a string', retryCount: '3' },
    { label: 'a negative number', retryCount: -1 },
    { label: 'a fraction', retryCount: 1.5 },
  ])('takes a RetryCount that is $label as the most retries there can be', ({ retryCount }) => {
    // act
    const parsed = parseControllerInput(stepFunctionsEnvelope({ pollerId: 'orders' }, { retryCount }));

    // assess
    expect(parsed.retryCount).toBe(CONTROLLER_MAX_RETRIES);
  });

  it("counts failed rounds from the previous round's wakeAt, which the Catch leaves in the state", () => {
    // act
    const parsed = parseControllerInput(
      stepFunctionsEnvelope({ pollerId: 'orders', loop: validLoop(), wakeAt, lastFailure: { Error: 'A' } }),
    );

    // assess
    expect(parsed.failuresSinceMs).toBe(Date.parse(wakeAt));
  });

  it('counts failed rounds from the execution start when no round of this execution succeeded yet', () => {
    // act
    const parsed = parseControllerInput(
      stepFunctionsEnvelope({ pollerId: 'orders', loop: validLoop(), lastFailure: { Error: 'A' } }),
    );

    // assess
    expect(parsed.failuresSinceMs).toBe(Date.parse(startedAt));
  });

  it('ignores a wakeAt from before the execution started (it cannot belong to this execution)', () => {
    // act
    const parsed = parseControllerInput(
      stepFunctionsEnvelope({
        pollerId: 'orders',
        wakeAt: '2029-12-31T23:00:00Z',
        lastFailure: { Error: 'A' },
      }),
    );

    // assess
    expect(parsed.failuresSinceMs).toBe(Date.parse(startedAt));
  });

  it('has no reference time when neither is a timestamp (a direct invoke)', () => {
    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', wakeAt: 'soon', lastFailure: 'x' }));

    // assess
    expect(parsed.failuresSinceMs).toBeUndefined();
    expect(parsed.retryCount).toBe(0);
  });
});

describe('parseControllerInput: overlap policy in the loop state', () => {
  it('carries overlap skip through a round trip', () => {
    // prepare
    const loop = validLoop({ config: { running: true, intervalMs: 1_000, overlap: 'skip' } });

    // act
    const parsed = parseControllerInput(envelope({ pollerId: 'orders', loop }));
    const again = parseControllerInput(
      envelope({ pollerId: 'orders', loop: encodeLoopState(parsed.loop ?? fail()) }),
    );

    // assess
    expect(parsed.loop?.config.overlap).toBe('skip');
    expect(again.loop).toEqual(parsed.loop);
  });

  it.each(['allow', 'sometimes', 1])(
    'refuses overlap %j in the loop state (only skip is carried)',
    (overlap) => {
      // act
      const error = parseError(
        envelope({
          pollerId: 'orders',
          loop: validLoop({ config: { running: true, intervalMs: 1_000, overlap } }),
        }),
      );

      // assess
      expect(error.message).toContain('config.overlap');
    },
  );
});

describe('startsOtherPollers: only the first invocation of an execution whose input names no poller', () => {
  const ROUND_OUTPUT = { pollerId: DEFAULT_POLLER_ID, wakeAt: '2030-01-01T00:00:10Z', loop: validLoop() };
  const CAUGHT = { Error: 'Lambda.Unknown', Cause: 'boom' };

  it.each([
    { label: 'the console default {}', state: {} },
    { label: 'an input with other fields only', state: { comment: 'start everything' } },
    { label: 'a null pollerId', state: { pollerId: null } },
  ])('starts the others on the first round of $label', ({ state }) => {
    // act
    const parsed = parseControllerInput({ ...envelope(state), retryCount: 0 });

    // assess
    expect(parsed.pollerId).toBe(DEFAULT_POLLER_ID);
    expect(startsOtherPollers(parsed)).toBe(true);
  });

  it.each([
    { label: 'an input naming default', event: envelope({ pollerId: DEFAULT_POLLER_ID }) },
    { label: "a start rule's input", event: envelope({ pollerId: 'orders', generation: 3 }) },
    { label: 'a later round (the previous output)', event: envelope(ROUND_OUTPUT) },
    {
      label: "a hand-over's input",
      event: envelope({
        pollerId: DEFAULT_POLLER_ID,
        loop: validLoop(),
        AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: 'x',
      }),
    },
    { label: 'a retried first attempt', event: { ...envelope({}), retryCount: 1 } },
    { label: 'a round after the first one failed', event: envelope({ lastFailure: CAUGHT }) },
    {
      label: 'a round after a failed hand-over',
      event: envelope({ handOverFailure: CAUGHT }),
    },
  ])('does not on $label', ({ event }) => {
    // act
    const parsed = parseControllerInput(event);

    // assess
    expect(startsOtherPollers(parsed)).toBe(false);
  });
});

function fail(): never {
  throw new Error('expected a loop');
}
