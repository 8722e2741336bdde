import { describe, expect, it } from 'vitest';
import { SIGNAL } from '../../../functions/shared/contract';
import {
  ControlItemWriteError,
  ControlTableUnavailableError,
  describeCause,
  HandOverRequestedSignal,
  InvalidControlItemError,
  InvalidControllerInputError,
  InvalidIntervalError,
  InvalidSeedEventError,
  InvalidSeedPropertyError,
  InvalidWorkerEventError,
  joinProblems,
  LoopStartError,
  MissingEnvironmentError,
  PollerStoppedSignal,
  ResponseNotDeliveredError,
  SubMinuteError,
  UnexpectedInvokeStatusError,
  WorkerInvokeError,
} from '../../../functions/shared/errors';
import { CONTROLLER_RETRY } from '../../../infra/state-machine/poller-definition';

const SDK_ERROR = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

describe('the error module', () => {
  it.each([
    {
      error: new InvalidControlItemError('orders', 'waitseconds', 'S "5"', 'must be N'),
      name: 'InvalidControlItemError',
      pollerId: 'orders',
      value: 'S "5"',
    },
    {
      error: new PollerStoppedSignal('orders', 'running is false'),
      name: SIGNAL.stopped,
      pollerId: 'orders',
      value: undefined,
    },
    {
      error: new HandOverRequestedSignal('orders', 24_000, 24_000),
      name: SIGNAL.handOver,
      pollerId: 'orders',
      value: 24_000,
    },
    {
      error: new InvalidControllerInputError('orders', 'bad', 7),
      name: 'InvalidControllerInputError',
      pollerId: 'orders',
      value: '7',
    },
    {
      error: new ControlTableUnavailableError('orders', 'table', SDK_ERROR),
      name: 'ControlTableUnavailableError',
      pollerId: 'orders',
      value: undefined,
    },
    {
      error: new WorkerInvokeError('orders', 'worker', 3, SDK_ERROR),
      name: 'WorkerInvokeError',
      pollerId: 'orders',
      value: undefined,
    },
    {
      error: new UnexpectedInvokeStatusError('orders', 200),
      name: 'UnexpectedInvokeStatusError',
      pollerId: 'orders',
      value: 200,
    },
    {
      error: new InvalidIntervalError('abc', { min: 0.1, max: 3600 }),
      name: 'InvalidIntervalError',
      pollerId: undefined,
      value: 'abc',
    },
    {
      error: new MissingEnvironmentError('CONTROL_TABLE_NAME'),
      name: 'MissingEnvironmentError',
      pollerId: undefined,
      value: 'CONTROL_TABLE_NAME',
    },
    {
      error: new LoopStartError('orders', SDK_ERROR),
      name: 'LoopStartError',
      pollerId: 'orders',
      value: undefined,
    },
    {
      error: new InvalidWorkerEventError('seq must be a whole number', '4', 'orders'),
      name: 'InvalidWorkerEventError',
      pollerId: 'orders',
      value: '4',
    },
    {
      error: new InvalidSeedEventError('RequestType must be Create, Update or Delete', 'X'),
      name: 'InvalidSeedEventError',
      pollerId: undefined,
      value: 'X',
    },
    {
      error: new InvalidSeedPropertyError('Running', 'yes', 'must be true or false', 'orders'),
      name: 'InvalidSeedPropertyError',
      pollerId: 'orders',
      value: '"yes"',
    },
    {
      error: new ControlItemWriteError('orders', 'table', SDK_ERROR),
      name: 'ControlItemWriteError',
      pollerId: 'orders',
      value: undefined,
    },
    {
      error: new ResponseNotDeliveredError('the response URL answered HTTP 403'),
      name: 'ResponseNotDeliveredError',
      pollerId: undefined,
      value: undefined,
    },
  ])(
    '$name extends SubMinuteError, with its stable name, the poller and the offending value',
    ({ error, name, pollerId, value }) => {
      expect(error).toBeInstanceOf(SubMinuteError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(name);
      expect(error.pollerId).toBe(pollerId);
      expect(error.value).toEqual(value);
    },
  );

  it('keeps the cause of a wrapped AWS error, and says what it was', () => {
    // act
    const error = new ControlTableUnavailableError('orders', 'table', SDK_ERROR);

    // assess
    expect(error.cause).toBe(SDK_ERROR);
    expect(error.message).toBe(
      "poller 'orders': cannot read control table 'table': ThrottlingException: Rate exceeded",
    );
  });

  it('sets no cause when there is none', () => {
    expect(Object.hasOwn(new PollerStoppedSignal('orders', 'superseded'), 'cause')).toBe(false);
  });

  it('gives the signals the names the state machine catches, with the reason alone as the message', () => {
    expect(new PollerStoppedSignal('orders', 'running is false').message).toBe('running is false');
    expect(new HandOverRequestedSignal('orders', 24_000, 24_000).name).toBe('HandOverRequested');
  });

  it("has an error for every name of the controller's Retry that is not the Lambda service's", () => {
    // prepare
    const ours = CONTROLLER_RETRY.ErrorEquals.filter((name) => !name.startsWith('Lambda.'));

    // assess
    expect(ours).toEqual([new ControlTableUnavailableError('orders', 'table', SDK_ERROR).name]);
  });
});

describe('describeCause', () => {
  it.each([
    { label: 'an SDK error', cause: SDK_ERROR, text: 'ThrottlingException: Rate exceeded' },
    { label: 'a plain Error', cause: new Error('boom'), text: 'boom' },
    {
      label: 'a network error named by its code',
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' }),
      text: 'connect ECONNREFUSED 127.0.0.1:8000',
    },
    {
      label: 'an error without a message',
      cause: Object.assign(new Error(''), { code: 'ETIMEDOUT' }),
      text: 'ETIMEDOUT',
    },
    {
      label: 'an AggregateError of the addresses tried',
      cause: new AggregateError(
        [Object.assign(new Error('connect ECONNREFUSED ::1:8000'), { code: 'ECONNREFUSED' })],
        '',
      ),
      text: 'connect ECONNREFUSED ::1:8000',
    },
    {
      label: 'one of ours',
      cause: new LoopStartError('orders', SDK_ERROR),
      text: "LoopStartError: poller 'orders': starting its loop failed: ThrottlingException: Rate exceeded",
    },
    { label: 'a string', cause: 'recording the stop failed', text: 'recording the stop failed' },
  ])('describes $label', ({ cause, text }) => {
    expect(describeCause(cause)).toBe(text);
  });
});

describe('joinProblems', () => {
  const outage =
    "ControlTableUnavailableError: poller 'default': cannot read control table 'ctl': connect ECONNREFUSED";

  it.each([
    { label: 'distinct problems, in order', messages: ['a failed', 'b failed'], text: 'a failed; b failed' },
    { label: 'the same problem twice, once', messages: [outage, outage], text: outage },
    {
      label: 'a problem another one wraps as its cause, once',
      messages: [outage, `previous controller attempt failed: ${outage}`],
      text: `previous controller attempt failed: ${outage}`,
    },
    {
      label: 'the wrapped one first, the bare cause after it: once',
      messages: [`previous controller attempt failed: ${outage}`, outage],
      text: `previous controller attempt failed: ${outage}`,
    },
    {
      label: 'a short problem that another merely contains in its words: both',
      messages: ['timeout', 'worker 7 reported timeout twice'],
      text: 'timeout; worker 7 reported timeout twice',
    },
    { label: 'nothing for empty messages', messages: ['', ''], text: '' },
  ])('joins $label', ({ messages, text }) => {
    expect(joinProblems(messages)).toBe(text);
  });
});
