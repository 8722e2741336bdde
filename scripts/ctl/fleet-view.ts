import type { ShardItem } from '../../functions/fleet/shard-store';
import { ShardTable } from '../../functions/fleet/shard-table';
import type { PollerItem } from '../../functions/shared/control-item';
import { awsCall, type CtlSession } from './session';

/**
 * What `ctl` shows of the fleet variant (README "Fleet"): where each poller is served (the item's `shard`, and a
 * pending `moveTo` at `movedAt`), and whether its shard has a live owner (the shard item's lease, read through the
 * fleet's own store, shard-table.ts). A table is a fleet's when it holds a shard item (`~shard/s0`) or a poller
 * item naming a shard.
 */

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

export interface FleetView {
  /** Whether the table is served by the fleet variant. */
  readonly fleet: boolean;
  readonly placements: ReadonlyMap<string, ShardPlacementView>;
  readonly shards: ReadonlyMap<string, ShardItem>;
}

export const NO_FLEET: FleetView = { fleet: false, placements: new Map(), shards: new Map() };

/** The placement an item records, when it names a shard. */
export function placementOf(item: PollerItem): ShardPlacementView | undefined {
  if (item.shard === undefined) return undefined;
  return {
    shard: item.shard,
    moveTo: item.moveTo ?? null,
    movedAt: item.movedAt === undefined ? null : new Date(item.movedAt).toISOString(),
  };
}

/** The fleet's view of the pollers and the shard items. */
export function fleetViewOf(items: readonly PollerItem[], shards: readonly ShardItem[]): FleetView {
  const placements = new Map<string, ShardPlacementView>();
  for (const item of items) {
    const placement = placementOf(item);
    if (placement !== undefined) placements.set(item.pollerId, placement);
  }
  return {
    fleet: shards.length > 0 || placements.size > 0,
    placements,
    shards: new Map(shards.map((shard) => [shard.shard, shard])),
  };
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
  const shard = fleet.shards.get(placement.shard);
  if (shard === undefined) return { alive: false, why: `shard ${placement.shard} has no shard item yet` };
  if (shard.lease !== undefined && shard.lease.validUntilMs > nowMs) return { alive: true };
  if (shard.sleepUntilMs !== undefined && shard.sleepUntilMs + SLEEP_SLACK_MS > nowMs) return { alive: true };
  return { alive: false, why: `shard ${placement.shard} has no live owner (its lease ran out)` };
}

/** Every shard item (one Scan, filtered to `~shard/`), through the fleet's store. */
export function readShards(session: CtlSession, abortSignal?: AbortSignal): Promise<ShardItem[]> {
  const { tableName } = session.target;
  return awsCall(session, `listing the shards in table ${tableName}`, () =>
    new ShardTable(session.dynamoDb, tableName).listShards(abortSignal ? { abortSignal } : {}),
  );
}

/** The fleet's view of one poller (`ctl status ID`): its placement and its shard's lease; NO_FLEET off a shard. */
export async function fleetViewOfPoller(session: CtlSession, item: PollerItem): Promise<FleetView> {
  const placement = placementOf(item);
  if (placement === undefined) return NO_FLEET;
  const { tableName } = session.target;
  const shard = await awsCall(session, `reading shard ${placement.shard} in table ${tableName}`, () =>
    new ShardTable(session.dynamoDb, tableName).readShard(placement.shard),
  );
  return fleetViewOf([item], shard === undefined ? [] : [shard]);
}

/** Whether the table is a fleet's: any shard item, or any poller naming a shard. */
export async function isFleetTable(session: CtlSession): Promise<boolean> {
  if ((await readShards(session)).length > 0) return true;
  const { tableName } = session.target;
  const items = await awsCall(session, `listing the pollers in table ${tableName}`, () =>
    session.table.listAll(),
  );
  return items.some((item) => item.shard !== undefined);
}
