import { describe, expect, it } from 'vitest';
import { parseControllerInput } from '../../../functions/controller/parse-input';
import { InvalidControllerInputError } from '../../../functions/shared/errors';

const EXECUTION_ID = 'arn:aws:states:eu-west-1:123456789012:execution:Poller:run-1';

const LOOP = {
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
};

const NUMBER_FIELDS = [
  'nextSeq',
  'anchorAt',
  'anchorSeq',
  'generation',
  'claimedThroughSeq',
  'historyEvents',
  'historyBudget',
  'skippedTicks',
] as const;

const input = (loop: unknown) => ({ state: { pollerId: 'orders', loop }, executionId: EXECUTION_ID });

function refusal(event: unknown): InvalidControllerInputError {
  try {
    parseControllerInput(event);
  } catch (error) {
    if (error instanceof InvalidControllerInputError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(event)}`);
}

describe('parseControllerInput: every loop field, missing or of the wrong type', () => {
  it.each([
    ...NUMBER_FIELDS.flatMap((field) => [
      { label: `${field} missing`, loop: { ...LOOP, [field]: undefined }, field },
      { label: `${field} as text`, loop: { ...LOOP, [field]: '12' }, field },
      { label: `${field} null`, loop: { ...LOOP, [field]: null }, field },
      { label: `${field} NaN`, loop: { ...LOOP, [field]: Number.NaN }, field },
    ]),
    { label: 'executionId missing', loop: { ...LOOP, executionId: undefined }, field: 'executionId' },
    { label: 'executionId a number', loop: { ...LOOP, executionId: 1 }, field: 'executionId' },
    { label: 'config missing', loop: { ...LOOP, config: undefined }, field: 'config' },
    { label: 'config an array', loop: { ...LOOP, config: [] }, field: 'config' },
    {
      label: 'config.running missing',
      loop: { ...LOOP, config: { intervalMs: 2_000 } },
      field: 'config.running',
    },
    {
      label: 'config.intervalMs missing',
      loop: { ...LOOP, config: { running: true } },
      field: 'config.intervalMs',
    },
    {
      label: 'config.intervalMs as text',
      loop: { ...LOOP, config: { running: true, intervalMs: '2000' } },
      field: 'config.intervalMs',
    },
    {
      label: 'config.intervalMs fractional',
      loop: { ...LOOP, config: { running: true, intervalMs: 2000.5 } },
      field: 'config.intervalMs',
    },
    {
      label: 'config.target null',
      loop: { ...LOOP, config: { running: true, intervalMs: 2_000, target: null } },
      field: 'config.target',
    },
    {
      label: 'config.payload a string',
      loop: { ...LOOP, config: { running: true, intervalMs: 2_000, payload: 'x' } },
      field: 'config.payload',
    },
  ])('refuses a loop with $label, naming the poller and the field', ({ loop, field }) => {
    // act
    const error = refusal(input(loop));

    // assess
    expect(error.name).toBe('InvalidControllerInputError');
    expect(error.pollerId).toBe('orders');
    expect(error.message).toContain(`poller 'orders': invalid controller input: loop.${field} `);
  });

  it('yields exactly the loop fields it checked, not whatever else the state carried', () => {
    // act
    const parsed = parseControllerInput(
      input({ ...LOOP, injected: 'ignored', config: { ...LOOP.config, extra: 1 } }),
    );

    // assess
    expect(parsed.loop).toEqual(LOOP);
    expect(parsed.loop).not.toHaveProperty('injected');
    expect(parsed.loop?.config).not.toHaveProperty('extra');
  });
});
