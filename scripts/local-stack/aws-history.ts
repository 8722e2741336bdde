import { HistoryEventType } from '@aws-sdk/client-sfn';
import type { StateMachine } from 'aws-local-stepfunctions';

/** One event of aws-local-stepfunctions' execution log. */
export type LocalEventLog =
  ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** One event of a Standard execution's history as GetExecutionHistory lists it (its type and main details). */
export interface AwsHistoryEvent {
  readonly type: HistoryEventType;
  readonly stateName?: string;
  /** Failed and TimedOut events: the error name Retry and Catch match, and its cause. */
  readonly error?: string;
  readonly cause?: unknown;
  /** StateExited events: the state's output. */
  readonly output?: unknown;
}

/** Whether a Task state invokes a Lambda function by ARN (LambdaFunction* events) or a service (Task* events). */
export type TaskKind = 'lambda' | 'service';

const TASK_EVENTS = {
  lambda: {
    scheduled: HistoryEventType.LambdaFunctionScheduled,
    started: HistoryEventType.LambdaFunctionStarted,
    succeeded: HistoryEventType.LambdaFunctionSucceeded,
    failed: HistoryEventType.LambdaFunctionFailed,
    timedOut: HistoryEventType.LambdaFunctionTimedOut,
  },
  service: {
    scheduled: HistoryEventType.TaskScheduled,
    started: HistoryEventType.TaskStarted,
    succeeded: HistoryEventType.TaskSucceeded,
    failed: HistoryEventType.TaskFailed,
    timedOut: HistoryEventType.TaskTimedOut,
  },
} as const;

/** Entered and exited events per state type; a Fail state ends the execution without an exit event. */
const STATE_EVENTS: Record<string, { entered: HistoryEventType; exited?: HistoryEventType }> = {
  Task: { entered: HistoryEventType.TaskStateEntered, exited: HistoryEventType.TaskStateExited },
  Wait: { entered: HistoryEventType.WaitStateEntered, exited: HistoryEventType.WaitStateExited },
  Pass: { entered: HistoryEventType.PassStateEntered, exited: HistoryEventType.PassStateExited },
  Choice: { entered: HistoryEventType.ChoiceStateEntered, exited: HistoryEventType.ChoiceStateExited },
  Succeed: { entered: HistoryEventType.SucceedStateEntered, exited: HistoryEventType.SucceedStateExited },
  Fail: { entered: HistoryEventType.FailStateEntered },
  Map: { entered: HistoryEventType.MapStateEntered, exited: HistoryEventType.MapStateExited },
  Parallel: { entered: HistoryEventType.ParallelStateEntered, exited: HistoryEventType.ParallelStateExited },
};

/**
 * The history events Step Functions records for what aws-local-stepfunctions logs, so the local stack can count
 * history as AWS does (the hard cap is 25,000 events). Where the two differ:
 *
 * - the library logs StateEntered/StateExited for every state; AWS names them per state type (TaskStateEntered,
 *   WaitStateExited…), one for one, and a Fail state has no exit event;
 * - the library logs no event for a Task's work; AWS adds, for each attempt, LambdaFunctionScheduled and
 *   LambdaFunctionStarted (TaskScheduled, TaskStarted for a service integration) and then Succeeded, Failed or
 *   TimedOut: a healthy Lambda Task is 2 events in the library and 5 on AWS;
 * - the library's StateFailed is the attempt's Failed (TimedOut for States.Timeout) event; its StateRetried is
 *   the next attempt's Scheduled and Started; its StateCaught has no AWS event (the Catch shows in the
 *   TaskStateExited that follows);
 * - ExecutionTimeout is ExecutionTimedOut on AWS; AWS also records the state an abort cut short
 *   (TaskStateAborted, WaitStateAborted), which the library does not.
 */
export class AwsHistoryTranslator {
  /** The latest attempt of the Task under way failed: its exit then has no Succeeded event before it. */
  private lastAttemptFailed = false;

  constructor(private readonly taskKinds: ReadonlyMap<string, TaskKind>) {}

  translate(event: LocalEventLog): AwsHistoryEvent[] {
    switch (event.type) {
      case 'ExecutionStarted':
        return [{ type: HistoryEventType.ExecutionStarted }];
      case 'ExecutionSucceeded':
        return [{ type: HistoryEventType.ExecutionSucceeded, output: event.output }];
      case 'ExecutionFailed':
        return [{ type: HistoryEventType.ExecutionFailed, error: event.Error, cause: event.Cause }];
      case 'ExecutionAborted':
        return [{ type: HistoryEventType.ExecutionAborted }];
      case 'ExecutionTimeout':
        return [{ type: HistoryEventType.ExecutionTimedOut }];
      case 'StateEntered': {
        const stateName = event.state.name;
        const entered: AwsHistoryEvent = { type: stateEvents(event.state.type).entered, stateName };
        const task = this.taskEvents(event.state.type, stateName);
        if (task === undefined) return [entered];
        this.lastAttemptFailed = false;
        return [entered, { type: task.scheduled, stateName }, { type: task.started, stateName }];
      }
      case 'StateExited': {
        const stateName = event.state.name;
        const exitedType = stateEvents(event.state.type).exited;
        const exited: AwsHistoryEvent[] =
          exitedType === undefined ? [] : [{ type: exitedType, stateName, output: event.state.output }];
        const task = this.taskEvents(event.state.type, stateName);
        if (task === undefined || this.lastAttemptFailed) return exited;
        return [{ type: task.succeeded, stateName }, ...exited];
      }
      case 'StateFailed': {
        const stateName = event.state.name;
        const task = this.taskEvents(event.state.type, stateName);
        if (task === undefined) return [];
        this.lastAttemptFailed = true;
        const type = event.Error === 'States.Timeout' ? task.timedOut : task.failed;
        return [{ type, stateName, error: event.Error, cause: event.Cause }];
      }
      case 'StateRetried': {
        const stateName = event.state.name;
        const task = this.taskEvents(event.state.type, stateName);
        if (task === undefined) return [];
        this.lastAttemptFailed = false;
        return [
          { type: task.scheduled, stateName },
          { type: task.started, stateName },
        ];
      }
      default:
        // StateCaught, and the Map and Parallel events our definitions never produce.
        return [];
    }
  }

  private taskEvents(stateType: string, stateName: string) {
    const kind = stateType === 'Task' ? this.taskKinds.get(stateName) : undefined;
    return kind === undefined ? undefined : TASK_EVENTS[kind];
  }
}

function stateEvents(stateType: string): { entered: HistoryEventType; exited?: HistoryEventType } {
  const events = STATE_EVENTS[stateType];
  if (events === undefined) throw new Error(`no history events known for a state of type ${stateType}`);
  return events;
}

/** The kind of each Task state of a definition, from its Resource (a Lambda function ARN, or a service's). */
export function taskKindsOf(definition: { readonly States: Record<string, unknown> }): Map<string, TaskKind> {
  const kinds = new Map<string, TaskKind>();
  for (const [name, state] of Object.entries(definition.States)) {
    const { Type, Resource } = state as { Type?: unknown; Resource?: unknown };
    if (Type !== 'Task' || typeof Resource !== 'string') continue;
    kinds.set(name, isLambdaFunctionArn(Resource) ? 'lambda' : 'service');
  }
  return kinds;
}

/** `arn:<partition>:lambda:<region>:<account>:function:<name>[:qualifier]` */
export function isLambdaFunctionArn(resource: string): boolean {
  return /^arn:[^:]+:lambda:[^:]*:[^:]*:function:/.test(resource);
}
