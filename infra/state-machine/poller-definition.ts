import {
  CONTROLLER_MAX_RETRIES,
  HAND_OVER_MAX_RETRIES,
  RECOVERY_PAUSE_SECONDS,
} from '../../functions/scheduling/history-budget';
import { CONTROLLER_TIMEOUT_SECONDS, SIGNAL } from '../../functions/shared/contract';

/**
 * The poller loop in Amazon States Language: the single definition used by the CDK stack, the pre-generated
 * template and the local stack. `${ControllerFunctionArn}` and `${Partition}` are filled in by
 * DefinitionSubstitutions on AWS and by the local stack with its own ARN and `aws`.
 *
 *   RunController → WaitForTick → RunController            (a round: two state transitions)
 *   RunController ─PollerStopped→ Stopped
 *   RunController ─HandOverRequested→ HandOver → HandedOver   (a fresh execution carries on)
 *   RunController fails after its retries → RecoverAfterFailure → RunController (the loop never just ends)
 *
 * Stopping and handing over are rare, so the controller signals them with named errors that Catch routes,
 * instead of a Choice state that would cost a third state transition in every round.
 */
export const STATE = {
  runController: 'RunController',
  waitForTick: 'WaitForTick',
  handOver: 'HandOver',
  handedOver: 'HandedOver',
  recoverAfterFailure: 'RecoverAfterFailure',
  stopped: 'Stopped',
} as const;

export const CONTROLLER_ARN_SUBSTITUTION = 'ControllerFunctionArn';
/** Service integration ARNs carry the partition (aws, aws-cn, aws-us-gov). */
export const PARTITION_SUBSTITUTION = 'Partition';

/** The partition the local stack runs in. */
export const LOCAL_PARTITION = 'aws';

/**
 * The controller Task's errors worth retrying: the Lambda service's own (the names Step Functions reports for
 * them, as AWS recommends retrying) and a table read that failed.
 */
export const CONTROLLER_RETRY = {
  ErrorEquals: [
    'Lambda.ServiceException',
    'Lambda.AWSLambdaException',
    'Lambda.SdkClientException',
    'Lambda.TooManyRequestsException',
    'Lambda.ClientExecutionTimeoutException',
    'ControlTableUnavailableError',
  ],
  // Short first pause: a tick is at stake. Full jitter so many pollers do not retry in lockstep.
  IntervalSeconds: 1,
  MaxAttempts: CONTROLLER_MAX_RETRIES,
  BackoffRate: 2,
  JitterStrategy: 'FULL',
} as const;

/** A StartExecution refused (throttled, service error) is retried; if it keeps failing the old loop carries on. */
export const HAND_OVER_RETRY = {
  ErrorEquals: ['States.ALL'],
  IntervalSeconds: 1,
  MaxAttempts: HAND_OVER_MAX_RETRIES,
  BackoffRate: 2,
  JitterStrategy: 'FULL',
} as const;

/** Longest a controller round may take: its Lambda timeout plus start-up slack. */
export const CONTROLLER_TASK_TIMEOUT_SECONDS = CONTROLLER_TIMEOUT_SECONDS + 60;

export function buildPollerDefinition() {
  return {
    StartAt: STATE.runController,
    States: {
      [STATE.runController]: {
        Type: 'Task',
        Resource: `\${${CONTROLLER_ARN_SUBSTITUTION}}`,
        // The history budget counts what the path to this round spent: its own retried attempts, and failed
        // rounds since the previous round's wakeAt or the execution's start (see historyEventsBeforeRound).
        Parameters: {
          'state.$': '$',
          'executionId.$': '$$.Execution.Id',
          'executionStartTime.$': '$$.Execution.StartTime',
          'retryCount.$': '$$.State.RetryCount',
        },
        TimeoutSeconds: CONTROLLER_TASK_TIMEOUT_SECONDS,
        Retry: [CONTROLLER_RETRY],
        Catch: [
          { ErrorEquals: [SIGNAL.stopped], ResultPath: '$.stopped', Next: STATE.stopped },
          // Into lastFailure, like any other way an attempt ends without returning: a HandOver failure that
          // follows is then known to be the latest event (the controller runs a normal round before asking again),
          // while a round that fails after it overwrites it (the controller may ask again at once).
          { ErrorEquals: [SIGNAL.handOver], ResultPath: '$.lastFailure', Next: STATE.handOver },
          { ErrorEquals: ['States.ALL'], ResultPath: '$.lastFailure', Next: STATE.recoverAfterFailure },
        ],
        Next: STATE.waitForTick,
      },
      [STATE.waitForTick]: { Type: 'Wait', TimestampPath: '$.wakeAt', Next: STATE.runController },
      [STATE.handOver]: {
        Type: 'Task',
        Resource: `arn:\${${PARTITION_SUBSTITUTION}}:states:::states:startExecution`,
        Parameters: {
          'StateMachineArn.$': '$$.StateMachine.Id',
          Input: {
            'pollerId.$': '$.pollerId',
            'loop.$': '$.loop',
            'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id',
          },
        },
        Retry: [HAND_OVER_RETRY],
        // The old execution carries on (the controller runs a normal round and asks again later).
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.handOverFailure', Next: STATE.runController }],
        ResultPath: null,
        Next: STATE.handedOver,
      },
      [STATE.handedOver]: { Type: 'Succeed' },
      // After an uncaught controller failure, pause before the next attempt instead of spinning; the history
      // budget relies on this pause to bound how many failed rounds fit in a span of time.
      [STATE.recoverAfterFailure]: {
        Type: 'Wait',
        Seconds: RECOVERY_PAUSE_SECONDS,
        Next: STATE.runController,
      },
      [STATE.stopped]: { Type: 'Succeed' },
    },
  };
}

export type PollerDefinition = ReturnType<typeof buildPollerDefinition>;

/** The definition as Step Functions receives it once the substitutions are applied. */
export function renderPollerDefinition(controllerArn: string, partition: string = LOCAL_PARTITION): string {
  return JSON.stringify(buildPollerDefinition())
    .replaceAll(`\${${CONTROLLER_ARN_SUBSTITUTION}}`, controllerArn)
    .replaceAll(`\${${PARTITION_SUBSTITUTION}}`, partition);
}
