import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { clientConfig, localClientOptions } from '../../functions/shared/aws-clients';
import { SubMinuteError } from '../../functions/shared/errors';
import { LOCAL_PARTITION, renderPollerDefinition, STATE } from '../../infra/state-machine/poller-definition';
import { type AwsHistoryEvent, AwsHistoryTranslator, type TaskKind, taskKindsOf } from './aws-history';
import { ExecutionNames } from './execution-names';
import { invokeLambdaTask, TaskFailure } from './lambda-task';
import type { Meter } from './latency-model';
import { LOCAL_ACCOUNT, LOCAL_STATE_MACHINE_NAME, localStateMachineArn } from './local-endpoints';
import { PassedTimestampWaits } from './passed-timestamp-waits';

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

export class ExecutionAlreadyExistsError extends SubMinuteError {
  override readonly name = 'ExecutionAlreadyExists';
}
export class StateMachineDoesNotExistError extends SubMinuteError {
  override readonly name = 'StateMachineDoesNotExist';
}
export class ExecutionDoesNotExistError extends SubMinuteError {
  override readonly name = 'ExecutionDoesNotExist';
}
export class InvalidExecutionInputError extends SubMinuteError {
  override readonly name = 'InvalidExecutionInput';
}

interface RunningExecution {
  readonly abort: () => void;
  readonly done: Promise<void>;
}

type JsonValue = Parameters<StateMachine['run']>[0];
type TaskHandler = (input: JsonValue) => Promise<JsonValue> | JsonValue;
type JsonObject = { [key: string]: JsonValue };

const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The context field aws-local-stepfunctions does not fill in (it has no `$$.State`). */
const RETRY_COUNT_PATH = '$$.State.RetryCount';

/** What a Task of an ended execution fails with, at once, on every attempt a Retry makes: it runs nothing. */
const EXECUTION_ENDED_ERROR = 'LocalStack.ExecutionEnded';

/** Histories of this many executions are kept for inspection (tests); older closed ones are dropped. */
const KEPT_HISTORIES = 20;

export interface LocalStepFunctionsOptions {
  readonly region: string;
  readonly controllerArn: string;
  /** The Lambda Invoke endpoint (the local services server) that Lambda Task states invoke functions through. */
  readonly lambdaEndpoint: string;
  /** Keep the execution names used in this directory, so a stack started again on it still refuses them. */
  readonly dataDir?: string;
  readonly onExecutionEnded: (ended: ExecutionEnded) => void;
  /** Lets a test make the hand-over fail (the real StartExecution's failure mode) without touching our code. */
  readonly handOverFault?: () => Error | undefined;
  /** Another definition than the poller's (the benchmark runs the blog recipe beside ours). */
  readonly definition?: string;
  readonly stateMachineName?: string;
  readonly meter?: Meter;
}

/**
 * The poller state machine run by aws-local-stepfunctions from the very same ASL that CDK deploys, with Step
 * Functions' own rules where the library has none:
 *
 * - execution names: a name is refused for 90 days after any execution used it, running or closed, except that
 *   the same name with the same input while that execution runs returns it (StartExecution is idempotent);
 *   with a data directory the names survive a restart;
 * - Lambda Task states invoke their function through the real Lambda client against the local endpoint, one
 *   attempt per task attempt, and fail with the error names Step Functions reports (see lambda-task.ts), so
 *   Retry and Catch match locally what they match on AWS; `$$.State.RetryCount` is filled in per attempt;
 * - the history of each execution is kept as AWS would record it (see aws-history.ts), for the history cap.
 *
 * The `HandOver` Task (a states:startExecution integration, which the library cannot call) starts the next
 * execution here.
 */
export class LocalStepFunctions {
  readonly stateMachineArn: string;
  readonly stateMachineName: string;
  private readonly machine: StateMachine;
  private readonly taskKinds: ReadonlyMap<string, TaskKind>;
  private readonly taskHandlers: Record<string, TaskHandler>;
  private readonly passedWaits: PassedTimestampWaits;
  private readonly lambda: LambdaClient;
  private readonly names: ExecutionNames;
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly running = new Map<string, RunningExecution>();
  private readonly histories = new Map<string, AwsHistoryEvent[]>();
  /** Attempts so far of each Lambda Task state entry, by the entry's input (the library retries with the same). */
  private readonly attempts = new WeakMap<object, number>();
  private stopped = false;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.stateMachineName = options.stateMachineName ?? LOCAL_STATE_MACHINE_NAME;
    this.stateMachineArn = localStateMachineArn(options.region, this.stateMachineName);
    const definition = JSON.parse(
      options.definition ?? renderPollerDefinition(options.controllerArn, LOCAL_PARTITION),
    ) as ConstructorParameters<typeof StateMachine>[0];
    this.machine = new StateMachine(definition);
    this.taskKinds = taskKindsOf(definition);
    this.passedWaits = PassedTimestampWaits.of(definition);
    // One attempt per call: a refused invoke reaches the state's Retry, as on AWS. Every execution's Task holds its
    // invoke open while its controller stays awake (minutes), so the SDK's default of 50 sockets would queue the
    // 51st execution's Task until another ends; Step Functions has no such limit: one socket per Task.
    this.lambda = new LambdaClient({
      ...clientConfig(localClientOptions(options.lambdaEndpoint, 1)),
      requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY }) },
    });
    this.taskHandlers = { [STATE.handOver]: (taskInput) => this.handOver(taskInput) };
    for (const [stateName, state] of Object.entries(definition.States)) {
      if (this.taskKinds.get(stateName) !== 'lambda') continue;
      this.taskHandlers[stateName] = this.lambdaTaskHandler(stateName, state as LambdaTaskState);
    }
    this.names = options.dataDir
      ? ExecutionNames.persisted(
          join(options.dataDir, 'step-functions', `${this.stateMachineName}.names.json`),
        )
      : ExecutionNames.inMemory();
  }

  /**
   * StartExecution with Step Functions' rules for names: a running execution of the same name and input is
   * returned as it is; any other use of a name an execution had in the last 90 days is ExecutionAlreadyExists.
   */
  startExecution(request: { stateMachineArn: string; input?: string; name?: string }): ExecutionRecord {
    if (this.stopped) throw new StateMachineDoesNotExistError('the local stack is shutting down');
    if (request.stateMachineArn !== this.stateMachineArn) {
      throw new StateMachineDoesNotExistError(`State Machine Does Not Exist: '${request.stateMachineArn}'`);
    }
    const name = request.name ?? randomUUID();
    const executionArn = `arn:aws:states:${this.options.region}:${LOCAL_ACCOUNT}:execution:${this.stateMachineName}:${name}`;
    const inputText = request.input ?? '{}';
    const existing = this.executions.get(executionArn);
    if (existing?.status === 'RUNNING' && existing.input === inputText) return existing;
    if (existing !== undefined || this.names.startedAt(name) !== undefined) {
      throw new ExecutionAlreadyExistsError(`Execution Already Exists: '${executionArn}'`);
    }
    let input: JsonValue;
    try {
      input = JSON.parse(inputText) as JsonValue;
    } catch (error) {
      throw new InvalidExecutionInputError(
        `Invalid State Machine Execution Input: '${describeParseError(error)}'`,
      );
    }
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: this.stateMachineArn,
      name,
      input: inputText,
      startDate: new Date(),
      status: 'RUNNING',
    };
    this.names.record(name, record.startDate.getTime());
    this.executions.set(executionArn, record);

    const execution = this.machine.run(input, {
      noThrowOnAbort: true,
      context: {
        Execution: { Id: executionArn, Name: name, Input: input, StartTime: record.startDate.toISOString() },
        StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineName },
        // Resolves `$$.State.RetryCount`; the Lambda task handler puts the attempt's real count in its payload.
        State: { RetryCount: 0 },
      },
      overrides: this.overridesFor(record),
    });
    const done = execution.result.then(
      (output) => this.finish(record, record.status === 'ABORTED' ? 'ABORTED' : 'SUCCEEDED', output),
      (error: unknown) => this.finish(record, 'FAILED', undefined, error),
    );
    this.running.set(executionArn, { abort: execution.abort, done });
    const history: AwsHistoryEvent[] = [];
    this.histories.set(executionArn, history);
    const translator = new AwsHistoryTranslator(this.taskKinds);
    const meter = this.options.meter;
    void (async () => {
      for await (const event of execution.eventLogs) {
        history.push(...translator.translate(event));
        meter?.historyEvent(executionArn, event.type, 'state' in event ? event.state.name : undefined);
      }
    })().catch(() => {});
    return record;
  }

  /** The execution's history as Step Functions would have recorded it so far (kept for recent executions). */
  historyOf(executionArn: string): readonly AwsHistoryEvent[] {
    return this.histories.get(executionArn) ?? [];
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
    this.lambda.destroy();
  }

  /**
   * One execution's task handlers and Wait overrides. The handlers run nothing once the execution has ended:
   * aws-local-stepfunctions still retries a failed Task of an aborted execution (its retry pause ends at once on
   * abort), and Step Functions never runs a state of a stopped execution. They note each result for the Waits
   * after them.
   */
  private overridesFor(record: ExecutionRecord) {
    const waits = this.passedWaits.forExecution();
    const taskResourceLocalHandlers: Record<string, TaskHandler> = {};
    for (const [stateName, handler] of Object.entries(this.taskHandlers)) {
      taskResourceLocalHandlers[stateName] = async (input) => {
        if (record.status !== 'RUNNING') {
          throw new TaskFailure(EXECUTION_ENDED_ERROR, `execution ${record.name} is ${record.status}`);
        }
        const result = await handler(input);
        waits.noteResult(stateName, result);
        return result;
      };
    }
    return { taskResourceLocalHandlers, waitTimeOverrides: waits.waitTimeOverrides };
  }

  /**
   * Invokes the state's function for each attempt. Where the Parameters pass `$$.State.RetryCount`, the attempt
   * number is put in: the library retries an entry with the very same input object, which the Parameters must
   * pass whole (`"<key>.$": "$"`) for the attempts of one entry to be told from the next entry's.
   */
  private lambdaTaskHandler(
    stateName: string,
    state: LambdaTaskState,
  ): (input: JsonValue) => Promise<JsonValue> {
    const parameters = isJsonObject(state.Parameters) ? state.Parameters : undefined;
    const keyOf = (path: string) =>
      Object.entries(parameters ?? {})
        .find(([key, value]) => key.endsWith('.$') && value === path)?.[0]
        .slice(0, -2);
    const retryCountKey = keyOf(RETRY_COUNT_PATH);
    const inputKey = keyOf('$');
    if (retryCountKey !== undefined && inputKey === undefined) {
      throw new Error(
        `state ${stateName}: the local stack fills in ${RETRY_COUNT_PATH} only when the Parameters also pass the state input whole ("<key>.$": "$")`,
      );
    }
    return async (payload) => {
      let taskInput = payload;
      if (retryCountKey !== undefined && inputKey !== undefined && isJsonObject(payload)) {
        const entryInput = payload[inputKey];
        if (typeof entryInput === 'object' && entryInput !== null) {
          const attempt = this.attempts.get(entryInput) ?? 0;
          this.attempts.set(entryInput, attempt + 1);
          taskInput = { ...payload, [retryCountKey]: attempt };
        }
      }
      return (await invokeLambdaTask(this.lambda, state.Resource, taskInput)) as JsonValue;
    };
  }

  /** The states:startExecution integration: errors named as Step Functions names that service's. */
  private handOver(taskInput: unknown): JsonValue {
    try {
      const fault = this.options.handOverFault?.();
      if (fault) throw fault;
      const { StateMachineArn, Input } = taskInput as { StateMachineArn: string; Input: unknown };
      const record = this.startExecution({ stateMachineArn: StateMachineArn, input: JSON.stringify(Input) });
      return { ExecutionArn: record.executionArn, StartDate: record.startDate.toISOString() };
    } catch (error) {
      const name = error instanceof Error ? error.name.replace(/Exception$/, '') : 'StepFunctions';
      throw new TaskFailure(
        `StepFunctions.${name}Exception`,
        error instanceof Error ? error.message : String(error),
      );
    }
  }

  private finish(record: ExecutionRecord, status: ExecutionStatus, output: unknown, error?: unknown): void {
    record.status = status;
    record.stopDate = new Date();
    this.running.delete(record.executionArn);
    this.dropOldHistories();
    if (status === 'SUCCEEDED') record.output = JSON.stringify(output);
    if (status === 'FAILED') {
      record.error = error instanceof Error ? error.name : 'Error';
      record.cause = error instanceof Error ? error.message : String(error);
    }
    this.options.onExecutionEnded({ execution: record, output });
  }

  private dropOldHistories(): void {
    for (const executionArn of this.histories.keys()) {
      if (this.histories.size <= KEPT_HISTORIES) return;
      if (!this.running.has(executionArn)) this.histories.delete(executionArn);
    }
  }
}

interface LambdaTaskState {
  readonly Resource: string;
  readonly Parameters?: unknown;
}

function describeParseError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
