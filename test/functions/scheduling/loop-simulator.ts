import {
  closeRound,
  DEFAULT_TIMING,
  handOverDue,
  planContinuation,
  planTick,
  type Timing,
} from '../../../functions/scheduling/plan-round';
import type { LoopState, PollerConfig } from '../../../functions/shared/contract';

/** Deliberately not on a whole second, so whole-second wake-ups are visible. */
export const T0 = Date.parse('2030-01-01T00:00:00.250Z');

export const config = (intervalMs: number, overrides: Partial<PollerConfig> = {}): PollerConfig => ({
  running: true,
  intervalMs,
  ...overrides,
});

/** Small seeded PRNG (mulberry32) so simulated latencies are random yet reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface FiredTick {
  readonly seq: number;
  readonly dueAt: number;
  readonly firedAt: number;
  readonly skipped: number;
  readonly executionId: string;
  /** The controller invocation (1, 2, …) that fired it. */
  readonly invocation: number;
  /** The claim on the (simulated) item when the tick was fired. */
  readonly claimedThroughAtFire: number;
}

export interface HandBack {
  readonly atMs: number;
  readonly deadlineMs: number;
  readonly wakeAt: number;
  readonly restart: boolean;
  readonly historyEvents: number;
}

export interface Claim {
  readonly fromSeq: number;
  readonly throughSeq: number;
  /** What the item said was claimed before this claim. */
  readonly claimedBefore: number;
  readonly invocation: number;
}

export interface SimulationOptions {
  readonly intervalMs: number;
  readonly ticks: number;
  readonly seed: number;
  /** How late Step Functions starts an invocation after `wakeAt` (or after a hand-over): 0 … this. */
  readonly maxWakeLateMs: number;
  /** How long an invocation may run: its deadline is this long after it starts. */
  readonly invocationMs: (random: () => number) => number;
  /** Latency of each control item read, claim write and worker invoke: 0 … this. */
  readonly maxIoMs?: number;
  readonly historyBudget?: number;
  readonly lastSeqOnItem?: number;
  readonly timing?: Timing;
}

export interface SimulationResult {
  readonly fired: FiredTick[];
  readonly handBacks: HandBack[];
  readonly claims: Claim[];
  readonly invocations: number;
  readonly executions: string[];
  readonly last: LoopState;
}

/**
 * Drives planTick, planContinuation and closeRound exactly the way functions/controller/run-round.ts does, on a
 * simulated clock: read the item, plan, claim before firing, sleep to the due time, fire, then stay awake (sleep
 * to `readAt`) or hand back. Step Functions then waits until `wakeAt` and starts the next invocation a little
 * late; a restart hands the loop to a fresh execution (new executionId) that runs at once.
 */
export function simulateLoop(options: SimulationOptions): SimulationResult {
  const random = seededRandom(options.seed);
  const upTo = (maxMs: number) => Math.floor(random() * (maxMs + 1));
  const io = () => upTo(options.maxIoMs ?? 0);
  const timing = options.timing ?? DEFAULT_TIMING;
  const historyBudget = options.historyBudget ?? 20_000;
  const fired: FiredTick[] = [];
  const handBacks: HandBack[] = [];
  const claims: Claim[] = [];
  const executions = ['exec-1'];
  let itemClaimedSeq = options.lastSeqOnItem ?? 0;
  let loop: LoopState | undefined;
  let nowMs = T0;
  let invocations = 0;

  while (fired.length < options.ticks) {
    invocations += 1;
    if (invocations > options.ticks * 4 + 10) throw new Error('simulation is not making progress');
    const executionId = executions.at(-1) as string;
    const deadlineMs = nowMs + options.invocationMs(random);
    let claimedThisInvocation = false;
    for (;;) {
      nowMs += io(); // the control item read
      const plan = planTick({
        pollerId: 'orders',
        loop,
        reading: { config: config(options.intervalMs), problems: [] },
        lastSeqOnItem: itemClaimedSeq,
        generation: 1,
        executionId,
        historyBudget,
        claimRequired: !claimedThisInvocation,
        nowMs,
        timing,
      });
      if (plan.kind === 'stop') throw new Error(`unexpected stop: ${plan.reason}`);
      if (plan.kind === 'fire') {
        if (plan.claimThrough !== undefined) {
          claims.push({
            fromSeq: plan.seq,
            throughSeq: plan.claimThrough,
            claimedBefore: itemClaimedSeq,
            invocation: invocations,
          });
          itemClaimedSeq = plan.claimThrough;
          claimedThisInvocation = true;
          nowMs += io(); // the claim write
        }
        nowMs = Math.max(nowMs, plan.dueAt);
        fired.push({
          seq: plan.seq,
          dueAt: plan.dueAt,
          firedAt: nowMs,
          skipped: plan.skipped,
          executionId,
          invocation: invocations,
          claimedThroughAtFire: itemClaimedSeq,
        });
        nowMs += io(); // the async invoke
      }
      loop = plan.next;
      const continuation = planContinuation(loop, nowMs, deadlineMs, timing);
      if (continuation.kind === 'hand-back') {
        const next = closeRound(loop, executionId, 0);
        // The next round of this execution would ask for a hand-over before firing anything.
        const restart = handOverDue(next, executionId);
        loop = next;
        handBacks.push({
          atMs: nowMs,
          deadlineMs,
          wakeAt: continuation.wakeAt,
          restart,
          historyEvents: next.historyEvents,
        });
        if (restart) {
          // HandOver starts a fresh execution whose first round runs the controller without waiting.
          executions.push(`exec-${executions.length + 1}`);
          nowMs += upTo(options.maxWakeLateMs);
        } else {
          nowMs = Math.max(nowMs, continuation.wakeAt) + upTo(options.maxWakeLateMs);
        }
        break;
      }
      nowMs = Math.max(nowMs, continuation.readAt);
    }
  }
  if (loop === undefined) throw new Error('no round ran');
  return { fired, handBacks, claims, invocations, executions, last: loop };
}
