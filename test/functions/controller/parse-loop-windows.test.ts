import { describe, expect, it } from 'vitest';
import { encodeLoopState, parseControllerInput } from '../../../functions/controller/parse-input';
import { parseWindowRules } from '../../../functions/scheduling/windows';
import type { LoopState } from '../../../functions/shared/contract';
import { InvalidControllerInputError, InvalidWindowRuleError } from '../../../functions/shared/errors';

const EXECUTION_ID = 'arn:aws:states:eu-west-1:123456789012:execution:Poller:run-1';
const RULES = ['Sun 01:00-05:00 pause', 'Mon-Fri 06:00-20:00 every 2'];

function windowLoop(overrides: Partial<LoopState> = {}): LoopState {
  const windows = parseWindowRules(RULES);
  if (windows instanceof InvalidWindowRuleError) throw windows;
  return {
    nextSeq: 12,
    anchorAt: Date.parse('2026-03-15T05:00:00.000Z'),
    anchorSeq: 12,
    generation: 2,
    claimedThroughSeq: 40,
    config: { running: true, intervalMs: 30_000, timeZone: 'America/New_York', windows },
    executionId: EXECUTION_ID,
    historyEvents: 99,
    historyBudget: 5_000,
    skippedTicks: 3,
    windowIntervalMs: 2_000,
    paused: true,
    ...overrides,
  };
}

/** What the next round reads: the output through JSON, as Step Functions passes it. */
function throughStepFunctions(loop: LoopState): LoopState | undefined {
  const state: unknown = JSON.parse(JSON.stringify({ pollerId: 'orders', loop: encodeLoopState(loop) }));
  return parseControllerInput({ state, executionId: EXECUTION_ID }).loop;
}

describe('the loop state with window rules, through Step Functions', () => {
  it('carries the zone and the rule texts, and reads the rules back', () => {
    // prepare
    const loop = windowLoop();

    // act
    const wire = JSON.parse(JSON.stringify(encodeLoopState(loop)));
    const parsed = throughStepFunctions(loop);

    // assess
    expect(wire.config).toEqual({
      running: true,
      intervalMs: 30_000,
      timeZone: 'America/New_York',
      windows: RULES,
    });
    expect(parsed).toEqual(loop);
  });

  it('carries nothing for a poller without windows, and reads a loop state from before windows', () => {
    // prepare
    const loop = windowLoop({
      config: { running: true, intervalMs: 2_000 },
      windowIntervalMs: undefined,
      paused: undefined,
    });

    // act
    const wire = JSON.parse(JSON.stringify(encodeLoopState(loop)));
    const parsed = throughStepFunctions(loop);

    // assess
    expect(wire.config).toEqual({ running: true, intervalMs: 2_000 });
    expect(wire).not.toHaveProperty('windowIntervalMs');
    expect(wire).not.toHaveProperty('paused');
    expect(parsed).toEqual(loop);
  });

  it.each([
    {
      label: 'a rule the parser refuses',
      config: { running: true, intervalMs: 2_000, windows: ['Mon 06:00-20:00 every 0'] },
      detail: 'loop.config.windows[0] "Mon 06:00-20:00 every 0": cadence must be',
    },
    {
      label: 'rules that are not a list',
      config: { running: true, intervalMs: 2_000, windows: 'Mon 06:00-20:00 pause' },
      detail: 'loop.config.windows must be a list',
    },
    {
      label: 'an unknown zone',
      config: { running: true, intervalMs: 2_000, timeZone: 'Mars/Olympus_Mons' },
      detail: 'loop.config.timeZone must be an IANA time zone name',
    },
  ])('refuses a loop state with $label, naming it', ({ config, detail }) => {
    // prepare
    const loop = { ...JSON.parse(JSON.stringify(encodeLoopState(windowLoop()))), config };

    // act
    const act = () =>
      parseControllerInput({ state: { pollerId: 'orders', loop }, executionId: EXECUTION_ID });

    // assess
    expect(act).toThrow(InvalidControllerInputError);
    expect(act).toThrow(detail);
  });

  it.each([
    {
      label: 'a window interval out of range',
      field: { windowIntervalMs: 50 },
      detail: 'loop.windowIntervalMs',
    },
    { label: 'a paused flag that is not a boolean', field: { paused: 'yes' }, detail: 'loop.paused' },
  ])('refuses $label', ({ field, detail }) => {
    // prepare
    const loop = { ...JSON.parse(JSON.stringify(encodeLoopState(windowLoop()))), ...field };

    // act
    const act = () =>
      parseControllerInput({ state: { pollerId: 'orders', loop }, executionId: EXECUTION_ID });

    // assess
    expect(act).toThrow(detail);
  });
});
