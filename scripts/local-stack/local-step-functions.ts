import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import { renderPollerDefinition, STATE } from '../../infra/state-machine/poller-definition';
import type { Meter } from './latency-model';
import { LOCAL_ACCOUNT, LOCAL_STATE_MACHINE_NAME, localStateMachineArn } from './local-endpoints';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
}

export interface ExecutionEnded {
  readonly execution: ExecutionRecord;
  /** Parsed output of a SUCCEEDED execution. */
  readonly output: unknown;
}

export class ExecutionAlreadyExistsError extends Error {
  override readonly name = 'ExecutionAlreadyExists';
}
export class StateMachineDoesNotExistError extends Error {
  override readonly name = 'StateMachineDoesNotExist';
}
export class ExecutionDoesNotExistError extends Error {
  override readonly name = 'ExecutionDoesNotExist';
}

interface RunningExecution {
  readonly abort: () => void;
  readonly done: Promise<void>;
}

type JsonValue = Parameters<StateMachine['run']>[0];

/**
 * The poller state machine run by aws-local-stepfunctions from the very same ASL that CDK deploys. The controller
 * Task calls the local Lambda endpoint through the library's real Lambda client; the `HandOver` Task (a
 * states:startExecution integration, which the library cannot call) starts the next execution here.
 */
export class LocalStepFunctions {
  readonly stateMachineArn: string;
  readonly stateMachineName: string;
  private readonly machine: StateMachine;
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly running = new Map<string, RunningExecution>();
  private stopped = false;

  constructor(
    private readonly options: {
      readonly region: string;
      readonly controllerArn: string;
      readonly onExecutionEnded: (ended: ExecutionEnded) => void;
      /** Lets a test make the hand-over fail (the real StartExecution's failure mode) without touching our code. */
      readonly handOverFault?: () => Error | undefined;
      /** Another definition than the poller's (the benchmark runs the blog recipe beside ours). */
      readonly definition?: string;
      readonly stateMachineName?: string;
      readonly meter?: Meter;
    },
  ) {
    this.stateMachineName = options.stateMachineName ?? LOCAL_STATE_MACHINE_NAME;
    this.stateMachineArn = localStateMachineArn(options.region, this.stateMachineName);
    this.machine = new StateMachine(
      JSON.parse(options.definition ?? renderPollerDefinition(options.controllerArn)),
      {
        awsConfig: {
          region: options.region,
          credentials: { accessKeys: { accessKeyId: 'local', secretAccessKey: 'local' } },
        },
      },
    );
  }

  startExecution(request: { stateMachineArn: string; input?: string; name?: string }): ExecutionRecord {
    if (this.stopped) throw new StateMachineDoesNotExistError('the local stack is shutting down');
    if (request.stateMachineArn !== this.stateMachineArn) {
      throw new StateMachineDoesNotExistError(`State Machine Does Not Exist: '${request.stateMachineArn}'`);
    }
    const name = request.name ?? randomUUID();
    const executionArn = `arn:aws:states:${this.options.region}:${LOCAL_ACCOUNT}:execution:${this.stateMachineName}:${name}`;
    if (this.executions.has(executionArn)) {
      throw new ExecutionAlreadyExistsError(`Execution Already Exists: '${executionArn}'`);
    }
    const inputText = request.input ?? '{}';
    const input = JSON.parse(inputText) as JsonValue;
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: this.stateMachineArn,
      name,
      input: inputText,
      startDate: new Date(),
      status: 'RUNNING',
    };
    this.executions.set(executionArn, record);

    const execution = this.machine.run(input, {
      noThrowOnAbort: true,
      context: {
        Execution: { Id: executionArn, Name: name, Input: input, StartTime: record.startDate.toISOString() },
        StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineName },
      },
      overrides: { taskResourceLocalHandlers: { [STATE.handOver]: (taskInput) => this.handOver(taskInput) } },
    });
    const done = execution.result.then(
      (output) => this.finish(record, record.status === 'ABORTED' ? 'ABORTED' : 'SUCCEEDED', output),
      (error: unknown) => this.finish(record, 'FAILED', undefined, error),
    );
    this.running.set(executionArn, { abort: execution.abort, done });
    const meter = this.options.meter;
    if (meter) {
      void (async () => {
        for await (const event of execution.eventLogs) {
          const stateName = 'state' in event ? event.state.name : undefined;
          meter.historyEvent(executionArn, event.type, stateName);
        }
      })().catch(() => {});
    }
    return record;
  }

  describeExecution(executionArn: string): ExecutionRecord {
    const record = this.executions.get(executionArn);
    if (!record) throw new ExecutionDoesNotExistError(`Execution Does Not Exist: '${executionArn}'`);
    return record;
  }

  listExecutions(status?: ExecutionStatus): ExecutionRecord[] {
    return [...this.executions.values()].filter((record) => status === undefined || record.status === status);
  }

  stopExecution(executionArn: string): ExecutionRecord {
    const record = this.describeExecution(executionArn);
    if (record.status === 'RUNNING') {
      record.status = 'ABORTED';
      this.running.get(executionArn)?.abort();
    }
    return record;
  }

  /** Aborts every running execution and waits until they have all settled. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    const pending = [...this.running.entries()];
    for (const [executionArn] of pending) this.stopExecution(executionArn);
    await Promise.allSettled(pending.map(([, run]) => run.done));
  }

  private handOver(taskInput: unknown): JsonValue {
    const fault = this.options.handOverFault?.();
    if (fault) throw fault;
    const { StateMachineArn, Input } = taskInput as { StateMachineArn: string; Input: unknown };
    const record = this.startExecution({ stateMachineArn: StateMachineArn, input: JSON.stringify(Input) });
    return { ExecutionArn: record.executionArn, StartDate: record.startDate.toISOString() };
  }

  private finish(record: ExecutionRecord, status: ExecutionStatus, output: unknown, error?: unknown): void {
    record.status = status;
    record.stopDate = new Date();
    this.running.delete(record.executionArn);
    if (status === 'SUCCEEDED') record.output = JSON.stringify(output);
    if (status === 'FAILED') {
      record.error = error instanceof Error ? error.name : 'Error';
      record.cause = error instanceof Error ? error.message : String(error);
    }
    this.options.onExecutionEnded({ execution: record, output });
  }
}
