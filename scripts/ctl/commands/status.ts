import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { FIELD } from '../../../functions/shared/contract';
import type { RawItem } from '../../../functions/shared/control-item';
import { parseRunning, parseTarget, parseWaitSeconds } from '../../../functions/shared/control-item';
import { InvalidControlItemError } from '../../../functions/shared/errors';
import { ControlItemMissingError } from '../errors';
import { awsCall, type CtlSession, readExecutionStatus, readItem } from '../session';

export interface StatusReport {
  readonly command: 'status';
  readonly pollerId: string;
  readonly table: string;
  /** null when the item holds no valid value (see `problems`). */
  readonly running: boolean | null;
  readonly waitSeconds: number | null;
  /** null: the stack's default worker. */
  readonly target: string | null;
  readonly seq: number | null;
  readonly lastTickAt: string | null;
  readonly nextTickAt: string | null;
  readonly skippedTicks: number;
  /** Ticks whose async invoke Lambda refused (throttled, missing target, …). */
  readonly failedFires: number;
  /** The fencing token of the loop that owns the item; null before any loop ran. */
  readonly generation: number | null;
  readonly claimedSeq: number | null;
  readonly heartbeatAt: string | null;
  /** Seconds since the last heartbeat; the watchdog restarts a running loop whose heartbeat is stale. */
  readonly heartbeatAgeSeconds: number | null;
  readonly restarts: number;
  readonly lastRestartAt: string | null;
  readonly lastRestartReason: string | null;
  readonly executionArn: string | null;
  /** DescribeExecution's status; 'unknown' when that call failed (`executionStatusError` says why). */
  readonly executionStatus: string | null;
  readonly executionStatusError?: string;
  readonly stoppedReason: string | null;
  readonly lastError: {
    readonly message: string;
    readonly at: string;
    readonly ageSeconds: number | null;
  } | null;
  /** Fields the controller cannot use, in the controller's own words. */
  readonly problems: readonly { readonly field: string; readonly message: string }[];
  /** When the report was made (epoch ms), for relative times. */
  readonly reportedAtMs: number;
}

export interface StatusAllReport {
  readonly command: 'status-all';
  readonly table: string;
  readonly pollers: readonly StatusReport[];
}

/** Every poller in the table, in id order (a Scan: fine for a control table of a few items). */
export async function statusAll(session: CtlSession): Promise<StatusAllReport> {
  const { tableName } = session.target;
  const items: RawItem[] = [];
  let startKey: RawItem | undefined;
  do {
    const page = await awsCall(session, `listing the pollers in table ${tableName}`, () =>
      session.dynamoDb.send(
        new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
      ),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const byId = new Map<string, RawItem>();
  for (const item of items) {
    const pollerId = item[FIELD.id]?.S;
    if (pollerId !== undefined) byId.set(pollerId, item);
  }
  const pollers: StatusReport[] = [];
  for (const [pollerId, item] of [...byId].sort(([a], [b]) => a.localeCompare(b))) {
    pollers.push(await reportFor(session, pollerId, item));
  }
  return { command: 'status-all', table: tableName, pollers };
}

export async function status(session: CtlSession, pollerId: string): Promise<StatusReport> {
  const item = await readItem(session, pollerId);
  if (item === undefined) throw new ControlItemMissingError(pollerId, session.target.tableName);
  return reportFor(session, pollerId, item);
}

async function reportFor(session: CtlSession, pollerId: string, item: RawItem): Promise<StatusReport> {
  const nowMs = session.nowMs();

  const problems: { field: string; message: string }[] = [];
  const valid = <T>(result: T | InvalidControlItemError): T | null => {
    if (!(result instanceof InvalidControlItemError)) return result;
    problems.push({ field: result.field, message: result.message });
    return null;
  };
  const running = valid(parseRunning(pollerId, item[FIELD.running]));
  const intervalMs = valid(parseWaitSeconds(pollerId, item[FIELD.waitSeconds]));
  const target = valid(parseTarget(pollerId, item[FIELD.target]));

  const executionArn = stringOf(item[FIELD.executionArn]);
  const execution = executionArn === null ? undefined : await readExecutionStatus(session, executionArn);
  const lastErrorMap = item[FIELD.lastError]?.M;
  const lastErrorMessage = stringOf(lastErrorMap?.message);
  const lastErrorAt = stringOf(lastErrorMap?.at) ?? '';
  const lastErrorAtMs = Date.parse(lastErrorAt);

  return {
    command: 'status',
    pollerId,
    table: session.target.tableName,
    running,
    waitSeconds: intervalMs === null ? null : Number(item[FIELD.waitSeconds]?.N),
    target: target ?? null,
    seq: numberOf(item[FIELD.seq]),
    lastTickAt: stringOf(item[FIELD.lastTickAt]),
    nextTickAt: stringOf(item[FIELD.nextTickAt]),
    skippedTicks: numberOf(item[FIELD.skippedTicks]) ?? 0,
    failedFires: numberOf(item[FIELD.failedFires]) ?? 0,
    generation: numberOf(item[FIELD.generation]),
    claimedSeq: numberOf(item[FIELD.claimedSeq]),
    heartbeatAt: stringOf(item[FIELD.heartbeatAt]),
    heartbeatAgeSeconds: ageSeconds(stringOf(item[FIELD.heartbeatAt]), nowMs),
    restarts: numberOf(item[FIELD.restarts]) ?? 0,
    lastRestartAt: stringOf(item[FIELD.lastRestartAt]),
    lastRestartReason: stringOf(item[FIELD.lastRestartReason]),
    executionArn,
    executionStatus: execution?.status ?? null,
    ...(execution?.error !== undefined ? { executionStatusError: execution.error } : {}),
    stoppedReason: stringOf(item[FIELD.stoppedReason]),
    lastError:
      lastErrorMessage === null
        ? null
        : {
            message: lastErrorMessage,
            at: lastErrorAt,
            ageSeconds: Number.isNaN(lastErrorAtMs)
              ? null
              : Math.max(0, Math.round((nowMs - lastErrorAtMs) / 1000)),
          },
    problems,
    reportedAtMs: nowMs,
  };
}

const stringOf = (value: AttributeValue | undefined): string | null => value?.S ?? null;

function ageSeconds(iso: string | null, nowMs: number): number | null {
  const atMs = Date.parse(iso ?? '');
  return Number.isNaN(atMs) ? null : Math.max(0, Math.round((nowMs - atMs) / 1000));
}

function numberOf(value: AttributeValue | undefined): number | null {
  const number = Number(value?.N);
  return value?.N === undefined || !Number.isFinite(number) ? null : number;
}
