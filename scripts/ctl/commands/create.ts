import type { NewPoller } from '../../../functions/shared/control-table';
import { CtlError } from '../errors';
import { type CtlSession, writeItem } from '../session';
import { type FleetStartResult, type LoopStartResult, start } from './start';

export interface CreateResult {
  readonly command: 'create';
  readonly pollerId: string;
  readonly table: string;
  readonly fields: NewPoller;
  /** How its loop was started (through `start`), or null when created with running=false. */
  readonly start:
    | Pick<LoopStartResult, 'outcome' | 'executionArn' | 'generation'>
    | Pick<FleetStartResult, 'outcome' | 'fleetExecutionArn'>
    | null;
}

/** The id is taken: nothing was written. */
export class PollerExistsError extends CtlError {
  override readonly name = 'PollerExistsError';

  constructor(
    override readonly pollerId: string,
    readonly tableName: string,
  ) {
    super(
      `poller '${pollerId}' already exists in table ${tableName}; nothing was written (change it with \`ctl set ${pollerId} …\`, or \`ctl delete ${pollerId} --yes\` first)`,
      { pollerId, value: pollerId },
    );
  }
}

/**
 * Creates a poller's item, only if the id is free (one conditional write), with fields the controller's own
 * validators accepted on the command line. A running poller is then started by `start`, the one start rule
 * (on AWS the table's stream reacts to the same item; whichever start comes second finds the loop alive).
 */
export async function create(
  session: CtlSession,
  pollerId: string,
  fields: NewPoller,
): Promise<CreateResult> {
  const { tableName } = session.target;
  const outcome = await writeItem(session, pollerId, 'creating the control item', (table) =>
    table.createPoller(pollerId, fields),
  );
  if (outcome === 'exists') throw new PollerExistsError(pollerId, tableName);
  const base = { command: 'create', pollerId, table: tableName, fields } as const;
  if (!fields.running) return { ...base, start: null };
  const started = await start(session, pollerId);
  return {
    ...base,
    start:
      started.outcome === 'fleet'
        ? { outcome: started.outcome, fleetExecutionArn: started.fleetExecutionArn }
        : { outcome: started.outcome, executionArn: started.executionArn, generation: started.generation },
  };
}
