import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { ENV, FIELD } from '../shared/contract';
import { MissingEnvironmentError } from '../shared/env';
import { describeCause } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { type CfnResponse, type SendResponse, shortenReason } from './cfn-response';
import {
  isRecord,
  parseSeedProperties,
  SEED_PROPERTY,
  type SeedRequest,
  seedChanged,
  seedPhysicalId,
} from './seed-properties';

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
  /** The write gives up after this, so a response always goes out before the Lambda timeout. */
  readonly writeTimeoutMs?: number;
}

export type SeedOutcome = 'written' | 'unchanged' | 'deleted' | 'failed';

/** Well under the seeder's 30 s Lambda timeout, leaving time to deliver the response. */
export const DEFAULT_WRITE_TIMEOUT_MS = 15_000;

export class InvalidSeedEventError extends Error {
  override readonly name = 'InvalidSeedEventError';
}

/**
 * Handles one custom resource request and always answers it, so a stack never hangs on the seed:
 * Create writes `running` and `waitseconds` (creating the item if missing), Update writes them only if the
 * seed's properties changed (operators steer the item live; an unrelated stack update must not reset it),
 * Delete leaves the item alone. A bad property or a failed write answers FAILED with the reason.
 */
export async function handleSeedEvent(rawEvent: unknown, deps: SeederDeps): Promise<SeedOutcome> {
  const event = parseSeedEvent(rawEvent);
  let outcome: SeedOutcome;
  let response: CfnResponse;
  try {
    const result = await applySeed(event, deps);
    outcome = result.outcome;
    response = respond(event, 'SUCCESS', result.physicalId);
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
  });
  await deps.sendResponse(event.ResponseURL, response);
  return outcome;
}

async function applySeed(
  event: SeedEvent,
  deps: SeederDeps,
): Promise<{ outcome: SeedOutcome; physicalId: string }> {
  if (event.RequestType === 'Delete') {
    return { outcome: 'deleted', physicalId: event.PhysicalResourceId ?? event.LogicalResourceId };
  }
  if (deps.tableName === undefined) throw new MissingEnvironmentError(ENV.controlTableName);
  const request = parseSeedProperties(event.ResourceProperties, deps.tableName);
  const physicalId = seedPhysicalId(request);
  if (event.RequestType === 'Update' && !changedSince(request, event.OldResourceProperties, deps.tableName)) {
    return { outcome: 'unchanged', physicalId };
  }
  await writeControlItem(deps.dynamoDb, request, deps.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS);
  return { outcome: 'written', physicalId };
}

function changedSince(request: SeedRequest, oldProperties: unknown, tableName: string): boolean {
  try {
    return seedChanged(request, parseSeedProperties(oldProperties, tableName));
  } catch {
    return true; // the previous seed was invalid, so it never wrote: write now
  }
}

/** SETs only the seeded fields; every other attribute (system fields, target, payload) stays as it is. */
export async function writeControlItem(
  dynamoDb: DynamoDBClient,
  request: SeedRequest,
  timeoutMs: number,
): Promise<void> {
  try {
    await dynamoDb.send(
      new UpdateItemCommand({
        TableName: request.tableName,
        Key: { [FIELD.id]: { S: request.pollerId } },
        UpdateExpression: 'SET #running = :running, #waitSeconds = :waitSeconds',
        ExpressionAttributeNames: { '#running': FIELD.running, '#waitSeconds': FIELD.waitSeconds },
        ExpressionAttributeValues: {
          ':running': { BOOL: request.running },
          ':waitSeconds': { N: request.waitSeconds },
        },
      }),
      { abortSignal: AbortSignal.timeout(timeoutMs) },
    );
  } catch (error) {
    throw new Error(
      `writing control item '${request.pollerId}' to table '${request.tableName}' failed: ${describeCause(error)}`,
      { cause: error },
    );
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
  if (!isRecord(value)) throw new InvalidSeedEventError('the event is not a custom resource request');
  const { RequestType, ResponseURL, StackId, RequestId, LogicalResourceId, PhysicalResourceId } = value;
  if (RequestType !== 'Create' && RequestType !== 'Update' && RequestType !== 'Delete') {
    throw new InvalidSeedEventError(
      `RequestType must be Create, Update or Delete; got ${String(RequestType)}`,
    );
  }
  for (const [name, field] of Object.entries({ ResponseURL, StackId, RequestId, LogicalResourceId })) {
    if (typeof field !== 'string' || field === '') {
      throw new InvalidSeedEventError(`${name} must be a non-empty string; got ${String(field)}`);
    }
  }
  return {
    ...(value as unknown as SeedEvent),
    PhysicalResourceId: typeof PhysicalResourceId === 'string' ? PhysicalResourceId : undefined,
  };
}
