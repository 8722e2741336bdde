import type { ControlTable } from '../../functions/shared/control-table';
import { SubMinuteError } from '../../functions/shared/errors';
import { type DeclaredPoller, editMatching } from './poller-file';

/** A declared fleet and where it was declared (a file's path, or `demo`), as the `seeded` event reports it. */
export interface DeclaredFleet {
  readonly source: string;
  readonly pollers: readonly DeclaredPoller[];
}

/** What seeding did to one poller: `created` its item, or `updated` an item a persisted table already had. */
export interface SeededPoller {
  readonly id: string;
  readonly every: number;
  readonly running: boolean;
  readonly outcome: 'created' | 'updated';
}

export class FleetSeedError extends SubMinuteError {
  override readonly name = 'FleetSeedError';
}

/**
 * Writes each declared poller's item through the control table's operator writes, never a system field: a new id is
 * created (one conditional write); an item that exists (`--data` resuming a table) gets the declared operator
 * fields, the ones the declaration leaves out removed, and keeps its system fields (seq, claims, counters), so its
 * loop continues above its last claim. Pollers the fleet does not list are left as they are. Loops are not started
 * here: the stack starts every running poller afterwards, by the one start rule.
 */
export async function seedFleet(table: ControlTable, fleet: DeclaredFleet): Promise<SeededPoller[]> {
  const seeded: SeededPoller[] = [];
  for (const poller of fleet.pollers) {
    const report = { id: poller.id, every: poller.fields.waitSeconds, running: poller.fields.running };
    if ((await table.createPoller(poller.id, poller.fields)) === 'created') {
      seeded.push({ ...report, outcome: 'created' });
      continue;
    }
    // Nothing else writes the table before the stack is ready, so the item found just now is still there.
    const edited = await table.editOperatorFields(poller.id, editMatching(poller));
    const switched = poller.fields.running
      ? await table.switchOn(poller.id)
      : await table.switchOff(poller.id);
    if (edited === 'missing' || switched === 'missing') {
      throw new FleetSeedError(
        `poller '${poller.id}' vanished from table ${table.tableName} while seeding it`,
        {
          pollerId: poller.id,
        },
      );
    }
    seeded.push({ ...report, outcome: 'updated' });
  }
  return seeded;
}
