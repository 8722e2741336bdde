import { describe, expect, it } from 'vitest';
import { InvalidWorkerEventError } from '../../../functions/shared/errors';
import { idempotencyKeyOf, parseWorkerEvent } from '../../../functions/worker-kit/tick-event';

const tickEvent = (overrides: Record<string, unknown> = {}) => ({
  pollerId: 'orders',
  seq: 42,
  scheduledAt: new Date().toISOString(),
  ...overrides,
});

describe('parseWorkerEvent', () => {
  it.each([
    { label: 'not an object', event: 'tick', message: 'expected an object; got "tick"' },
    { label: 'null', event: null, message: 'expected an object; got null' },
    {
      label: 'missing pollerId',
      event: tickEvent({ pollerId: undefined }),
      message: 'pollerId must be a string; got undefined',
    },
    {
      label: 'empty pollerId',
      event: tickEvent({ pollerId: '' }),
      message: 'pollerId must be a string; got ""',
    },
    { label: 'string seq', event: tickEvent({ seq: '42' }), message: 'seq must be a whole number; got "42"' },
    {
      label: 'fractional seq',
      event: tickEvent({ seq: 4.2 }),
      message: 'seq must be a whole number; got 4.2',
    },
    {
      label: 'unparseable scheduledAt',
      event: tickEvent({ scheduledAt: 'soon' }),
      message: 'scheduledAt must be an ISO timestamp; got "soon"',
    },
    {
      label: 'numeric scheduledAt',
      event: tickEvent({ scheduledAt: 1_700_000_000_000 }),
      message: 'scheduledAt must be an ISO timestamp; got 1700000000000',
    },
    {
      label: 'array payload',
      event: tickEvent({ payload: ['x'] }),
      message: 'payload must be an object; got ["x"]',
    },
    {
      label: 'null payload',
      event: tickEvent({ payload: null }),
      message: 'payload must be an object; got null',
    },
  ])('rejects an event with $label, saying what was wrong and what it got', ({ event, message }) => {
    // act
    const parse = () => parseWorkerEvent(event);

    // assess
    expect(parse).toThrow(InvalidWorkerEventError);
    expect(parse).toThrow(`invalid worker event: ${message}`);
  });

  it('accepts a well-formed event with a payload', () => {
    // prepare
    const event = tickEvent({ scheduledAt: '2030-01-01T00:00:02.250Z', payload: { url: 'http://x', n: 1 } });

    // act
    const tick = parseWorkerEvent(event);

    // assess
    expect(tick).toEqual({
      pollerId: 'orders',
      seq: 42,
      scheduledAt: '2030-01-01T00:00:02.250Z',
      payload: { url: 'http://x', n: 1 },
    });
  });
});

describe('idempotencyKeyOf', () => {
  it('is pollerId#seq: the same for every delivery of one tick, different for another tick or poller', () => {
    expect(idempotencyKeyOf({ pollerId: 'orders', seq: 42 })).toBe('orders#42');
    expect(idempotencyKeyOf({ pollerId: 'orders', seq: 43 })).not.toBe(
      idempotencyKeyOf({ pollerId: 'orders', seq: 42 }),
    );
    expect(idempotencyKeyOf({ pollerId: 'other', seq: 42 })).not.toBe(
      idempotencyKeyOf({ pollerId: 'orders', seq: 42 }),
    );
  });
});

describe('a ctl trigger fire', () => {
  it('keeps its request id and has a key of its own, never a scheduled tick’s', () => {
    const tick = parseWorkerEvent(tickEvent({ seq: -1, trigger: 'op-1' }));

    expect(tick).toMatchObject({ seq: -1, trigger: 'op-1' });
    expect(idempotencyKeyOf(tick)).toBe('orders#trigger-op-1');
    expect(idempotencyKeyOf(parseWorkerEvent(tickEvent({ seq: 1 })))).toBe('orders#1');
  });

  it.each([[''], [42], [null]])(
    'refuses a trigger that is not a request id (%j), carrying the poller and the value',
    (trigger) => {
      const parsing = () => parseWorkerEvent(tickEvent({ trigger }));

      expect(parsing).toThrow(InvalidWorkerEventError);
      expect(parsing).toThrow(`trigger must be a request id; got ${JSON.stringify(trigger)}`);
      expect(parsing).toThrow(expect.objectContaining({ pollerId: 'orders', value: trigger }));
    },
  );
});
