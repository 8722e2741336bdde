/**
 * The fleet variant's control plane (docs/design/fleet.md): the same four entry points as handler.ts (seed, stream
 * start, watchdog, rounds), with pollers served by shards. A separate bundle entry, so the fleet's inline template
 * carries no single-loop controller. Not built yet (the fleet-planner helper builds it).
 */
export const handler = async (_event: unknown, _context: { getRemainingTimeInMillis(): number }) => {
  throw new Error('the fleet control plane is not built yet');
};
