import { describe, expect, it } from 'vitest';
import { PRICES_USD } from '../../../functions/scheduling/cost-model';
import {
  ANCHORS,
  type AnchorId,
  cheapestStepFunctionsAnchor,
  usdPerDay,
  usdPerTick,
  ZERO_COUNTS,
} from '../../../scripts/bench/anchors-cost';

const anchor = (id: AnchorId) => {
  const found = ANCHORS.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no anchor ${id}`);
  return found;
};

describe('usdPerTick', () => {
  it('prices each unit with the one price table', () => {
    const counts = {
      ...ZERO_COUNTS,
      stateTransitions: 2,
      lambdaRequests: 1,
      readUnits: 1,
      writeUnits: 1,
      sqsRequests: 3,
    };
    expect(usdPerTick(counts)).toBeCloseTo(
      2 * PRICES_USD.stateTransition +
        PRICES_USD.lambdaRequest +
        PRICES_USD.dynamoDbReadUnit +
        PRICES_USD.dynamoDbWriteUnit +
        3 * PRICES_USD.sqsRequest,
      15,
    );
  });
});

describe('anchor designs, by hand at 1 s', () => {
  it('(a) a Standard round per tick: 3 transitions, a request, 100 ms at 128 MB arm64, 1 RCU', () => {
    // 3 × 0.000025 + 0.0000002 + 0.1 s × 0.125 GB × 0.0000133334 + 0.000000125
    const perTick = 0.000075 + 0.0000002 + 0.1 * 0.125 * 0.0000133334 + 0.000000125;
    expect(usdPerDay(anchor('a').perTick(1) ?? ZERO_COUNTS, 1)).toBeCloseTo(perTick * 86_400, 9);
  });

  it('(b) always awake at 128 MB x86_64 with a 3-transition round every 840 s', () => {
    const perDay =
      86_400 * 0.125 * 0.0000166667 + (86_400 / 840) * (3 * 0.000025 + 0.0000002) + 86_400 * 0.000000125;
    expect(usdPerDay(anchor('b').perTick(1) ?? ZERO_COUNTS, 1)).toBeCloseTo(perDay, 9);
  });

  it('(c) Map loop: 2 transitions per item plus the Map state once a minute', () => {
    const perDay = 86_400 * (2 + 1 / 60) * 0.000025 + 86_400 * 0.000000125;
    expect(usdPerDay(anchor('c').perTick(1) ?? ZERO_COUNTS, 1)).toBeCloseTo(perDay, 9);
  });

  it('(d) EventBridge + SQS: 3 SQS requests per tick and a dispatcher a minute', () => {
    const perDay = 86_400 * (3 * 0.0000004 + 0.000000125) + 1_440 * (0.0000002 + 0.1 * 0.125 * 0.0000166667);
    expect(usdPerDay(anchor('d').perTick(1) ?? ZERO_COUNTS, 1)).toBeCloseTo(perDay, 9);
  });

  it('(d) cannot run sub-second cadences (DelaySeconds is whole seconds)', () => {
    expect(anchor('d').perTick(0.5)).toBeUndefined();
  });
});

describe('cheapestStepFunctionsAnchor', () => {
  it('leaves out designs that are not Step Functions-based', () => {
    expect(cheapestStepFunctionsAnchor(1)?.anchor.id).toBe('b');
  });

  it('picks the round per tick at long intervals', () => {
    expect(cheapestStepFunctionsAnchor(59)?.anchor.id).toBe('c');
  });
});
