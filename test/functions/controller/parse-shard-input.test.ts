import { describe, expect, it } from 'vitest';
import { namesShard, parseShardInput } from '../../../functions/controller/parse-shard-input';
import { DEFAULT_HISTORY_BUDGET } from '../../../functions/scheduling/history-budget';
import { InvalidControllerInputError } from '../../../functions/shared/errors';

const LOOP = {
  shard: 's2',
  epoch: 3,
  executionId: 'arn:exec:1',
  historyEvents: 70,
  historyBudget: 5_000,
  handedBackAtMs: 1_900_000_000_000,
};

describe('parseShardInput', () => {
  it("reads a fresh shard execution's input", () => {
    // act
    const input = parseShardInput({
      state: { pollerId: '~shard/s2' },
      executionId: 'arn:exec:1',
      retryCount: 0,
    });

    // assess
    expect(input).toMatchObject({
      shard: 's2',
      shardKey: '~shard/s2',
      executionId: 'arn:exec:1',
      loop: undefined,
      historyBudget: DEFAULT_HISTORY_BUDGET,
      retryCount: 0,
      previousRoundFailed: false,
      handOverFailed: false,
    });
  });

  it("reads a later round's state: the loop, its budget, and the path to the round", () => {
    // act
    const input = parseShardInput({
      state: {
        pollerId: '~shard/s2',
        wakeAt: '2030-01-01T00:00:00Z',
        loop: LOOP,
        lastFailure: { Error: 'X' },
      },
      executionId: 'arn:exec:1',
      retryCount: 2,
    });

    // assess
    expect(input.loop).toEqual(LOOP);
    expect(input.historyBudget).toBe(5_000);
    expect(input).toMatchObject({ retryCount: 2, previousRoundFailed: true });
  });

  it.each([
    ['a poller id', { pollerId: 'orders' }, /pollerId must name a shard/],
    ['no pollerId', {}, /pollerId must name a shard/],
    ['a bad shard name', { pollerId: '~shard/x1' }, /pollerId must name a shard/],
    ['a loop of another shard', { pollerId: '~shard/s1', loop: LOOP }, /loop\.shard must be "s1"/],
    [
      'epoch 0',
      { pollerId: '~shard/s2', loop: { ...LOOP, epoch: 0 } },
      /loop\.epoch must be a whole number from 1/,
    ],
    [
      'a fractional hand-back',
      { pollerId: '~shard/s2', loop: { ...LOOP, handedBackAtMs: 1.5 } },
      /handedBackAtMs/,
    ],
    ['no executionId', { pollerId: '~shard/s2', loop: { ...LOOP, executionId: 7 } }, /loop\.executionId/],
    ['a budget out of range', { pollerId: '~shard/s2', historyBudget: 1 }, /historyBudget must be/],
  ])('refuses %s, naming the field and the value', (_, state, message) => {
    // act
    const parsing = () => parseShardInput({ state, executionId: 'arn:exec:1' });

    // assess
    expect(parsing).toThrow(InvalidControllerInputError);
    expect(parsing).toThrow(message);
  });

  it('tells a shard input from a poller input', () => {
    expect(namesShard({ state: { pollerId: '~shard/s0' } })).toBe(true);
    expect(namesShard({ pollerId: '~shard/s0' })).toBe(true);
    expect(namesShard({ state: { pollerId: 'orders' } })).toBe(false);
    expect(namesShard({})).toBe(false);
  });
});
