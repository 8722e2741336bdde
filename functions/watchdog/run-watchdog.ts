import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { FIELD } from '../shared/contract';
import type { RawItem } from '../shared/control-item';
import { describeCause } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { type LoopStarterDeps, type StartOutcome, startLoop } from '../starter/start-loop';
import { describeStaleness, findStaleLoops, type StaleLoop } from './find-stale';

export interface WatchdogDeps extends LoopStarterDeps {
  readonly dynamoDb: DynamoDBClient;
  readonly log: Logger;
}

export interface WatchdogReport {
  readonly checked: number;
  readonly restarted: readonly { pollerId: string; reason: string; outcome: StartOutcome['kind'] }[];
}

/**
 * Finds pollers that should be running but whose heartbeat is stale, records the restart on the item (count,
 * time, reason) and starts them with a new generation. The record is conditional on the heartbeat and generation
 * it judged, so a loop that comes back meanwhile is left alone.
 */
export async function runWatchdog(deps: WatchdogDeps, nowMs: number): Promise<WatchdogReport> {
  const items = await scanAll(deps.dynamoDb, deps.table.tableName);
  const restarted: { pollerId: string; reason: string; outcome: StartOutcome['kind'] }[] = [];
  for (const stale of findStaleLoops(items, nowMs)) {
    const reason = `watchdog: ${describeStaleness(stale)}`;
    try {
      if (!(await recordRestart(deps, stale, reason, nowMs))) continue;
      const outcome = await startLoop(stale.pollerId, deps, reason, stale.item);
      deps.log.warn('restarted a stale loop', { pollerId: stale.pollerId, reason, outcome: outcome.kind });
      restarted.push({ pollerId: stale.pollerId, reason, outcome: outcome.kind });
    } catch (error) {
      deps.log.error('could not restart a stale loop', {
        pollerId: stale.pollerId,
        error: describeCause(error),
      });
    }
  }
  return { checked: items.length, restarted };
}

async function recordRestart(
  deps: WatchdogDeps,
  stale: StaleLoop,
  reason: string,
  nowMs: number,
): Promise<boolean> {
  const heartbeat = stale.item[FIELD.heartbeatAt];
  const generation = stale.item[FIELD.generation];
  try {
    await deps.dynamoDb.send(
      new UpdateItemCommand({
        TableName: deps.table.tableName,
        Key: { [FIELD.id]: { S: stale.pollerId } },
        UpdateExpression: 'SET #restartAt = :at, #restartReason = :reason ADD #restarts :one',
        ConditionExpression: [
          '#running = :true',
          heartbeat ? '#heartbeat = :heartbeat' : 'attribute_not_exists(#heartbeat)',
          generation ? '#generation = :generation' : 'attribute_not_exists(#generation)',
        ].join(' AND '),
        ExpressionAttributeNames: {
          '#restartAt': FIELD.lastRestartAt,
          '#restartReason': FIELD.lastRestartReason,
          '#restarts': FIELD.restarts,
          '#running': FIELD.running,
          '#heartbeat': FIELD.heartbeatAt,
          '#generation': FIELD.generation,
        },
        ExpressionAttributeValues: {
          ':at': { S: new Date(nowMs).toISOString() },
          ':reason': { S: reason },
          ':one': { N: '1' },
          ':true': { BOOL: true },
          ...(heartbeat ? { ':heartbeat': heartbeat } : {}),
          ...(generation ? { ':generation': generation } : {}),
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

async function scanAll(client: DynamoDBClient, tableName: string): Promise<RawItem[]> {
  const items: RawItem[] = [];
  let startKey: RawItem | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
