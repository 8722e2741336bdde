import { describe, expect, it } from 'vitest';
import { SHARD_INDEX_PROJECTION } from '../../../functions/fleet/shard-store';
import { classifyWrite, InvocationSpans, namesOf } from '../../../scripts/bench/shard-meter';

const index = { key: 'shard', projected: new Set<string>(SHARD_INDEX_PROJECTION) };

describe('classifyWrite: index writes the local table does not report', () => {
  it('counts one index write for an update naming a projected attribute (a claim)', () => {
    const claim = {
      UpdateExpression: 'SET #claimedSeq = :c, #heartbeatAt = :h',
      ExpressionAttributeNames: { '#claimedSeq': 'claimedSeq', '#heartbeatAt': 'heartbeatAt' },
    };
    expect(classifyWrite('UpdateItem', claim, index)).toEqual({ indexWrites: 1, outcomeRecord: false });
  });

  it('counts none for an update of attributes the index does not project (a lease renewal)', () => {
    const renew = {
      UpdateExpression: 'SET leaseUntil = :u',
      ExpressionAttributeNames: {},
    };
    expect(classifyWrite('UpdateItem', renew, index)).toEqual({ indexWrites: 0, outcomeRecord: false });
  });

  it("names the worker kit's outcome record, which writes nothing the index projects", () => {
    const outcome = {
      UpdateExpression: 'SET #result = :result, #recent = list_append(if_not_exists(#recent, :none), :entry)',
      ExpressionAttributeNames: {
        '#result': 'lastResult',
        '#recent': 'recentResults',
        '#claimed': 'claimedSeq',
      },
    };
    expect(classifyWrite('UpdateItem', outcome, index)).toEqual({ indexWrites: 0, outcomeRecord: true });
  });

  it('counts two for setting the index key (a move: delete and put), one for removing it', () => {
    const move = {
      UpdateExpression: 'SET #s = :s REMOVE #m',
      ExpressionAttributeNames: { '#s': 'shard', '#m': 'moveTo' },
    };
    expect(classifyWrite('UpdateItem', move, index).indexWrites).toBe(2);
    const unplace = { UpdateExpression: 'REMOVE #s', ExpressionAttributeNames: { '#s': 'shard' } };
    expect(classifyWrite('UpdateItem', unplace, index).indexWrites).toBe(1);
  });

  it('counts a put by whether its item carries the key; a delete as one; reads and bodies that are not JSON as none', () => {
    expect(
      classifyWrite('PutItem', { Item: { id: { S: 'p' }, shard: { S: 's0' } } }, index).indexWrites,
    ).toBe(1);
    expect(classifyWrite('PutItem', { Item: { id: { S: 'p' } } }, index).indexWrites).toBe(0);
    expect(classifyWrite('DeleteItem', { Key: { id: { S: 'p' } } }, index).indexWrites).toBe(1);
    expect(classifyWrite('Query', { IndexName: 'shard-index' }, index).indexWrites).toBe(0);
    expect(classifyWrite('UpdateItem', undefined, index).indexWrites).toBe(0);
  });
});

describe('namesOf', () => {
  it('resolves placeholders and leaves out values, keywords, functions and list indexes', () => {
    expect(
      namesOf('SET #a = if_not_exists(#a, :zero) + :one, plain = :p REMOVE #b[0]', {
        '#a': 'seq',
        '#b': 'windows',
      }),
    ).toEqual(['seq', 'seq', 'plain', 'windows']);
  });
});

describe('InvocationSpans: the controller awake inside the window', () => {
  const window = { startMs: 10_000, endMs: 70_000 };

  it('bills only the part of an invocation inside the window, and one still running up to its end', () => {
    const spans = new InvocationSpans();
    spans.started(0);
    spans.ended(20_000, 20_000); // 10 s inside
    spans.started(20_000); // still running: 50 s inside
    spans.started(65_000);
    spans.ended(66_000, 1_000); // 1 s inside
    expect(spans.awakeMsWithin(window)).toBe(10_000 + 50_000 + 1_000);
    expect(spans.startsWithin(window)).toBe(2);
  });

  it('matches an end to the start nearest end − duration, so concurrent shards stay apart', () => {
    const spans = new InvocationSpans();
    spans.started(12_000);
    spans.started(30_000);
    spans.ended(40_000, 10_000); // the one started at 30 s
    // Open: the one started at 12 s, to the window's end (58 s); closed: 10 s.
    expect(spans.awakeMsWithin(window)).toBe(58_000 + 10_000);
  });
});
