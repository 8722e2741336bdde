import { HistoryEventType } from '@aws-sdk/client-sfn';
import aslValidator from 'asl-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTROLLER_MAX_RETRIES,
  HAND_OVER_MAX_RETRIES,
  HISTORY_EVENTS_PER_FAILED_ROUND,
  HISTORY_EVENTS_PER_ROUND,
} from '../../functions/scheduling/history-budget';
import { DEFAULT_POLLER_ID, SIGNAL } from '../../functions/shared/contract';
import {
  buildPollerDefinition,
  CONTROLLER_ARN_SUBSTITUTION,
  CONTROLLER_RETRY,
  PARTITION_SUBSTITUTION,
  renderPollerDefinition,
  STATE,
} from '../../infra/state-machine/poller-definition';
import type { AwsHistoryEvent } from '../../scripts/local-stack/aws-history';
import type { Meter } from '../../scripts/local-stack/latency-model';
import { LOCAL_CONTROLLER_NAME } from '../../scripts/local-stack/local-endpoints';
import { functionNameOf } from '../../scripts/local-stack/local-functions';
import { executionsOf, FaultBurst, waitUntil } from '../support/fault-probes';
import { type Harness, startHarness } from '../support/local-stack-harness';

const CONTROLLER_ARN =
  'arn:aws:lambda:eu-west-1:123456789012:function:SubMinute-PollerControllerFunction-AbC123';

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

  it('retries the controller CONTROLLER_MAX_RETRIES times and the hand-over HAND_OVER_MAX_RETRIES times', () => {
    expect(state(STATE.runController).Retry?.[0]?.MaxAttempts).toBe(CONTROLLER_MAX_RETRIES);
    expect(state(STATE.handOver).Retry?.[0]?.MaxAttempts).toBe(HAND_OVER_MAX_RETRIES);
  });

  it('retries every Lambda service error AWS recommends retrying, by the names Step Functions reports', () => {
    expect(CONTROLLER_RETRY.ErrorEquals).toEqual(
      expect.arrayContaining([
        'Lambda.ServiceException',
        'Lambda.AWSLambdaException',
        'Lambda.SdkClientException',
        'Lambda.TooManyRequestsException',
        'Lambda.ClientExecutionTimeoutException',
      ]),
    );
  });

  it('starts the next execution through an integration ARN that carries the partition', () => {
    // act
    const local = JSON.parse(renderPollerDefinition(CONTROLLER_ARN)).States[STATE.handOver].Resource;
    const china = JSON.parse(renderPollerDefinition(CONTROLLER_ARN, 'aws-cn')).States[STATE.handOver]
      .Resource;

    // assess
    expect(state(STATE.handOver).Resource).toBe(
      `arn:\${${PARTITION_SUBSTITUTION}}:states:::states:startExecution`,
    );
    expect(local).toBe('arn:aws:states:::states:startExecution');
    expect(china).toBe('arn:aws-cn:states:::states:startExecution');
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

/**
 * The per-round history counts the budget relies on, read from real executions of the definition on the local
 * stack: aws-local-stepfunctions' own log, and the history AWS records for it (scripts/local-stack/aws-history.ts
 * adds the LambdaFunction and Task events the library does not log). A 3 s controller timeout makes every round
 * short; 5 failed controller invokes make one round fail through all its attempts; a small budget forces a
 * hand-over.
 */
describe('poller definition: history of real local executions', () => {
  const SERVICE_ERROR = { status: 500, errorType: 'ServiceException', message: 'down (fault injection)' };
  const libraryLog = new Map<string, string[]>();
  const meter: Meter = {
    historyEvent: (executionArn, type, stateName) => {
      const log = libraryLog.get(executionArn) ?? [];
      log.push(`${type}:${stateName ?? ''}`);
      libraryLog.set(executionArn, log);
    },
    lambdaInvocation: () => {},
    dynamoDbRequest: () => {},
  };
  let harness: Harness;
  let first: { readonly arn: string; readonly history: readonly AwsHistoryEvent[] };

  /** A history cut into rounds: each starts where the controller Task is entered. */
  const roundsOf = (history: readonly AwsHistoryEvent[]) => {
    const rounds: AwsHistoryEvent[][] = [];
    for (const event of history) {
      if (event.type === 'TaskStateEntered' && event.stateName === STATE.runController) rounds.push([]);
      rounds.at(-1)?.push(event);
    }
    return rounds;
  };
  const isHealthy = (round: readonly AwsHistoryEvent[]) =>
    round.some((event) => event.stateName === STATE.waitForTick) &&
    round.some((event) => event.type === 'LambdaFunctionSucceeded');

  beforeAll(async () => {
    harness = await startHarness({ everySeconds: 1, controllerTimeoutMs: 3_000, historyBudget: 100, meter });
    const [execution] = executionsOf(harness.stack, DEFAULT_POLLER_ID, 'RUNNING');
    const arn = execution?.executionArn ?? '';
    const historyOf = () => harness.stack.stepFunctions.historyOf(arn);
    await waitUntil(
      () => roundsOf(historyOf()).filter(isHealthy).length >= 3,
      20_000,
      'three healthy rounds',
    );

    const failures = new FaultBurst(
      (service, target) => service === 'lambda' && functionNameOf(target) === LOCAL_CONTROLLER_NAME,
      SERVICE_ERROR,
      CONTROLLER_MAX_RETRIES + 1,
    );
    harness.stack.services.injectFault = (service, target) => failures.inject(service, target);
    await waitUntil(() => execution?.status === 'SUCCEEDED', 50_000, 'the failed round, then a hand-over');
    first = { arn, history: historyOf() };
  }, 90_000);

  afterAll(async () => {
    await harness?.stack.stop();
  });

  it('records only AWS history event types', () => {
    const known = new Set<string>(Object.values(HistoryEventType));
    expect(first.history.filter((event) => !known.has(event.type))).toEqual([]);
  });

  it('adds exactly HISTORY_EVENTS_PER_ROUND events in a healthy round', () => {
    // act
    const healthy = roundsOf(first.history).filter(isHealthy);

    // assess
    expect(healthy.length).toBeGreaterThanOrEqual(3);
    expect(healthy[0]?.map((event) => event.type)).toEqual([
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'WaitStateEntered',
      'WaitStateExited',
    ]);
    expect(new Set(healthy.map((round) => round.length))).toEqual(new Set([HISTORY_EVENTS_PER_ROUND]));
  });

  it('logs 4 events of its own for that round in aws-local-stepfunctions, which the budget must not count', () => {
    // act
    const log = libraryLog.get(first.arn) ?? [];
    const start = log.indexOf(`StateEntered:${STATE.runController}`);

    // assess
    expect(log.slice(start, start + 5)).toEqual([
      `StateEntered:${STATE.runController}`,
      `StateExited:${STATE.runController}`,
      `StateEntered:${STATE.waitForTick}`,
      `StateExited:${STATE.waitForTick}`,
      `StateEntered:${STATE.runController}`,
    ]);
  });

  it('adds exactly HISTORY_EVENTS_PER_FAILED_ROUND events in a round whose every attempt failed', () => {
    // act
    const failed = roundsOf(first.history).find((round) =>
      round.some((event) => event.stateName === STATE.recoverAfterFailure),
    );

    // assess
    const attempt = ['LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionFailed'];
    expect(failed?.map((event) => event.type)).toEqual([
      'TaskStateEntered',
      ...Array.from({ length: CONTROLLER_MAX_RETRIES + 1 }, () => attempt).flat(),
      'TaskStateExited',
      'WaitStateEntered',
      'WaitStateExited',
    ]);
    expect(failed).toHaveLength(HISTORY_EVENTS_PER_FAILED_ROUND);
    expect(new Set(failed?.flatMap((event) => (event.error ? [event.error] : [])))).toEqual(
      new Set(['Lambda.ServiceException']),
    );
  });

  it('ends a handed-over execution with the signalling round, the StartExecution Task and its Succeed state', () => {
    // act
    const tail = roundsOf(first.history)
      .at(-1)
      ?.map((event) => event.type);

    // assess
    expect(tail).toEqual([
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionFailed',
      'TaskStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(roundsOf(first.history).at(-1)?.[3]?.error).toBe(SIGNAL.handOver);
  });
});
