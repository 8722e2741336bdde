import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { encodeLoopState } from '../../../functions/controller/parse-input';
import { FIELD, type LoopState } from '../../../functions/shared/contract';
import { decodePollerItem } from '../../../functions/shared/control-item';

/** The fleet's system fields on a poller item, decoded by the one item decoder. */
const LOOP: LoopState = {
  nextSeq: 12,
  anchorAt: 1_900_000_000_000,
  anchorSeq: 10,
  claimedThroughSeq: 11,
  generation: 2,
  config: { running: true, intervalMs: 500, target: undefined, payload: undefined },
  executionId: 'arn:exec',
  historyEvents: 0,
  historyBudget: 20_000,
  skippedTicks: 0,
};

const fieldsOf = (fields: Record<string, AttributeValue>) => {
  const item = decodePollerItem('p', { [FIELD.id]: { S: 'p' }, ...fields });
  const { shard, moveTo, movedAt, shardLoop, shardEpoch } = item;
  return {
    shard,
    moveTo,
    movedAt,
    shardLoop,
    shardEpoch,
    problems: item.systemProblems,
    typed: item.typedFields,
  };
};

describe('decodePollerItem: the fleet fields', () => {
  it('reads what the fleet writes', () => {
    // act
    const fields = fieldsOf({
      [FIELD.shard]: { S: 's1' },
      [FIELD.moveTo]: { S: 's12' },
      [FIELD.movedAt]: { N: '1900000000500' },
      [FIELD.shardLoop]: { S: JSON.stringify(encodeLoopState(LOOP)) },
      [FIELD.shardEpoch]: { N: '3' },
    });

    // assess
    expect(fields).toEqual({
      typed: new Set([FIELD.shard, FIELD.moveTo, FIELD.movedAt, FIELD.shardLoop, FIELD.shardEpoch]),
      shard: 's1',
      moveTo: 's12',
      movedAt: 1_900_000_000_500,
      shardLoop: LOOP,
      shardEpoch: 3,
      problems: [],
    });
  });

  it('reads absent fields as absent, with no problem', () => {
    expect(fieldsOf({})).toEqual({
      typed: new Set(),
      shard: undefined,
      moveTo: undefined,
      movedAt: undefined,
      shardLoop: undefined,
      shardEpoch: undefined,
      problems: [],
    });
  });

  it.each([
    [FIELD.shard, { S: 'shard-1' }, 'S "shard-1"'],
    [FIELD.moveTo, { N: '1' }, 'N "1"'],
    [FIELD.movedAt, { N: '-5' }, 'N "-5"'],
    [FIELD.shardEpoch, { N: '0' }, 'N "0"'],
    [FIELD.shardLoop, { S: 'not json' }, 'not JSON'],
    [FIELD.shardLoop, { S: JSON.stringify({ ...encodeLoopState(LOOP), nextSeq: -1 }) }, 'loop.nextSeq'],
  ])('reads a hand-edited %s as absent, naming the field and the value', (field, value, named) => {
    // act
    const fields = fieldsOf({ [field]: value });

    // assess
    expect(fields[field as keyof typeof fields]).toBeUndefined();
    expect(fields.problems.map((problem) => problem.field)).toEqual([field]);
    expect(fields.problems[0]?.message).toContain(named);
    expect(fields.problems[0]?.pollerId).toBe('p');
  });
});
