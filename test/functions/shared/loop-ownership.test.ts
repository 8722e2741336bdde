import { describe, expect, it } from 'vitest';
import { FIELD, STOP_REASON } from '../../../functions/shared/contract';
import { decodePollerItem, type RawItem } from '../../../functions/shared/control-item';
import {
  decideStart,
  executionArnFor,
  executionNameOf,
  isStartExecutionName,
  judgeLoop,
  STALE_FLOOR_MS,
  startExecutionName,
} from '../../../functions/shared/loop-ownership';

/** The view every caller gets from the table. */
const view = (item: RawItem) => decodePollerItem('feed', item);

const NOW = Date.parse('2030-01-01T12:00:00.000Z');
const HEARTBEAT = new Date(NOW - 5_000).toISOString();

const running: RawItem = {
  [FIELD.id]: { S: 'feed' },
  [FIELD.running]: { BOOL: true },
  [FIELD.waitSeconds]: { N: '2' },
};
const live: RawItem = {
  ...running,
  [FIELD.generation]: { N: '7' },
  [FIELD.heartbeatAt]: { S: HEARTBEAT },
  [FIELD.executionArn]: { S: 'arn:aws:states:us-east-1:1:execution:loop:feed-g7-abc' },
};

describe('judgeLoop', () => {
  it('calls a loop alive while its heartbeat is fresh and it recorded no stop', () => {
    expect(judgeLoop(view(live), NOW)).toEqual({
      alive: true,
      generation: 7,
      executionArn: 'arn:aws:states:us-east-1:1:execution:loop:feed-g7-abc',
      heartbeatAgeMs: 5_000,
    });
  });

  it('calls a loop dead once it recorded a stop, whatever its heartbeat', () => {
    const stopped = { ...live, [FIELD.stoppedReason]: { S: STOP_REASON.runningFalse } };
    expect(judgeLoop(view(stopped), NOW)).toEqual({
      alive: false,
      why: `the loop stopped: ${STOP_REASON.runningFalse}`,
    });
  });

  it('calls a loop dead when its heartbeat is older than the floor, and no loop at all without a generation', () => {
    const stale = { ...live, [FIELD.heartbeatAt]: { S: new Date(NOW - STALE_FLOOR_MS - 1).toISOString() } };
    expect(judgeLoop(view(stale), NOW).alive).toBe(false);
    expect(judgeLoop(view(running), NOW)).toEqual({ alive: false, why: 'no loop was ever started' });
  });
});

describe('decideStart', () => {
  it('takes the next generation when no loop is alive, expecting the item as read', () => {
    const stale = { ...live, [FIELD.heartbeatAt]: { S: new Date(NOW - STALE_FLOOR_MS - 1).toISOString() } };
    expect(decideStart(view(stale), NOW)).toMatchObject({
      kind: 'take',
      generation: 8,
      expected: { generation: 7, heartbeatAt: stale[FIELD.heartbeatAt]?.S },
    });
    expect(decideStart(view(running), NOW)).toMatchObject({
      kind: 'take',
      generation: 1,
      expected: { generation: undefined, heartbeatAt: undefined },
    });
  });

  it('leaves a live loop alone', () => {
    expect(decideStart(view(live), NOW)).toEqual({
      kind: 'alive',
      generation: 7,
      executionArn: live[FIELD.executionArn]?.S,
    });
  });

  it('takes over a live-looking loop whose execution is known to have ended', () => {
    const ended = live[FIELD.executionArn]?.S;
    expect(decideStart(view(live), NOW, ended)).toMatchObject({ kind: 'take', generation: 8 });
    expect(decideStart(view(live), NOW, 'arn:other')).toMatchObject({ kind: 'alive' });
  });

  it('starts nothing for a missing item, running=false, or no valid configuration, and says which', () => {
    expect(decideStart(undefined, NOW)).toMatchObject({
      kind: 'skip',
      reason: STOP_REASON.itemMissing,
    });
    const off = { ...live, [FIELD.running]: { BOOL: false } };
    expect(decideStart(view(off), NOW)).toMatchObject({ kind: 'skip', reason: STOP_REASON.runningFalse });
    const broken = { ...running, [FIELD.waitSeconds]: { S: 'abc' } };
    const decision = decideStart(view(broken), NOW);
    expect(decision.kind).toBe('skip');
    expect(decision.kind === 'skip' && decision.problems).toEqual([
      `poller 'feed': waitseconds must be a number (N) of seconds from 0.1 to 3600, decimals allowed; got S "abc"`,
    ]);
  });
});

describe('the generation a start reads', () => {
  it('reads whole positive generations and ignores anything else', () => {
    expect(view(live).generation).toBe(7);
    expect(view({ [FIELD.generation]: { N: '2.5' } }).generation).toBeUndefined();
    expect(view({ [FIELD.generation]: { N: 'NaN' } }).generation).toBeUndefined();
    expect(view({ [FIELD.generation]: { S: '3' } }).generation).toBeUndefined();
    expect(view({ [FIELD.generation]: { N: '0' } }).generation).toBeUndefined();
  });
});

describe('startExecutionName', () => {
  it('names the poller, the generation and the start time, so no name repeats when a generation does', () => {
    expect(startExecutionName('feed', 3, NOW)).toBe(`feed-g3-${NOW.toString(36)}`);
    expect(startExecutionName('feed', 1, NOW)).not.toBe(startExecutionName('feed', 1, NOW + 1));
  });

  it('stays within the 80 characters Step Functions allows for the longest poller ids', () => {
    const longest = 'p'.repeat(64);
    const name = startExecutionName(longest, 123_456_789, NOW);
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name.endsWith(`-g123456789-${NOW.toString(36)}`)).toBe(true);
  });

  it('recognises its own names, the longest ones (cut short) included, and nothing else', () => {
    const longest = 'p'.repeat(64);
    expect(isStartExecutionName(startExecutionName('feed', 3, NOW), 'feed', 3)).toBe(true);
    expect(isStartExecutionName(startExecutionName(longest, 123_456_789, NOW), longest, 123_456_789)).toBe(
      true,
    );
    expect(isStartExecutionName(startExecutionName('feed', 3, NOW), 'feed', 4)).toBe(false);
    expect(isStartExecutionName(startExecutionName('feed', 3, NOW), 'other', 3)).toBe(false);
    expect(isStartExecutionName('a113ba7d-4240-4958-9781-349ea4611f54', 'feed', 3)).toBe(false);
  });

  it('round-trips through the execution ARN Step Functions gives it', () => {
    const arn = executionArnFor('arn:aws:states:eu-west-1:123456789012:stateMachine:S-loop', 'feed-g3-x');
    expect(arn).toBe('arn:aws:states:eu-west-1:123456789012:execution:S-loop:feed-g3-x');
    expect(executionNameOf(arn)).toBe('feed-g3-x');
  });
});
