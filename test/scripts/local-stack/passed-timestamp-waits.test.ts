import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PassedTimestampWaits } from '../../../scripts/local-stack/passed-timestamp-waits';
import {
  handlerArn,
  type StepFunctionsOnHandlers,
  startStepFunctionsOnHandlers,
} from '../../support/step-functions-on-handlers';

/**
 * A Wait state whose TimestampPath has passed ends at once, as on Step Functions, without the negative setTimeout
 * (and Node's TimeoutNegativeWarning) aws-local-stepfunctions would ask for; a timestamp ahead is still waited for.
 */
const NOW = Date.parse('2030-01-01T00:00:10.000Z');

const definition = {
  StartAt: 'Decide',
  States: {
    Decide: { Type: 'Task', Resource: handlerArn('decide'), Next: 'WaitUntil' },
    WaitUntil: { Type: 'Wait', TimestampPath: '$.wakeAt', Next: 'Done' },
    Done: { Type: 'Succeed' },
  },
};

describe('PassedTimestampWaits', () => {
  const overrideAfter = (result: unknown) => {
    const waits = PassedTimestampWaits.of(definition, () => NOW).forExecution();
    waits.noteResult('Decide', result);
    return waits.waitTimeOverrides.WaitUntil;
  };

  it.each([
    { label: 'a timestamp passed', wakeAt: '2030-01-01T00:00:09Z', override: 0 },
    { label: 'a timestamp due now', wakeAt: '2030-01-01T00:00:10.000Z', override: 0 },
    { label: 'a timestamp ahead (the library waits)', wakeAt: '2030-01-01T00:00:11Z', override: undefined },
    { label: 'a value that is no timestamp (the library refuses it)', wakeAt: 'soon', override: undefined },
    { label: 'no value at the path', wakeAt: undefined, override: undefined },
  ])('answers $override for $label', ({ wakeAt, override }) => {
    expect(overrideAfter({ wakeAt })).toBe(override);
  });

  it('answers nothing before the Task that leads to the Wait has returned', () => {
    const waits = PassedTimestampWaits.of(definition, () => NOW).forExecution();
    expect(waits.waitTimeOverrides.WaitUntil).toBeUndefined();
  });

  it('covers no Wait whose input the Task reshapes (ResultPath)', () => {
    const reshaped = {
      ...definition,
      States: { ...definition.States, Decide: { ...definition.States.Decide, ResultPath: '$.decision' } },
    };
    const waits = PassedTimestampWaits.of(reshaped, () => NOW).forExecution();
    waits.noteResult('Decide', { wakeAt: '2030-01-01T00:00:09Z' });
    expect(Object.keys(waits.waitTimeOverrides)).toEqual([]);
  });
});

describe('LocalStepFunctions: a Wait state with a TimestampPath, on aws-local-stepfunctions', () => {
  let wakeAt = '';
  let machine: StepFunctionsOnHandlers;
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);

  beforeAll(async () => {
    machine = await startStepFunctionsOnHandlers(definition, { decide: async () => ({ wakeAt }) });
    process.on('warning', onWarning);
  });

  beforeEach(() => {
    warnings.length = 0;
  });

  afterAll(async () => {
    process.off('warning', onWarning);
    await machine.close();
  });

  const run = async (name: string) => {
    const startedAt = performance.now();
    const { execution } = await machine.run(name);
    // Node emits a process warning on the next tick: give it the chance to show.
    await new Promise((resolve) => setImmediate(resolve));
    return { status: execution.status, tookMs: performance.now() - startedAt };
  };

  it('ends at once, without a TimeoutNegativeWarning, when the timestamp has passed', async () => {
    // prepare
    wakeAt = new Date(Date.now() - 3_000).toISOString();

    // act
    const { status } = await run('passed');

    // assess
    expect(status).toBe('SUCCEEDED');
    expect(warnings.map((warning) => `${warning.name}: ${warning.message}`)).toEqual([]);
  });

  it('still waits until a timestamp ahead', async () => {
    // prepare
    wakeAt = new Date(Date.now() + 600).toISOString();

    // act
    const { status, tookMs } = await run('ahead');

    // assess
    expect(status).toBe('SUCCEEDED');
    expect(tookMs).toBeGreaterThanOrEqual(550);
    expect(warnings).toEqual([]);
  });
});
