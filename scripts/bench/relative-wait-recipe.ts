import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { WorkerEvent } from '../../functions/shared/contract';
import { ControlTable } from '../../functions/shared/control-table';
import type { LocalHandler } from '../local-stack/local-functions';

/**
 * The relative-wait recipe of the blog posts, as a bench-only comparison: a Task runs a controller that reads the
 * control item and fires the worker, then a Wait state waits `waitSeconds` *after* the round and loops back. Each
 * round's latency (task start, reads, invoke) adds to the next tick's time, so lateness accumulates tick by tick.
 * Not part of the product; nothing outside scripts/bench uses it.
 */
export const RECIPE_STATE_MACHINE_NAME = 'Bench-relative-wait-recipe';
export const RECIPE_CONTROLLER_NAME = 'Bench-relative-wait-recipe-controller';
export const RECIPE_POLLER_ID = 'bench-recipe';

export const RECIPE_STATE = {
  controller: 'RecipeController',
  isRunning: 'IsRunning',
  wait: 'WaitSeconds',
  done: 'Done',
} as const;

/**
 * RecipeController (Task) → IsRunning (Choice) → WaitSeconds (Wait, SecondsPath $.waitSeconds) → RecipeController:
 * 3 transitions a tick. The Choice is there because a definition needs a terminal state (Step Functions and the
 * local interpreter both refuse one without): running=false on the item ends the loop.
 */
export function buildRecipeDefinition(controllerArn: string): string {
  return JSON.stringify({
    Comment: 'Relative-wait recipe (benchmark only): fire, then wait waitSeconds, then fire again.',
    StartAt: RECIPE_STATE.controller,
    States: {
      [RECIPE_STATE.controller]: { Type: 'Task', Resource: controllerArn, Next: RECIPE_STATE.isRunning },
      [RECIPE_STATE.isRunning]: {
        Type: 'Choice',
        Choices: [{ Variable: '$.running', BooleanEquals: true, Next: RECIPE_STATE.wait }],
        Default: RECIPE_STATE.done,
      },
      // Step Functions requires SecondsPath to resolve to a whole number, hence whole-second cadences only.
      [RECIPE_STATE.wait]: { Type: 'Wait', SecondsPath: '$.waitSeconds', Next: RECIPE_STATE.controller },
      [RECIPE_STATE.done]: { Type: 'Succeed' },
    },
  });
}

/** What travels from one round to the next (the Task's output is the next Task's input). */
export interface RecipeState {
  readonly pollerId: string;
  readonly seq: number;
  /** When the recipe meant to fire the last tick (ISO 8601): the previous intention plus waitSeconds. */
  readonly scheduledAt: string;
  readonly waitSeconds: number;
  /** The item's running flag: false ends the loop at the Choice. */
  readonly running: boolean;
}

export interface RecipeFire {
  readonly seq: number;
  /** Invoke issued − intended time: the recipe's "precision", the same measure as our `tick fired` log. */
  readonly precisionMs: number;
}

export interface RecipeControllerDeps {
  readonly dynamoDb: DynamoDBClient;
  readonly lambda: LambdaClient;
  readonly tableName: string;
  readonly workerName: string;
  readonly now?: () => number;
  readonly onFire?: (fire: RecipeFire) => void;
}

/** Whole seconds only: SecondsPath must be an integer. */
export function isRecipeCadence(everySeconds: number): boolean {
  return Number.isInteger(everySeconds) && everySeconds >= 1;
}

/**
 * The recipe's controller: read the item (strongly consistent, like ours), fire the worker asynchronously with
 * scheduledAt = the previous intended time + waitseconds, return waitSeconds for the Wait state. An item that
 * says running=false (or is gone) ends the loop without firing.
 */
export function createRecipeController(deps: RecipeControllerDeps): LocalHandler {
  const now = deps.now ?? Date.now;
  const table = new ControlTable(deps.dynamoDb, deps.tableName);
  return async (event) => {
    const previous = parseRecipeInput(event);
    const item = await table.read(previous.pollerId);
    // NaN when the item holds no valid waitseconds: refused below, as the recipe takes whole seconds only.
    const waitSeconds = item?.waitSeconds ?? Number.NaN;
    if (item?.operator.running !== true) {
      const stopped: RecipeState = {
        ...previous,
        seq: previous.seq ?? 0,
        scheduledAt: previous.scheduledAt ?? '',
        waitSeconds,
        running: false,
      };
      return stopped;
    }
    if (!isRecipeCadence(waitSeconds)) {
      throw new Error(
        `recipe poller '${previous.pollerId}': waitseconds must be a whole number ≥ 1; got ${waitSeconds}`,
      );
    }
    const seq = (previous.seq ?? 0) + 1;
    const invokedAt = now();
    const intendedAt =
      previous.scheduledAt === undefined ? invokedAt : Date.parse(previous.scheduledAt) + waitSeconds * 1000;
    const scheduledAt = new Date(intendedAt).toISOString();
    const tick: WorkerEvent = { pollerId: previous.pollerId, seq, scheduledAt };
    await deps.lambda.send(
      new InvokeCommand({
        FunctionName: deps.workerName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(tick)),
      }),
    );
    deps.onFire?.({ seq, precisionMs: invokedAt - intendedAt });
    const output: RecipeState = { pollerId: previous.pollerId, seq, scheduledAt, waitSeconds, running: true };
    return output;
  };
}

function parseRecipeInput(event: unknown): { pollerId: string; seq?: number; scheduledAt?: string } {
  const input = (typeof event === 'object' && event !== null ? event : {}) as Partial<
    Record<keyof RecipeState, unknown>
  >;
  if (typeof input.pollerId !== 'string')
    throw new Error(`recipe input needs a pollerId; got ${JSON.stringify(event)}`);
  return {
    pollerId: input.pollerId,
    ...(typeof input.seq === 'number' ? { seq: input.seq } : {}),
    ...(typeof input.scheduledAt === 'string' ? { scheduledAt: input.scheduledAt } : {}),
  };
}
