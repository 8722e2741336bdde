import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ENV } from '../shared/contract';
import { isRecord, optionalString } from '../shared/decode';
import {
  ControlItemWriteError,
  describeCause,
  InvalidSeedEventError,
  MissingEnvironmentError,
} from '../shared/errors';
import type { Logger } from '../shared/logger';
import { type CallOptions, PollerTable, type SeedWrite } from '../shared/poller-table';
import { type CfnResponse, type SendResponse, shortenReason } from './cfn-response';
import {
  declaredFields,
  parseSeedPollers,
  SEED_PROPERTY,
  type SeedRequest,
  seedPhysicalId,
  seedWrite,
} from './seed-properties';
import { type LoopStopperDeps, stopAllLoops } from './stop-loops';

/** The loop state machine and the client that stops its executions (the table is the seeder's own). */
export type SeedLoops = Omit<LoopStopperDeps, 'table'>;

/** The fields of a custom resource request the seeder uses. */
export interface SeedEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties?: unknown;
  readonly OldResourceProperties?: unknown;
}

export interface SeederDeps {
  readonly dynamoDb: DynamoDBClient;
  /** The one table this seeder may write (its environment); undefined answers every write with FAILED. */
  readonly tableName: string | undefined;
  readonly sendResponse: SendResponse;
  readonly log: Logger;
  /** The loop state machine: Delete stops every execution of it. */
  readonly loops: SeedLoops;
  /**
   * Starts a seeded poller whose `running` the seed wrote as true; its outcome's `kind` goes into the answer's Data.
   * A loop of its own (startLoop with `loops`, handler.ts), or a place on a shard (fleet-handler.ts). Given by the
   * entry, so that each bundle carries only its own way of starting.
   */
  readonly startSeeded: (pollerId: string) => Promise<{ readonly kind: string }>;
  /** The write gives up after this, so a response always goes out before the Lambda timeout. */
  readonly writeTimeoutMs?: number;
  /** Starting the seeded loop gives up after this; the watchdog starts it later. */
  readonly startTimeoutMs?: number;
  /** Stopping the loops on Delete gives up after this, and the stack deletion goes on. */
  readonly stopTimeoutMs?: number;
}

export type SeedOutcome = 'written' | 'unchanged' | 'deleted' | 'failed';

/**
 * The budgets of one answer. Each is well within the resource's ServiceTimeout (SEED_SERVICE_TIMEOUT_SECONDS), so
 * CloudFormation always gets an answer: Create and Update take at most write + start + response, Delete at most
 * stop + response (RESPONSE_TIMEOUT_MS).
 */
export const DEFAULT_WRITE_TIMEOUT_MS = 15_000;
export const DEFAULT_START_TIMEOUT_MS = 20_000;
export const DEFAULT_STOP_TIMEOUT_MS = 90_000;

/** What the seed did to the poller's loop, reported in the response's Data (and Reason when it went wrong). */
export const SEED_DATA = { loopStart: 'LoopStart', loopsStopped: 'LoopsStopped' } as const;

/** What the seed did to the loops, for the answer's Data, and a problem that does not fail the stack. */
interface SeedReport {
  readonly data?: Readonly<Record<string, string>>;
  readonly warning?: string;
}

/** One poller's start: its outcome (`started`, `running`, …, or `failed`) and its report. */
interface StartReport extends SeedReport {
  readonly kind: string;
}

interface SeedResult extends SeedReport {
  readonly outcome: SeedOutcome;
  readonly physicalId: string;
}

/**
 * Handles one custom resource request and always answers it, so a stack never hangs on the seed:
 * Create writes every declared field of each seeded poller (`running`, `waitseconds`, and `target`, `payload`,
 * `timezone`, `windows`, `overlap` when declared), creating the item if missing; so does Update for a poller the
 * previous seed did not list. For a poller it did, Update writes only the fields whose declared value changed
 * (operators steer the items live; an unrelated stack update must not reset them), and only to an item that exists:
 * one an operator deleted is not re-created (it would hold only the changed fields). It REMOVEs an optional field
 * the previous seed declared and this one does not (seed-properties.ts seedWrite) only while the item still holds
 * the value that seed wrote; an operator's later value stays. It switches off (`running`=false, item kept) each
 * poller the previous seed listed and this one does not. Either starts the loop of each poller whose `running` it
 * wrote as true. Delete stops every loop (the stack is going). A bad property or a failed write answers FAILED
 * with the reason; a loop that would not start or stop does not fail the stack: the answer's Reason and Data say
 * so. Reason also names each poller an Update removed, turned on, or did not re-create, and each dropped field it
 * kept.
 */
export async function handleSeedEvent(rawEvent: unknown, deps: SeederDeps): Promise<SeedOutcome> {
  const event = parseSeedEvent(rawEvent);
  let outcome: SeedOutcome;
  let response: CfnResponse;
  try {
    const result = await applySeed(event, deps);
    outcome = result.outcome;
    response = {
      ...respond(event, 'SUCCESS', result.physicalId),
      ...(result.data ? { Data: result.data } : {}),
      ...(result.warning ? { Reason: shortenReason(result.warning) } : {}),
    };
  } catch (error) {
    outcome = 'failed';
    const reason = shortenReason(error instanceof Error ? error.message : String(error));
    deps.log.error('seed failed', {
      requestType: event.RequestType,
      logicalResourceId: event.LogicalResourceId,
      reason,
    });
    response = { ...respond(event, 'FAILED', failedPhysicalId(event, deps.tableName)), Reason: reason };
  }
  deps.log.info('seed answered', {
    requestType: event.RequestType,
    outcome,
    physicalResourceId: response.PhysicalResourceId,
    data: response.Data,
    reason: response.Reason,
  });
  await deps.sendResponse(event.ResponseURL, response);
  return outcome;
}

/**
 * The physical id is set on Create and kept on every Update (even one that moves the seed to another poller), so
 * CloudFormation never replaces the seed: its Delete comes only when the stack is deleted (or its creation rolled
 * back), which is when every loop must stop.
 */
async function applySeed(event: SeedEvent, deps: SeederDeps): Promise<SeedResult> {
  if (event.RequestType === 'Delete') {
    const physicalId = event.PhysicalResourceId ?? event.LogicalResourceId;
    return { outcome: 'deleted', physicalId, ...(await stopLoops(deps)) };
  }
  if (deps.tableName === undefined) throw new MissingEnvironmentError(ENV.controlTableName);
  const requests = parseSeedPollers(event.ResourceProperties, deps.tableName);
  const physicalId =
    event.RequestType === 'Update' && event.PhysicalResourceId
      ? event.PhysicalResourceId
      : seedPhysicalId({
          tableName: deps.tableName,
          pollerId: requests[0]?.pollerId ?? event.LogicalResourceId,
        });
  // Update writes only the declared fields that changed (operators steer the rest live), to items that still exist
  // (an operator's delete stands), and switches off (item kept) the pollers the new list no longer names.
  const { tableName } = deps;
  const { changed, removed, turnedOn } =
    event.RequestType === 'Update'
      ? diffSeeds(requests, event.OldResourceProperties, tableName)
      : {
          changed: requests.map((request) => ({
            request,
            fields: declaredFields(request),
            previous: undefined,
          })),
          removed: [],
          turnedOn: [],
        };
  const table = new PollerTable(deps.dynamoDb, tableName);
  const timeoutMs = deps.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
  const write = <T>(pollerId: string, call: (options: CallOptions) => Promise<T>) =>
    writeControlItem(pollerId, tableName, call, timeoutMs);
  const seeded = await Promise.allSettled(
    changed.map(({ request, fields, previous }) =>
      write(request.pollerId, (options) => table.writeSeed(request.pollerId, fields, previous, options)),
    ),
  );
  const switchedOff = await Promise.allSettled(
    // Only while it runs, so an item deleted meanwhile is not resurrected (one already off stays as it is).
    removed.map((pollerId) => write(pollerId, (options) => table.switchOffIfRunning(pollerId, options))),
  );
  const failedWrite = [...seeded, ...switchedOff].find((result) => result.status === 'rejected');
  if (failedWrite !== undefined) throw failedWrite.reason;
  const written = changed.flatMap(({ request, fields }, index) => {
    const result = seeded[index];
    return result?.status === 'fulfilled'
      ? [{ pollerId: request.pollerId, fields, outcome: result.value }]
      : [];
  });
  const missing = new Set(
    written.filter(({ outcome }) => outcome.kind === 'missing').map(({ pollerId }) => pollerId),
  );
  const notes = [
    ...turnedOn
      .filter((pollerId) => !missing.has(pollerId))
      .map((pollerId) => `poller '${pollerId}' turned on`),
    ...removed.map((pollerId) => `poller '${pollerId}' removed from the list: running=false, item kept`),
    ...[...missing].map(
      (pollerId) =>
        `poller '${pollerId}' deleted by an operator: not re-created; delete it from the code or re-create it with ctl create`,
    ),
    ...written.flatMap(({ pollerId, outcome }) =>
      outcome.kind === 'written' && outcome.kept.length > 0
        ? [
            `poller '${pollerId}': ${outcome.kept.join(', ')} dropped from the code but changed by an operator since: kept`,
          ]
        : [],
    ),
  ];
  // A seed that writes running=true starts the loop whatever the item said before: the start leaves a live loop alone, and
  // starts one that stopped or never ran (what the stream would do for a running item without a live loop).
  const toStart = written
    .filter(({ fields, outcome }) => fields.running && outcome.kind === 'written')
    .map(({ pollerId }) => pollerId);
  const started: SeedReport =
    toStart.length === 0
      ? {}
      : mergeStartReports(
          toStart,
          await Promise.all(toStart.map((pollerId) => startSeededLoop(pollerId, deps))),
        );
  if (started.warning) notes.push(started.warning);
  return {
    outcome: written.length - missing.size + removed.length > 0 ? 'written' : 'unchanged',
    physicalId,
    ...(started.data ? { data: started.data } : {}),
    ...(notes.length > 0 ? { warning: notes.join('; ') } : {}),
  };
}

/**
 * One poller: its report as it is. Several: `LoopStart` lists `poller:outcome` for each, and the warnings are
 * joined, so the answer's Data and Reason say which poller's start went how.
 */
function mergeStartReports(pollerIds: readonly string[], reports: readonly StartReport[]): SeedReport {
  const [only] = reports;
  if (reports.length === 1 && only !== undefined) return only;
  const warnings = reports.flatMap((report) => (report.warning ? [report.warning] : []));
  return {
    data: {
      [SEED_DATA.loopStart]: reports.map((report, index) => `${pollerIds[index]}:${report.kind}`).join(','),
    },
    ...(warnings.length > 0 ? { warning: warnings.join('; ') } : {}),
  };
}

/**
 * The seed says `running`=true: start the loop now rather than wait for the stream
 * (whose mapping may still be starting to poll) or the watchdog (minutes). A failed start does not fail the
 * stack: the item says running=true, so the watchdog starts the loop within about two minutes.
 */
async function startSeededLoop(pollerId: string, deps: SeederDeps): Promise<StartReport> {
  const timeoutMs = deps.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  try {
    const outcome = await Promise.race([
      deps.startSeeded(pollerId),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { kind: outcome.kind, data: { [SEED_DATA.loopStart]: outcome.kind } };
  } catch (error) {
    return {
      kind: 'failed',
      data: { [SEED_DATA.loopStart]: 'failed' },
      warning: `poller '${pollerId}' seeded, but starting its loop failed (${describeCause(error)}); the watchdog starts it within minutes`,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Delete: stop every loop so the state machine and the functions can go. Never fails the deletion. */
async function stopLoops(deps: SeederDeps): Promise<SeedReport> {
  const { loops } = deps;
  const stopped = await stopAllLoops(
    {
      table: deps.tableName ? new PollerTable(deps.dynamoDb, deps.tableName) : undefined,
      sfn: loops.sfn,
      stateMachineArn: loops.stateMachineArn,
    },
    deps.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
  );
  return {
    data: { [SEED_DATA.loopsStopped]: String(stopped.executionsStopped) },
    ...(stopped.problems.length > 0
      ? { warning: `not every loop stopped: ${stopped.problems.join('; ')}` }
      : {}),
  };
}

/**
 * One poller's write: its request, the fields to write (seed-properties.ts seedWrite), and the fields the previous
 * seed declared (undefined for a poller that seed did not list, or a Create: the item is created if missing).
 */
interface ChangedPoller {
  readonly request: SeedRequest;
  readonly fields: SeedWrite;
  readonly previous: SeedWrite | undefined;
}

/** What an Update changes against the previous seed. */
interface SeedDiff {
  /**
   * The pollers with a declared value that differs from the previous seed's, each with the fields that changed
   * (every poller and every field when that seed was unreadable).
   */
  readonly changed: readonly ChangedPoller[];
  /** Pollers the previous seed listed and this one does not. */
  readonly removed: readonly string[];
  /** Pollers whose seeded `running` goes from false to true. */
  readonly turnedOn: readonly string[];
}

function diffSeeds(requests: readonly SeedRequest[], oldProperties: unknown, tableName: string): SeedDiff {
  let previous: SeedRequest[] = [];
  try {
    previous = parseSeedPollers(oldProperties, tableName);
  } catch {
    // the previous seed was invalid, so it never wrote: write every poller now
  }
  const before = (request: SeedRequest) => previous.find((old) => old.pollerId === request.pollerId);
  return {
    changed: requests.flatMap((request) => {
      const old = before(request);
      const fields = seedWrite(request, old);
      return fields === undefined ? [] : [{ request, fields, previous: old && declaredFields(old) }];
    }),
    removed: previous
      .filter((old) => !requests.some((request) => request.pollerId === old.pollerId))
      .map((old) => old.pollerId),
    turnedOn: requests
      .filter((request) => request.running && before(request)?.running === false)
      .map((request) => request.pollerId),
  };
}

/** One write to a poller's item, given up after `timeoutMs`; a failure names the poller and the table. */
async function writeControlItem<T>(
  pollerId: string,
  tableName: string,
  call: (options: CallOptions) => Promise<T>,
  timeoutMs: number,
): Promise<T> {
  try {
    return await call({ abortSignal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new ControlItemWriteError(pollerId, tableName, error);
  }
}

function respond(event: SeedEvent, status: CfnResponse['Status'], physicalId: string): CfnResponse {
  return {
    Status: status,
    PhysicalResourceId: physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
}

/** Update and Delete must echo the current id; a failed Create has none yet, so name it after the seed if possible. */
function failedPhysicalId(event: SeedEvent, tableName: string | undefined): string {
  if (event.PhysicalResourceId) return event.PhysicalResourceId;
  if (tableName === undefined) return event.LogicalResourceId;
  const props = isRecord(event.ResourceProperties) ? event.ResourceProperties : {};
  const pollerId =
    typeof props[SEED_PROPERTY.pollerId] === 'string' && props[SEED_PROPERTY.pollerId] !== ''
      ? String(props[SEED_PROPERTY.pollerId])
      : event.LogicalResourceId;
  return seedPhysicalId({ tableName, pollerId });
}

/** The fields CloudFormation always sends; without them there is nobody to answer. */
export function parseSeedEvent(value: unknown): SeedEvent {
  if (!isRecord(value)) throw new InvalidSeedEventError('the event is not a custom resource request', value);
  const { RequestType, ResponseURL, StackId, RequestId, LogicalResourceId } = value;
  if (RequestType !== 'Create' && RequestType !== 'Update' && RequestType !== 'Delete') {
    throw new InvalidSeedEventError('RequestType must be Create, Update or Delete', RequestType);
  }
  return {
    RequestType,
    ResponseURL: requiredText('ResponseURL', ResponseURL),
    StackId: requiredText('StackId', StackId),
    RequestId: requiredText('RequestId', RequestId),
    LogicalResourceId: requiredText('LogicalResourceId', LogicalResourceId),
    PhysicalResourceId: optionalString(value.PhysicalResourceId),
    // Decoded by parseSeedProperties, which says which property is wrong.
    ResourceProperties: value.ResourceProperties,
    OldResourceProperties: value.OldResourceProperties,
  };
}

function requiredText(name: string, value: unknown): string {
  if (typeof value === 'string' && value !== '') return value;
  throw new InvalidSeedEventError(`${name} must be a non-empty string`, value);
}
