import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_REGION } from '../../../functions/shared/aws-clients';
import { localFunctionArn } from '../../../scripts/local-stack/local-endpoints';
import { LocalFunctions } from '../../../scripts/local-stack/local-functions';
import { LocalServicesServer } from '../../../scripts/local-stack/local-services-server';
import { type ExecutionEnded, LocalStepFunctions } from '../../../scripts/local-stack/local-step-functions';
import { PassedTimestampWaits } from '../../../scripts/local-stack/passed-timestamp-waits';

/**
 * A Wait state whose TimestampPath has passed ends at once, as on Step Functions, without the negative setTimeout
 * (and Node's TimeoutNegativeWarning) aws-local-stepfunctions would ask for; a timestamp ahead is still waited for.
 */
const NOW = Date.parse('2030-01-01T00:00:10.000Z');

const definition = {
  StartAt: 'Decide',
  States: {
    Decide: { Type: 'Task', Resource: localFunctionArn('decide', LOCAL_REGION), Next: 'WaitUntil' },
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
  let services: LocalServicesServer;
  let stepFunctions: LocalStepFunctions;
  const ended = new Map<string, PromiseWithResolvers<ExecutionEnded>>();
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);

  beforeAll(async () => {
    const functions = new LocalFunctions();
    functions.register('decide', async () => ({ wakeAt }));
    services = new LocalServicesServer(
      functions,
      () => stepFunctions,
      () => {},
    );
    const port = await services.listen('127.0.0.1', 0);
    stepFunctions = new LocalStepFunctions({
      region: LOCAL_REGION,
      controllerArn: localFunctionArn('decide', LOCAL_REGION),
      lambdaEndpoint: `http://127.0.0.1:${port}`,
      definition: JSON.stringify(definition),
      onExecutionEnded: (end) => ended.get(end.execution.name)?.resolve(end),
    });
    process.on('warning', onWarning);
  });

  beforeEach(() => {
    warnings.length = 0;
  });

  afterAll(async () => {
    process.off('warning', onWarning);
    await stepFunctions.shutdown();
    await services.close();
  });

  const run = async (name: string) => {
    const end = Promise.withResolvers<ExecutionEnded>();
    ended.set(name, end);
    const startedAt = performance.now();
    stepFunctions.startExecution({ stateMachineArn: stepFunctions.stateMachineArn, name });
    const { execution } = await end.promise;
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
