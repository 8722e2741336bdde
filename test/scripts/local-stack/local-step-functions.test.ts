import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitUntil } from '../../support/fault-probes';
import {
  handlerArn,
  type StepFunctionsOnHandlers,
  startStepFunctionsOnHandlers,
} from '../../support/step-functions-on-handlers';

class BusyError extends Error {
  override readonly name = 'BusyError';
}

/** A Task that fails with an error its Retry names, retried after 1 s, up to 3 times. */
const definition = {
  StartAt: 'Work',
  States: {
    Work: {
      Type: 'Task',
      Resource: handlerArn('work'),
      Retry: [{ ErrorEquals: ['BusyError'], IntervalSeconds: 1, MaxAttempts: 3 }],
      End: true,
    },
  },
};

describe('LocalStepFunctions: StopExecution', () => {
  let attempts = 0;
  let machine: StepFunctionsOnHandlers;

  beforeAll(async () => {
    machine = await startStepFunctionsOnHandlers(definition, {
      work: async () => {
        attempts += 1;
        throw new BusyError('try again later');
      },
    });
  });

  afterAll(async () => {
    await machine.close();
  });

  it('runs no state of an execution stopped during a Retry pause (aws-local-stepfunctions would retry at once)', async () => {
    // prepare: the first attempt failed and the Retry pauses 1 s
    const ending = machine.run('stopped-while-retrying');
    await waitUntil(() => attempts === 1, 5_000, 'the first attempt');
    const { executionArn } = machine.stepFunctions.listExecutions('RUNNING')[0] ?? { executionArn: '' };

    // act
    machine.stepFunctions.stopExecution(executionArn);
    const { execution } = await ending;
    await sleep(1_500);

    // assess
    expect(execution.status).toBe('ABORTED');
    expect(attempts).toBe(1);
  });
});
