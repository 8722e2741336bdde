import type { StateMachine } from 'aws-local-stepfunctions';

/** One event of aws-local-stepfunctions' execution log. */
export type LocalEventLog =
  ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** One event of a Standard execution's history on AWS, as GetExecutionHistory lists it (type and state). */
export interface AwsHistoryEvent {
  readonly type: string;
  readonly stateName?: string;
}

/** Whether a Task state invokes a Lambda function by ARN (LambdaFunction* events) or a service (Task* events). */
export type TaskKind = 'LambdaFunction' | 'Task';

/**
 * The history events Step Functions records for what aws-local-stepfunctions logs, so the local stack can count
 * history as AWS does (the hard cap is 25,000 events). Where the two differ:
 *
 * - the library logs StateEntered/StateExited for every state; AWS names them per state type (TaskStateEntered,
 *   WaitStateExited…), one for one;
 * - the library logs no event for a Task's work; AWS adds, for each attempt, LambdaFunctionScheduled and
 *   LambdaFunctionStarted (TaskScheduled, TaskStarted for a service integration) and then Succeeded, Failed or
 *   TimedOut: a healthy Lambda Task is 2 events in the library and 5 on AWS;
 * - the library's StateFailed is the attempt's Failed (or TimedOut, for States.Timeout) event; its StateRetried
 *   is the next attempt's Scheduled and Started; its StateCaught has no AWS event (the Catch shows in the
 *   TaskStateExited that follows);
 * - ExecutionTimeout is ExecutionTimedOut on AWS.
 */
export class AwsHistoryTranslator {
  /** The attempt under way of each Task state failed: its exit then has no Succeeded event before it. */
  private lastAttemptFailed = false;

  constructor(private readonly taskKinds: ReadonlyMap<string, TaskKind>) {}

  translate(event: LocalEventLog): AwsHistoryEvent[] {
    switch (event.type) {
      case 'ExecutionStarted':
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
        return [{ type: event.type }];
      case 'ExecutionTimeout':
        return [{ type: 'ExecutionTimedOut' }];
      case 'StateEntered': {
        const stateName = event.state.name;
        const entered = { type: `${event.state.type}StateEntered`, stateName };
        const kind = this.taskKinds.get(stateName);
        if (event.state.type !== 'Task' || kind === undefined) return [entered];
        this.lastAttemptFailed = false;
        return [entered, ...attemptStarted(kind, stateName)];
      }
      case 'StateExited': {
        const stateName = event.state.name;
        const exited = { type: `${event.state.type}StateExited`, stateName };
        const kind = this.taskKinds.get(stateName);
        if (event.state.type !== 'Task' || kind === undefined || this.lastAttemptFailed) return [exited];
        return [{ type: `${kind}Succeeded`, stateName }, exited];
      }
      case 'StateFailed': {
        const stateName = event.state.name;
        const kind = this.taskKinds.get(stateName);
        if (event.state.type !== 'Task' || kind === undefined) return [];
        this.lastAttemptFailed = true;
        return [{ type: event.Error === 'States.Timeout' ? `${kind}TimedOut` : `${kind}Failed`, stateName }];
      }
      case 'StateRetried': {
        const kind = this.taskKinds.get(event.state.name);
        if (event.state.type !== 'Task' || kind === undefined) return [];
        this.lastAttemptFailed = false;
        return attemptStarted(kind, event.state.name);
      }
      default:
        // StateCaught, and the Map and Parallel events our definitions never produce.
        return [];
    }
  }
}

function attemptStarted(kind: TaskKind, stateName: string): AwsHistoryEvent[] {
  return [
    { type: `${kind}Scheduled`, stateName },
    { type: `${kind}Started`, stateName },
  ];
}

/** The kind of each Task state of a definition, from its Resource (a Lambda function ARN, or a service's). */
export function taskKindsOf(definition: { readonly States: Record<string, unknown> }): Map<string, TaskKind> {
  const kinds = new Map<string, TaskKind>();
  for (const [name, state] of Object.entries(definition.States)) {
    const { Type, Resource } = state as { Type?: unknown; Resource?: unknown };
    if (Type !== 'Task' || typeof Resource !== 'string') continue;
    kinds.set(name, isLambdaFunctionArn(Resource) ? 'LambdaFunction' : 'Task');
  }
  return kinds;
}

/** `arn:<partition>:lambda:<region>:<account>:function:<name>[:qualifier]` */
export function isLambdaFunctionArn(resource: string): boolean {
  return /^arn:[^:]+:lambda:[^:]*:[^:]*:function:/.test(resource);
}
