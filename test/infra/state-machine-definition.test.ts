import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import {
  CONTROLLER_MAX_RETRIES,
  HISTORY_EVENTS_PER_FAILED_ROUND,
  HISTORY_EVENTS_PER_ROUND,
} from '../../functions/scheduling/history-budget';
import { SIGNAL } from '../../functions/shared/contract';
import {
  buildPollerDefinition,
  CONTROLLER_ARN_SUBSTITUTION,
  renderPollerDefinition,
  STATE,
} from '../../infra/state-machine/poller-definition';

const CONTROLLER_ARN =
  'arn:aws:lambda:eu-west-1:123456789012:function:SubMinute-PollerControllerFunction-AbC123';

/**
 * History events a state adds when it runs once and succeeds: a Task invoking a Lambda function by ARN adds
 * TaskStateEntered, LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionSucceeded, TaskStateExited;
 * a Choice and a Wait add their entered and exited events.
 */
const EVENTS_PER_STATE: Record<string, number> = { Task: 5, Choice: 2, Wait: 2 };

/** Events a failed Lambda attempt adds: LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionFailed. */
const EVENTS_PER_FAILED_ATTEMPT = 3;

type State = {
  Type: string;
  Next?: string;
  Default?: string;
  Resource?: string;
  Choices?: { Variable: string; StringEquals: string; Next: string }[];
  Retry?: { ErrorEquals: string[]; MaxAttempts: number }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
};

const states = buildPollerDefinition().States as unknown as Record<string, State>;

function state(name: string): State {
  const found = states[name];
  if (found === undefined) throw new Error(`no state ${name}`);
  return found;
}

/** Where the controller Task's Catch sends an error with this name. */
function catchFor(errorName: string): string {
  const handler = state(STATE.runController).Catch?.find((rule) => rule.ErrorEquals.includes(errorName));
  return handler?.Next ?? 'none';
}

/** The states one healthy round passes through, from RunController back to it (the controller returned). */
function healthyRound(): string[] {
  const round: string[] = [STATE.runController];
  let next = state(STATE.runController).Next;
  while (next !== undefined && next !== STATE.runController && round.length < 10) {
    round.push(next);
    next = state(next).Next;
  }
  return round;
}

describe('poller definition', () => {
  it('is valid Amazon States Language once the controller ARN is substituted', () => {
    // prepare
    const definition = JSON.parse(renderPollerDefinition(CONTROLLER_ARN));

    // act
    const { isValid, errorsText } = aslValidator(definition);

    // assess
    expect(isValid, errorsText('\n')).toBe(true);
  });

  it('leaves no placeholder behind after the substitution', () => {
    expect(renderPollerDefinition(CONTROLLER_ARN)).not.toContain(`\${${CONTROLLER_ARN_SUBSTITUTION}}`);
  });

  it('invokes the controller as a Lambda Task by ARN (the form whose history events the budget counts)', () => {
    expect(state(STATE.runController)).toMatchObject({
      Type: 'Task',
      Resource: `\${${CONTROLLER_ARN_SUBSTITUTION}}`,
    });
  });

  it('runs one healthy round through RunController and WaitForTick: one Task, one Wait', () => {
    // act
    const round = healthyRound();

    // assess
    expect(round).toEqual([STATE.runController, STATE.waitForTick]);
    expect(round.map((name) => state(name).Type)).toEqual(['Task', 'Wait']);
    expect(state(STATE.waitForTick).Next).toBe(STATE.runController);
  });

  it('adds exactly HISTORY_EVENTS_PER_ROUND events in a healthy round', () => {
    // act
    const events = healthyRound().reduce(
      (sum, name) => sum + (EVENTS_PER_STATE[state(name).Type] ?? Number.NaN),
      0,
    );

    // assess
    expect(events).toBe(HISTORY_EVENTS_PER_ROUND);
  });

  it('adds exactly HISTORY_EVENTS_PER_FAILED_ROUND events in a round whose every attempt failed', () => {
    // prepare
    const task = state(STATE.runController);
    const maxAttempts = Math.max(...(task.Retry ?? []).map((retry) => retry.MaxAttempts));
    const recovery = state(catchFor('States.ALL'));

    // act
    const taskEnteredAndExited = 2;
    const events =
      (maxAttempts + 1) * EVENTS_PER_FAILED_ATTEMPT +
      taskEnteredAndExited +
      (EVENTS_PER_STATE[recovery.Type] ?? Number.NaN);

    // assess
    expect(recovery.Type).toBe('Wait');
    expect(recovery.Next).toBe(STATE.runController);
    expect(events).toBe(HISTORY_EVENTS_PER_FAILED_ROUND);
  });

  it('retries the controller CONTROLLER_MAX_RETRIES times', () => {
    expect(state(STATE.runController).Retry?.[0]?.MaxAttempts).toBe(CONTROLLER_MAX_RETRIES);
  });

  it('routes the stop and hand-over signals out of the loop, and any other failure to the recovery wait', () => {
    expect(catchFor(SIGNAL.stopped)).toBe(STATE.stopped);
    expect(catchFor(SIGNAL.handOver)).toBe(STATE.handOver);
    expect(catchFor('States.ALL')).toBe(STATE.recoverAfterFailure);
  });

  it('catches States.ALL last, so the named signals reach their own handlers', () => {
    // act
    const catchers = state(STATE.runController).Catch ?? [];

    // assess
    expect(catchers.at(-1)?.ErrorEquals).toEqual(['States.ALL']);
  });
});
