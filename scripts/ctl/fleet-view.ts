import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SHARD_KEY_PREFIX } from '../../functions/fleet/shard-store';
import { SHARD_INDEX_KEY } from '../../functions/shared/contract';
import { keyOf, type RawItem } from '../../functions/shared/control-item';
import { isWholeNumberIn } from '../../functions/shared/decode';
import { awsCall, type CtlSession } from './session';

/**
 * What `ctl` shows of the fleet variant (README "Fleet"), read from the items as stored: the fields are the fleet's
 * (functions/fleet/shard-store.ts fixes the layout), for display only; the shard controller decodes them itself.
 * A table is a fleet's when it holds a shard item (`~shard/s0`) or a poller item naming a shard.
 */

/** Poller item fields the fleet writes, and the lease fields of a shard item (shard-store.ts). */
const FLEET_FIELD = {
  shard: SHARD_INDEX_KEY,
  moveTo: 'moveTo',
  movedAt: 'movedAt',
  leaseUntil: 'leaseUntil',
  sleepUntil: 'sleepUntil',
} as const;

/**
 * A shard whose lease ran out is still served while its execution sleeps in a Wait state until `sleepUntil`, with
 * this slack (the fleet planner's rule before it starts another execution).
 */
const SLEEP_SLACK_MS = 5_000;

/** Where a poller is served: its shard, and a pending move (`moveTo` at `movedAt`). */
export interface ShardPlacementView {
  readonly shard: string;
  readonly moveTo: string | null;
  /** ISO time; with `moveTo`, when the move takes effect; alone, since when the shard serves the poller. */
  readonly movedAt: string | null;
}

/** A shard item's lease as the CLI judges it: until when an owner holds it, or its execution sleeps. */
export interface ShardLeaseView {
  readonly leaseUntilMs: number | undefined;
  readonly sleepUntilMs: number | undefined;
}

export interface FleetView {
  /** Whether the table is served by the fleet variant. */
  readonly fleet: boolean;
  readonly placements: ReadonlyMap<string, ShardPlacementView>;
  readonly shards: ReadonlyMap<string, ShardLeaseView>;
}

export const NO_FLEET: FleetView = { fleet: false, placements: new Map(), shards: new Map() };

/** A shard item's key: never a poller (POLLER_ID_PATTERN excludes `~`). */
export function isShardKey(id: string): boolean {
  return id.startsWith(SHARD_KEY_PREFIX);
}

/** The placement an item records, when it names a shard. */
export function placementOf(image: RawItem): ShardPlacementView | undefined {
  const shard = image[FLEET_FIELD.shard]?.S;
  if (shard === undefined) return undefined;
  return {
    shard,
    moveTo: image[FLEET_FIELD.moveTo]?.S ?? null,
    movedAt: timeText(image[FLEET_FIELD.movedAt]),
  };
}

/** The fleet's view of a Scan's images: placements by poller id, leases by shard name. */
export function fleetViewOf(images: readonly { pollerId: string; image: RawItem }[]): FleetView {
  const placements = new Map<string, ShardPlacementView>();
  const shards = new Map<string, ShardLeaseView>();
  for (const { pollerId, image } of images) {
    if (isShardKey(pollerId)) {
      shards.set(pollerId.slice(SHARD_KEY_PREFIX.length), {
        leaseUntilMs: epochMs(image[FLEET_FIELD.leaseUntil]),
        sleepUntilMs: epochMs(image[FLEET_FIELD.sleepUntil]),
      });
      continue;
    }
    const placement = placementOf(image);
    if (placement !== undefined) placements.set(pollerId, placement);
  }
  return { fleet: shards.size > 0 || placements.size > 0, placements, shards };
}

/**
 * Whether the poller's shard has a live owner at `nowMs` (its lease runs, or its execution sleeps until a time
 * ahead), with the reason when not: the fleet's counterpart of a loop's heartbeat.
 */
export function judgeShard(
  placement: ShardPlacementView,
  fleet: FleetView,
  nowMs: number,
): { readonly alive: true } | { readonly alive: false; readonly why: string } {
  const lease = fleet.shards.get(placement.shard);
  if (lease === undefined) return { alive: false, why: `shard ${placement.shard} has no shard item yet` };
  if (lease.leaseUntilMs !== undefined && lease.leaseUntilMs > nowMs) return { alive: true };
  if (lease.sleepUntilMs !== undefined && lease.sleepUntilMs + SLEEP_SLACK_MS > nowMs) return { alive: true };
  return { alive: false, why: `shard ${placement.shard} has no live owner (its lease ran out)` };
}

/** One poller's placement (`ctl status`), read strongly consistent with the item's other fields. */
export async function readPlacement(
  session: CtlSession,
  pollerId: string,
): Promise<ShardPlacementView | undefined> {
  const { tableName } = session.target;
  const { Item } = await awsCall(session, `reading the shard of poller '${pollerId}'`, () =>
    session.dynamoDb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: keyOf(pollerId),
        ConsistentRead: true,
        ProjectionExpression: '#shard, #moveTo, #movedAt',
        ExpressionAttributeNames: {
          '#shard': FLEET_FIELD.shard,
          '#moveTo': FLEET_FIELD.moveTo,
          '#movedAt': FLEET_FIELD.movedAt,
        },
      }),
    ),
  );
  return Item === undefined ? undefined : placementOf(Item);
}

/**
 * The fleet's view of one poller (`ctl status ID`): its placement and its shard's lease, two GetItems; NO_FLEET
 * when the item names no shard.
 */
export async function fleetViewOfPoller(session: CtlSession, pollerId: string): Promise<FleetView> {
  const placement = await readPlacement(session, pollerId);
  if (placement === undefined) return NO_FLEET;
  const key = `${SHARD_KEY_PREFIX}${placement.shard}`;
  const { Item } = await awsCall(session, `reading shard item ${key}`, () =>
    session.dynamoDb.send(
      new GetItemCommand({ TableName: session.target.tableName, Key: keyOf(key), ConsistentRead: true }),
    ),
  );
  const shards = fleetViewOf(Item === undefined ? [] : [{ pollerId: key, image: Item }]).shards;
  return { fleet: true, placements: new Map([[pollerId, placement]]), shards };
}

/** Whether the table is a fleet's: any shard item, or any item naming a shard (one Scan). */
export async function isFleetTable(session: CtlSession): Promise<boolean> {
  const { tableName } = session.target;
  const images = await awsCall(session, `listing the items in table ${tableName}`, () =>
    session.table.scanImages(),
  );
  return fleetViewOf(images).fleet;
}

function epochMs(value: RawItem[string] | undefined): number | undefined {
  const ms = Number(value?.N);
  return isWholeNumberIn(ms, 0, 8.64e15) ? ms : undefined;
}

/** An epoch-ms number as ISO time; a string as written. */
function timeText(value: RawItem[string] | undefined): string | null {
  const ms = epochMs(value);
  if (ms !== undefined) return new Date(ms).toISOString();
  return value?.S ?? null;
}
