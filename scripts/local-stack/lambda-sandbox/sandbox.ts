import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describeCause, SubMinuteError } from '../../../functions/shared/errors';
import type { RunOutcome } from '../function-runtime';
import type { CpuCgroup, CpuConfinement } from './cpu-share';
import { nodeMemoryFlags } from './lambda-environment';
import { type FunctionErrorResult, parseSandboxMessage, type SandboxMessage } from './protocol';

/** One line a sandbox wrote to stdout or stderr (the handler's logs: CloudWatch on AWS). */
export interface SandboxLogLine {
  readonly functionName: string;
  readonly pid: number;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

export interface SandboxSpec {
  readonly functionName: string;
  readonly functionArn: string;
  readonly memoryMb: number;
  /** The function's timeout; the sandbox is killed when an invocation runs longer. */
  readonly timeoutMs: number;
  /** The runtime shim (bundled) the process runs. */
  readonly shimPath: string;
  /** The task root (Lambda's working directory). */
  readonly taskRoot: string;
  /** The whole environment of the process. */
  readonly environment: Readonly<Record<string, string>>;
  readonly confinement: CpuConfinement;
  readonly onLogLine: (line: SandboxLogLine) => void;
}

export interface SandboxInvocation {
  readonly requestId: string;
  readonly event: unknown;
  /** Epoch ms the handler's `getRemainingTimeInMillis` counts to (the timeout, or earlier when stopping). */
  readonly deadlineMs: number;
  /** Fault injection: SIGKILL the sandbox this long after the handler started. */
  readonly killAfterMs?: number;
  /** Called with the sandbox's own clock (epoch ms, sub-millisecond) when the handler was called. */
  readonly onStart: (startedAt: number) => void;
}

/** What an invocation gave, its duration measured in the sandbox (until the kill when the sandbox died). */
export type SandboxOutcome = RunOutcome;

/** The sandbox's init phase failed (the bundle did not load): Lambda reports this error to the invocation. */
export class SandboxInitError extends SubMinuteError {
  override readonly name = 'SandboxInitError';
  constructor(
    readonly functionName: string,
    readonly result: FunctionErrorResult,
  ) {
    super(`${functionName}: init failed: ${result.errorType}: ${result.errorMessage}`);
  }
}

type SandboxState = 'idle' | 'busy' | 'dead';

interface InFlight {
  readonly invocation: SandboxInvocation;
  deadlineMs: number;
  /** Parent's clock when the invocation was sent: the duration's start if the sandbox dies before `started`. */
  readonly sentAt: number;
  startedAt?: number;
  readonly timers: ReturnType<typeof setTimeout>[];
  readonly finish: (outcome: SandboxOutcome) => void;
}

/** Why the parent killed the sandbox, so the invocation gets the error Lambda gives for it. */
type KillReason = 'timeout' | 'injected' | 'shutdown' | { readonly protocolError: string };

const preciseNow = () => performance.timeOrigin + performance.now();

/** Every sandbox process alive in this process: killed on exit, so no frozen process outlives the local stack. */
const liveProcesses = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const live of liveProcesses) live.kill('SIGKILL');
    });
  }
  liveProcesses.add(child);
  child.once('exit', () => liveProcesses.delete(child));
}

/**
 * One Lambda execution environment: a Node.js process running the runtime shim, reused for one invocation at a
 * time, frozen (SIGSTOP) between invocations so its timers do not run, and confined to its memory's CPU share
 * once its init phase is over.
 */
export class Sandbox {
  private state: SandboxState = 'idle';
  private inFlight: InFlight | undefined;
  private killReason: KillReason | undefined;
  private cgroup: CpuCgroup | undefined;
  private readonly exited: Promise<void>;
  /** Called once when the process has ended, whatever the cause. */
  onDeath: () => void = () => {};

  private constructor(
    private readonly spec: SandboxSpec,
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {
    this.exited = new Promise((resolve) => {
      // 'close' comes after the IPC channel and the output pipes are drained: no message is lost to a race.
      child.once('close', (code, signal) => {
        this.onClose(code, signal);
        resolve();
      });
    });
    child.on('message', (raw) => {
      let message: SandboxMessage;
      try {
        message = parseSandboxMessage(raw);
      } catch (error) {
        // A runtime that speaks nonsense is broken: end it, as Lambda ends a runtime that breaks its API.
        void this.kill({ protocolError: describeCause(error) });
        return;
      }
      this.onMessage(message);
    });
  }

  /** Starts a process and runs its init phase (loading the bundle); confines it afterwards, frozen. */
  static async start(spec: SandboxSpec): Promise<Sandbox> {
    const child = fork(spec.shimPath, [], {
      cwd: spec.taskRoot,
      env: spec.environment,
      // Not the local stack's own flags (tsx's loader): the runtime's, sized to the function's memory.
      execArgv: nodeMemoryFlags(spec.memoryMb),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const pid = child.pid;
    if (pid === undefined) {
      const error = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw new Error(`${spec.functionName}: could not start a sandbox process: ${error.message}`);
    }
    // A message sent to a process that has just died fails here; its 'close' reports the death to the invocation.
    child.on('error', () => {});
    track(child);
    for (const stream of ['stdout', 'stderr'] as const) {
      const input = child[stream];
      if (!input) continue;
      createInterface({ input }).on('line', (line) =>
        spec.onLogLine({ functionName: spec.functionName, pid, stream, line }),
      );
    }
    const init = await new Promise<SandboxMessage | { type: 'exit'; description: string }>((resolve) => {
      child.once('message', (raw) => {
        try {
          resolve(parseSandboxMessage(raw));
        } catch (error) {
          resolve({ type: 'exit', description: describeCause(error) });
        }
      });
      child.once('close', (code, signal) =>
        resolve({ type: 'exit', description: exitDescription(code, signal) }),
      );
    });
    if (init.type !== 'ready') {
      child.kill('SIGKILL');
      const error =
        init.type === 'init-error'
          ? { errorType: init.errorType, errorMessage: init.errorMessage }
          : {
              errorType: 'Runtime.ExitError',
              errorMessage: `Runtime exited with error: ${init.type === 'exit' ? init.description : `unexpected ${init.type} message`}`,
            };
      throw new SandboxInitError(spec.functionName, error);
    }
    const sandbox = new Sandbox(spec, child, pid);
    try {
      sandbox.cgroup = await spec.confinement.confine(pid, spec.memoryMb);
    } catch (error) {
      await sandbox.kill('shutdown');
      throw error;
    }
    sandbox.freeze();
    return sandbox;
  }

  get idle(): boolean {
    return this.state === 'idle';
  }

  /** Runs one invocation (the sandbox must be idle): thaws, sends it, and freezes again once it has ended. */
  run(invocation: SandboxInvocation): Promise<SandboxOutcome> {
    if (this.state !== 'idle') {
      throw new Error(`${this.spec.functionName}: sandbox ${this.pid} is ${this.state}, not idle`);
    }
    this.state = 'busy';
    const { promise, resolve } = Promise.withResolvers<SandboxOutcome>();
    const inFlight: InFlight = {
      invocation,
      deadlineMs: invocation.deadlineMs,
      sentAt: preciseNow(),
      // Lambda's timeout counts from the invocation's start whatever the handler is told; it kills the sandbox.
      timers: [setTimeout(() => void this.kill('timeout'), this.spec.timeoutMs)],
      finish: (outcome) => {
        for (const timer of inFlight.timers) clearTimeout(timer);
        this.inFlight = undefined;
        if (this.state === 'busy') {
          this.state = 'idle';
          this.freeze();
        }
        resolve(outcome);
      },
    };
    this.inFlight = inFlight;
    this.thaw();
    this.child.send({
      type: 'invoke',
      requestId: invocation.requestId,
      event: invocation.event,
      deadlineMs: invocation.deadlineMs,
      invokedFunctionArn: this.spec.functionArn,
    });
    return promise;
  }

  /** Moves the running invocation's deadline earlier: the handler sees less remaining time from now on. */
  endDeadlineBy(atMs: number): void {
    const inFlight = this.inFlight;
    if (!inFlight || atMs >= inFlight.deadlineMs) return;
    inFlight.deadlineMs = atMs;
    this.child.send({ type: 'deadline', requestId: inFlight.invocation.requestId, deadlineMs: atMs });
  }

  /** SIGKILL (works on a frozen process too); resolves once the process is gone and its cgroup removed. */
  async kill(reason: KillReason): Promise<void> {
    if (this.state !== 'dead') {
      this.killReason ??= reason;
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }

  private onMessage(message: SandboxMessage): void {
    const inFlight = this.inFlight;
    if (!inFlight || !('requestId' in message) || message.requestId !== inFlight.invocation.requestId) return;
    switch (message.type) {
      case 'started': {
        inFlight.startedAt = message.startedAt;
        const { killAfterMs } = inFlight.invocation;
        if (killAfterMs !== undefined)
          inFlight.timers.push(setTimeout(() => void this.kill('injected'), killAfterMs));
        inFlight.invocation.onStart(message.startedAt);
        return;
      }
      case 'result':
        inFlight.finish({ outcome: { result: message.result }, durationMs: message.durationMs });
        return;
      case 'error':
        inFlight.finish({
          outcome: { error: { errorType: message.errorType, errorMessage: message.errorMessage } },
          durationMs: message.durationMs || preciseNow() - (inFlight.startedAt ?? inFlight.sentAt),
        });
        return;
    }
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    this.state = 'dead';
    const inFlight = this.inFlight;
    if (inFlight) {
      const requestId = inFlight.invocation.requestId;
      const reason = this.killReason;
      const error: FunctionErrorResult =
        reason === 'timeout'
          ? {
              errorType: 'Sandbox.Timedout',
              errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(this.spec.timeoutMs / 1000).toFixed(2)} seconds`,
            }
          : {
              errorType: 'Runtime.ExitError',
              errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${
                typeof reason === 'object' ? reason.protocolError : exitDescription(code, signal)
              }`,
            };
      inFlight.finish({
        outcome: { error },
        // Lambda reports (and bills) a timed-out invocation as its whole timeout, which runs from dispatch; the
        // handler itself may have started a little later.
        durationMs:
          reason === 'timeout' ? this.spec.timeoutMs : preciseNow() - (inFlight.startedAt ?? inFlight.sentAt),
      });
    }
    void (this.cgroup?.release() ?? Promise.resolve()).finally(() => this.onDeath());
  }

  private freeze(): void {
    this.signal('SIGSTOP');
  }

  private thaw(): void {
    this.signal('SIGCONT');
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.pid, signal);
    } catch {
      // Already gone: 'close' reports it.
    }
  }
}

/** As Lambda words it: "signal: killed", "exit status 1". */
function exitDescription(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGKILL') return 'signal: killed';
  if (signal !== null) return `signal: ${signal}`;
  return `exit status ${code ?? 'unknown'}`;
}
