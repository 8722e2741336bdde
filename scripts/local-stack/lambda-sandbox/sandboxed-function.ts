import { randomUUID } from 'node:crypto';
import type { FunctionRuntime, RunOutcome, RunRequest } from '../function-runtime';
import { Sandbox, SandboxInitError, type SandboxSpec } from './sandbox';

/**
 * A function whose invocations run in sandbox processes as on Lambda: an idle (warm, frozen) sandbox is reused,
 * the most recently used first; an invocation that finds none idle (a concurrent one) starts a new sandbox, a cold
 * start. Idle sandboxes live until the local stack stops (Lambda reaps them after minutes of idleness).
 */
export class SandboxedFunction implements FunctionRuntime {
  private readonly idle: Sandbox[] = [];
  private readonly sandboxes = new Set<Sandbox>();
  private readonly starting = new Set<Promise<unknown>>();
  private deadlineCapMs = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(private readonly spec: SandboxSpec) {}

  get functionName(): string {
    return this.spec.functionName;
  }

  get memoryMb(): number {
    return this.spec.memoryMb;
  }

  /** Process ids of the sandboxes alive now (tests look at them). */
  get pids(): number[] {
    return [...this.sandboxes].map((sandbox) => sandbox.pid);
  }

  async run(request: RunRequest): Promise<RunOutcome> {
    const sandbox = this.takeIdle() ?? (await this.coldStart());
    if (!(sandbox instanceof Sandbox)) return sandbox;
    const requestId = request.requestId ?? randomUUID();
    const outcome = await sandbox.run({
      requestId,
      event: request.event,
      deadlineMs: Math.min(Date.now() + this.spec.timeoutMs, this.deadlineCapMs),
      ...(request.killAfterMs !== undefined ? { killAfterMs: request.killAfterMs } : {}),
      onStart: request.onStart,
    });
    if (sandbox.idle && !this.closed) this.idle.push(sandbox);
    return outcome;
  }

  endDeadlinesBy(atMs: number): void {
    this.deadlineCapMs = Math.min(this.deadlineCapMs, atMs);
    for (const sandbox of this.sandboxes) sandbox.endDeadlineBy(atMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    // The running ones first, at once: nothing they hold may go out while a cold start finishes (it is killed
    // as soon as it is up, see coldStart).
    const killing = [...this.sandboxes].map((sandbox) => sandbox.kill('shutdown'));
    await Promise.allSettled([...this.starting]);
    await Promise.all(killing);
  }

  private takeIdle(): Sandbox | undefined {
    for (let sandbox = this.idle.pop(); sandbox !== undefined; sandbox = this.idle.pop()) {
      if (sandbox.idle) return sandbox;
    }
    return undefined;
  }

  /** A new sandbox, or the error Lambda reports when its init phase fails. */
  private async coldStart(): Promise<Sandbox | RunOutcome> {
    if (this.closed) throw new Error(`${this.spec.functionName}: the local stack is stopping`);
    const starting = Sandbox.start(this.spec);
    this.starting.add(starting);
    try {
      const sandbox = await starting;
      if (this.closed) {
        await sandbox.kill('shutdown');
        throw new Error(`${this.spec.functionName}: the local stack is stopping`);
      }
      this.sandboxes.add(sandbox);
      sandbox.onDeath = () => {
        this.sandboxes.delete(sandbox);
        const index = this.idle.indexOf(sandbox);
        if (index >= 0) this.idle.splice(index, 1);
      };
      return sandbox;
    } catch (error) {
      if (error instanceof SandboxInitError) return { outcome: { error: error.result }, durationMs: 0 };
      throw error;
    } finally {
      this.starting.delete(starting);
    }
  }
}
