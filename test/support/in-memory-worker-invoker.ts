import type { WorkerEvent } from '../../functions/shared/contract';
import { WorkerInvokeError } from '../../functions/shared/errors';
import type {
  FireAnswer,
  FireInFlight,
  SendHold,
  WorkerInvoker,
} from '../../functions/shared/worker-invoker';
import type { SimulatedClock } from './simulated-clock';

/** A request the controller opened: a tick at `openAt` of its hold, or a DryRun warm-up when it was asked for. */
export interface OpenedRequest {
  readonly functionName: string;
  readonly invocationType: 'Event' | 'RequestResponse' | 'DryRun';
  /** The simulated time it was opened. */
  readonly sentAt: number;
}

/** A tick's invoke that went out (its hold released it), whether or not the invoke then failed. */
export interface ReleasedInvoke {
  readonly functionName: string;
  readonly invocationType: 'Event' | 'RequestResponse';
  readonly event: WorkerEvent;
  /** The simulated time the hold released it: when the whole request had arrived. */
  readonly receivedAt: number;
}

/**
 * The Lambda Invoke API in memory, for the controller's unit tests: it passes through the send hold as
 * fireWorker does (opened at `openAt`, sent or withheld at `releaseAt`) and notes each invoke at the simulated time
 * it was released. An invoke of a target `failureOf` names a cause for fails with WorkerInvokeError, as a refused
 * invoke does, after it went out.
 */
export class InMemoryWorkerInvoker implements WorkerInvoker {
  readonly opened: OpenedRequest[] = [];
  readonly released: ReleasedInvoke[] = [];
  /** Called as an invoke arrives, before it is answered: a test reads the state of the world at that moment. */
  onInvoke: ((invoke: ReleasedInvoke) => void) | undefined;

  constructor(
    private readonly clock: SimulatedClock,
    private readonly failureOf: (target: string) => Error | undefined = () => undefined,
  ) {}

  fire(target: string, event: WorkerEvent, hold: SendHold): Promise<'sent' | 'withheld'> {
    return this.release(target, event, hold, 'Event');
  }

  private async release(
    target: string,
    event: WorkerEvent,
    hold: SendHold,
    invocationType: ReleasedInvoke['invocationType'],
  ): Promise<'sent' | 'withheld'> {
    await hold.openAt();
    this.opened.push({ functionName: target, invocationType, sentAt: this.clock.peek() });
    if (!(await hold.releaseAt())) return 'withheld';
    const invoke: ReleasedInvoke = {
      functionName: target,
      invocationType,
      event,
      receivedAt: this.clock.peek(),
    };
    this.released.push(invoke);
    this.onInvoke?.(invoke);
    const failure = this.failureOf(target);
    if (failure !== undefined) throw new WorkerInvokeError(event.pollerId, target, event.seq, failure);
    return 'sent';
  }

  /**
   * A synchronous fire (overlap `skip`): released as `fire` releases it; its answer is what `answerOf` gives
   * (by default a success, answered at once), so a test decides when the worker finishes by when it resolves.
   */
  answerOf: (event: WorkerEvent) => Promise<FireAnswer> = async (event) => ({
    kind: 'succeeded',
    seq: event.seq,
    answeredAtMs: this.clock.peek(),
  });

  async fireAwaitingAnswer(
    target: string,
    event: WorkerEvent,
    hold: SendHold,
  ): Promise<'withheld' | FireInFlight> {
    const sent = await this.release(target, event, hold, 'RequestResponse');
    if (sent === 'withheld') return sent;
    return { seq: event.seq, answer: this.answerOf(event) };
  }

  async warm(target: string): Promise<void> {
    this.opened.push({ functionName: target, invocationType: 'DryRun', sentAt: this.clock.peek() });
  }

  /** Nothing to close: it holds no connections. */
  destroy(): void {}
}
