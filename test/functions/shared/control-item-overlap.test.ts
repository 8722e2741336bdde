import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { FIELD, type PollerConfig } from '../../../functions/shared/contract';
import {
  decodePollerItem,
  parseOverlapField,
  type RawItem,
  readConfig,
} from '../../../functions/shared/control-item';
import { InvalidControlItemError } from '../../../functions/shared/errors';

const POLLER_ID = 'orders';

const item = (fields: RawItem = {}): RawItem => ({
  [FIELD.id]: { S: POLLER_ID },
  [FIELD.running]: { BOOL: true },
  [FIELD.waitSeconds]: { N: '1' },
  ...fields,
});

describe('parseOverlapField', () => {
  it.each<[string, AttributeValue | undefined]>([
    ['absent', undefined],
    ['NULL', { NULL: true }],
    ['allow', { S: 'allow' }],
  ])('reads %s as allow, carried as nothing', (_, value) => {
    expect(parseOverlapField(POLLER_ID, value)).toBeUndefined();
  });

  it('reads skip', () => {
    expect(parseOverlapField(POLLER_ID, { S: 'skip' })).toBe('skip');
  });

  it.each<[AttributeValue, string]>([
    [{ S: 'sometimes' }, 'S "sometimes"'],
    [{ N: '1' }, 'N "1"'],
    [{ S: 'Skip' }, 'S "Skip"'],
  ])('refuses %j, naming the poller, the field and the value', (value, shown) => {
    // act
    const problem = parseOverlapField(POLLER_ID, value);

    // assess
    expect(problem).toBeInstanceOf(InvalidControlItemError);
    const message = problem instanceof Error ? problem.message : '';
    expect(message).toContain(POLLER_ID);
    expect(message).toContain(FIELD.overlap);
    expect(message).toContain(shown);
    expect(message).toContain('allow, skip');
  });
});

describe('readConfig: overlap', () => {
  it('puts skip in the configuration and leaves allow out of it', () => {
    expect(readConfig(POLLER_ID, item({ [FIELD.overlap]: { S: 'skip' } })).config?.overlap).toBe('skip');
    expect(readConfig(POLLER_ID, item({ [FIELD.overlap]: { S: 'allow' } })).config).not.toHaveProperty(
      'overlap',
    );
  });

  it('keeps the last valid policy when the new one is bad, with a problem naming the value', () => {
    // prepare
    const previous: PollerConfig = { running: true, intervalMs: 1_000, overlap: 'skip' };

    // act
    const { config, problems } = readConfig(
      POLLER_ID,
      item({ [FIELD.overlap]: { S: 'sometimes' } }),
      previous,
    );

    // assess
    expect(config?.overlap).toBe('skip');
    expect(problems.map((problem) => problem.field)).toEqual([FIELD.overlap]);
    expect(problems[0]?.message).toContain('S "sometimes"');
  });

  it.each([
    [{ S: 'Skip' }, 'S "Skip"'],
    [{ N: '2' }, 'N "2"'],
  ])(
    'does not start a new loop on a bad policy %j (running it as allow could overlap fires)',
    (value, shown) => {
      // act
      const { config, problems } = readConfig(POLLER_ID, item({ [FIELD.overlap]: value }));

      // assess
      expect(config).toBeUndefined();
      expect(problems.map((problem) => problem.field)).toEqual([FIELD.overlap]);
      expect(problems[0]?.message).toContain(shown);
    },
  );
});

describe('decodePollerItem: overlap counters', () => {
  it('reads overlapSkips, lastFinishedSeq and lastFireMs; a hand-edited value counts as absent', () => {
    // act
    const decoded = decodePollerItem(
      POLLER_ID,
      item({
        [FIELD.overlapSkips]: { N: '4' },
        [FIELD.lastFinishedSeq]: { N: '9' },
        [FIELD.lastFireMs]: { S: 'fast' },
      }),
    );

    // assess
    expect(decoded.overlapSkips).toBe(4);
    expect(decoded.lastFinishedSeq).toBe(9);
    expect(decoded.lastFireMs).toBeUndefined();
    expect(decoded.systemProblems.map((problem) => problem.field)).toEqual([FIELD.lastFireMs]);
  });
});
