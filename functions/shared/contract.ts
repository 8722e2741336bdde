/**
 * The one contract shared by the Lambda handlers, the CDK app, the local stack, the operator CLI and the tests:
 * environment variable names, control item field names and limits, and the payloads that cross the
 * Step Functions ↔ controller ↔ worker boundaries.
 */

import type { WindowRule } from '../scheduling/windows';

/** Environment variables the deployed functions read (set by the CDK stack, passed directly by the local stack). */
export const ENV = {
  controlTableName: 'CONTROL_TABLE_NAME',
  defaultTarget: 'DEFAULT_TARGET_FUNCTION',
  stateMachineArn: 'STATE_MACHINE_ARN',
  /** Worker kit: `true` adds the per-poller dimension set to its metrics (one billed metric per poller per name). */
  perPollerMetrics: 'PER_POLLER_METRICS',
  /** Worker kit: a success is recorded on the item at most once every this many seconds per poller per sandbox. */
  outcomeRecordSeconds: 'OUTCOME_RECORD_SECONDS',
  /** Fleet variant: the most shards the fleet planner lays the pollers on (README "Fleet"). */
  maxShards: 'MAX_SHARDS',
  /** Fleet variant: fires per second per shard, unset for the measured default (README "Fleet"). */
  shardCapacity: 'SHARD_CAPACITY',
} as const;

/** The fleet variant's MaxShards when none is given (SubMinuteScheduler `fleet`, `npm start -- --fleet`). */
export const DEFAULT_MAX_SHARDS = 4;
/** Shard names are `s0` to `s9999` (functions/fleet/shard-store.ts SHARD_NAME_PATTERN): at most this many shards. */
export const MAX_SHARDS_LIMIT = 10_000;

/** The poller that `npm start`, the CLI and the stack parameters use when none is named. */
export const DEFAULT_POLLER_ID = 'default';

/** The item's key attribute (the poller id). */
export const KEY_ATTRIBUTE = 'id';

/**
 * The worker kit's fields (FIELD's third group), named apart so that the worker's inline bundle carries only these.
 */
export const OUTCOME_FIELD = {
  lastResult: 'lastResult',
  lastResultSeq: 'lastResultSeq',
  lastResultAt: 'lastResultAt',
  lastResultMs: 'lastResultMs',
  lastResultDetail: 'lastResultDetail',
  failedTicks: 'failedTicks',
  recentResults: 'recentResults',
} as const;

/**
 * Attribute names on a control item. Operators own the first group; the controller only ever SETs the second; the
 * worker kit (functions/worker-kit/) records tick outcomes in the third.
 */
export const FIELD = {
  id: KEY_ATTRIBUTE,
  running: 'running',
  waitSeconds: 'waitseconds',
  target: 'target',
  payload: 'payload',
  timezone: 'timezone',
  windows: 'windows',
  overlap: 'overlap',
  seq: 'seq',
  claimedSeq: 'claimedSeq',
  generation: 'generation',
  heartbeatAt: 'heartbeatAt',
  failedFires: 'failedFires',
  restarts: 'restarts',
  lastRestartAt: 'lastRestartAt',
  lastRestartReason: 'lastRestartReason',
  lastTickAt: 'lastTickAt',
  nextTickAt: 'nextTickAt',
  skippedTicks: 'skippedTicks',
  overlapSkips: 'overlapSkips',
  lastFinishedSeq: 'lastFinishedSeq',
  lastFireMs: 'lastFireMs',
  lastError: 'lastError',
  executionArn: 'executionArn',
  stoppedReason: 'stoppedReason',
  // The fleet variant (functions/fleet/shard-store.ts): the shard serving the poller (the GSI key), a pending move,
  // the grid the serving shard last recorded (JSON of encodeLoopState) and that shard's lease epoch.
  shard: 'shard',
  moveTo: 'moveTo',
  movedAt: 'movedAt',
  shardLoop: 'shardLoop',
  shardEpoch: 'shardEpoch',
  // `ctl trigger` (scripts/ctl/commands/trigger.ts): the last request, how many were taken, the ids remembered.
  lastTrigger: 'lastTrigger',
  triggers: 'triggers',
  recentTriggers: 'recentTriggers',
  // OUTCOME_FIELD, written out: a spread would keep this whole object in the worker's bundle.
  lastResult: 'lastResult',
  lastResultSeq: 'lastResultSeq',
  lastResultAt: 'lastResultAt',
  lastResultMs: 'lastResultMs',
  lastResultDetail: 'lastResultDetail',
  failedTicks: 'failedTicks',
  recentResults: 'recentResults',
} as const satisfies Record<string, string> & typeof OUTCOME_FIELD;

/** Limits on `waitseconds`: milliseconds are the resolution; below a second the controller stays awake. */
export const WAIT_SECONDS_LIMITS = { min: 0.1, max: 3600 } as const;

/**
 * The controller's Lambda timeout. Staying awake between ticks, one invocation serves many of them and hands
 * back to Step Functions well before this; longer invocations mean fewer (billed) Step Functions rounds.
 */
export const CONTROLLER_TIMEOUT_SECONDS = 900;

/** A poller id is a DynamoDB key and part of log lines and execution inputs: keep it printable and short. */
export const POLLER_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The largest operator `payload` (as JSON) the worker receives: async invoke payloads are capped at 256 KB. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

/**
 * At most this many window rules on one item: the loop state carries their texts through every Step Functions
 * round, and an operator's week needs a handful.
 */
export const MAX_WINDOW_RULES = 32;

/**
 * What a tick does while the previous fire of its poller is still running: `allow` fires anyway (asynchronous
 * invoke, the default); `skip` invokes synchronously, and a tick that comes while the previous call has not
 * answered is not fired (counted in `overlapSkips`). See README "Overlap policy".
 */
export const OVERLAP_POLICIES = ['allow', 'skip'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** The operator-controlled configuration after validation. */
export interface PollerConfig {
  readonly running: boolean;
  /** The interval outside every window (the item's `waitseconds`). */
  readonly intervalMs: number;
  /** Function name or ARN to fire; undefined means the stack's default worker. */
  readonly target?: string | undefined;
  readonly payload?: Readonly<Record<string, unknown>> | undefined;
  /** IANA time zone the window rules are read in; undefined means UTC. */
  readonly timeZone?: string | undefined;
  /** Window rules in list order (the first whose window contains an instant wins); undefined means none. */
  readonly windows?: readonly WindowRule[] | undefined;
  /** undefined means `allow` (the loop state carries only `skip`). */
  readonly overlap?: OverlapPolicy | undefined;
}

/** PollerConfig as it travels through Step Functions (JSON): each window rule as the text the operator wrote. */
export type PollerConfigWire = Omit<PollerConfig, 'windows'> & { readonly windows?: readonly string[] };

/**
 * The loop's own state, carried from one controller invocation to the next through Step Functions and across
 * self-restarts. It is the authority on `seq` and the schedule; the item's copies are for operators.
 */
export interface LoopState {
  /** The seq of the next tick to fire (the first tick of a new loop is 1). */
  readonly nextSeq: number;
  /** Epoch ms at which tick `anchorSeq` is (or was) due; tick k is due at anchorAt + (k - anchorSeq) × intervalMs. */
  readonly anchorAt: number;
  readonly anchorSeq: number;
  /** The fencing token this loop took when it started; a higher one on the item means it was superseded. */
  readonly generation: number;
  /** The highest seq this loop has claimed on the item; ticks above it need a new claim before they fire. */
  readonly claimedThroughSeq: number;
  /** The last valid configuration, used when the item turns invalid. */
  readonly config: PollerConfig;
  /** The execution that carried this state last; a different one means a hand-over happened. */
  readonly executionId: string;
  /** History events this execution has used so far (counted per round, see functions/scheduling/history-budget). */
  readonly historyEvents: number;
  /** Restart into a fresh execution once `historyEvents` reaches this; carried so tests can force it early. */
  readonly historyBudget: number;
  readonly skippedTicks: number;
  /**
   * The interval the grid runs at when a window's cadence is in force (the window the anchor lies in); undefined
   * outside every window, where the grid follows `config.intervalMs`.
   */
  readonly windowIntervalMs?: number | undefined;
  /**
   * A pause window holds the loop: no tick before `anchorAt`, the first instant after the pause (or the end of the
   * week searched for one). Until then the loop only checks in (reads the item, writes its heartbeat).
   */
  readonly paused?: boolean | undefined;
}

/** LoopState as it travels through Step Functions (JSON); parsed back by functions/controller/parse-input.ts. */
export type LoopStateWire = Omit<LoopState, 'config'> & { readonly config: PollerConfigWire };

/** What Step Functions passes to the controller: a fresh start, or the previous round's output. */
export interface ControllerInput {
  readonly pollerId?: unknown;
  readonly loop?: unknown;
  /** On a start by the starter: the generation it took (the round recognises its own start by the execution the item names). */
  readonly generation?: unknown;
  /** Optional on a fresh start: overrides the history budget (tests force early self-restarts with it). */
  readonly historyBudget?: unknown;
  /** Errors the previous round could not record on the item. */
  readonly pendingErrors?: unknown;
  /** Set by the state machine's Catch when a hand-over could not start the next execution. */
  readonly handOverFailure?: unknown;
  /** Set by the state machine's Catch when the previous controller attempt failed. */
  readonly lastFailure?: unknown;
  /** The previous healthy round's wakeAt, still in the state after failed rounds (the history budget uses it). */
  readonly wakeAt?: unknown;
}

/** What a round returns; the state machine waits until `wakeAt` and runs the next round with it. */
export interface ControllerOutput {
  readonly pollerId: string;
  /** ISO timestamp on a whole second (a Wait state ignores milliseconds), at or before the next tick. */
  readonly wakeAt: string;
  readonly loop: LoopStateWire;
  /** Errors this round could not write on the item (the table was unreachable); the next round records them. */
  readonly pendingErrors?: readonly string[];
}

/** What a worker did for a tick. */
export const TICK_RESULTS = ['ok', 'failed'] as const;
export type TickResult = (typeof TICK_RESULTS)[number];

/** One tick's outcome as the worker kit records it on the control item (and `ctl history` prints it). */
export interface TickOutcome {
  readonly seq: number;
  readonly result: TickResult;
  /** ISO time the work ended. */
  readonly at: string;
  /** How long the work took, ms. */
  readonly durationMs: number;
  /** What happened, for a human: `HTTP 404`, `ECONNREFUSED …`; absent when the worker said nothing. */
  readonly detail?: string | undefined;
  /** The request id of a `ctl trigger` fire; absent for a scheduled tick. */
  readonly trigger?: string | undefined;
}

/**
 * Recording outcomes cheaply (README "Tick outcomes"): every failure is written; a success only when it is the
 * first a sandbox sees for a poller, the first after a failure it recorded, or this long after its last write.
 */
export const DEFAULT_OUTCOME_RECORD_SECONDS = 10;

/**
 * The item keeps the recent recorded outcomes (`recentResults`, oldest first): at least RECENT_RESULTS_KEPT, trimmed
 * back to that once it reaches RECENT_RESULTS_TRIM_AT (one extra write per few outcomes, not one per outcome).
 */
export const RECENT_RESULTS_KEPT = 10;
export const RECENT_RESULTS_TRIM_AT = 15;

/**
 * A recorded detail is for a human: short enough to keep the item small. `lastResultDetail` keeps up to
 * MAX_TICK_DETAIL_LENGTH UTF-16 code units, each `recentResults` entry up to MAX_RECENT_DETAIL_LENGTH; both are cut
 * on a code-point boundary (README "Tick outcomes" gives the item's size bound they make).
 */
export const MAX_TICK_DETAIL_LENGTH = 200;
export const MAX_RECENT_DETAIL_LENGTH = 60;

/**
 * The event each worker invocation receives. `pollerId` + `seq` identify a scheduled tick (an idempotency key);
 * a `ctl trigger` fire also carries `trigger` (its request id), and its `seq` is minus its number among the
 * poller's triggers (-1, -2, …): never a scheduled tick's seq (those start at 1).
 */
export interface WorkerEvent {
  readonly pollerId: string;
  readonly seq: number;
  readonly scheduledAt: string;
  readonly payload?: Readonly<Record<string, unknown>>;
  readonly trigger?: string;
}

/** A `ctl trigger` request id (`--id`, or one the CLI makes): printable and short, it is part of an item's list. */
export const TRIGGER_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The item remembers the ids of a poller's last TRIGGER_IDS_KEPT triggers (`recentTriggers`, each next to the run
 * that recorded it: functions/shared/trigger-write.ts runEntry), trimmed back once the list holds TRIGGER_IDS_TRIM_AT
 * requests: a request repeated with one of these ids fires nothing.
 */
export const TRIGGER_IDS_KEPT = 20;
/**
 * How a trigger request stands (`lastTrigger.state`): `claimed` (recorded, its fire not confirmed: the ctl run is
 * firing it, or ended before it could say), `fired` (Lambda accepted the async invoke), `refused` (Lambda answered
 * the invoke with an error status: nothing fired, and the same id may be tried again, with the same seq), `unknown`
 * (the invoke ended without Lambda's answer, a dropped connection or a timeout: it may have fired; not retried).
 */
export const TRIGGER_STATES = ['claimed', 'fired', 'refused', 'unknown'] as const;
export type TriggerState = (typeof TRIGGER_STATES)[number];
export const TRIGGER_IDS_TRIM_AT = 30;

/**
 * Error names the controller ends a round with to leave the loop; the state machine's Catch routes on them.
 * Rare by design: a Choice state would cost a state transition in every round.
 */
export const SIGNAL = {
  /** The loop ends (the message is the reason); the execution succeeds in its Stopped state. */
  stopped: 'PollerStopped',
  /** The history budget is spent: start a fresh execution with the same loop state. Nothing was fired. */
  handOver: 'HandOverRequested',
} as const;

/** Why a loop stopped, as reported in the execution output and by the local stack. */
export const STOP_REASON = {
  runningFalse: 'running is false',
  itemMissing: 'control item not found',
  invalidConfig: 'control item invalid and no earlier valid configuration',
  superseded: 'superseded',
  /** A console start (or a stale retry) found another loop alive and left the poller to it. */
  alreadyRunning: 'another loop is running',
} as const;

/** The input a start gives the execution it names (functions/starter/start-loop.ts): the same for a repeated request. */
export interface StartInput {
  readonly pollerId: string;
  readonly generation: number;
  /** Overrides the history budget (the local stack's tests force early self-restarts with it). */
  readonly historyBudget?: number;
}
