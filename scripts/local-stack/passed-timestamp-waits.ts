import { isRecord } from '../../functions/shared/decode';

/**
 * Step Functions ends a Wait state at once when its `TimestampPath` names a time already past; the poller loop
 * relies on it (a round that hands back late gives a `wakeAt` in the past). aws-local-stepfunctions waits
 * `timestamp - now` ms with setTimeout, so for a passed timestamp it asks for a negative delay, which Node turns
 * into 1 ms and a TimeoutNegativeWarning on every such round.
 *
 * The library's per-state wait override is read when the Wait state starts; here it answers 0 ms (no wait) for a
 * passed timestamp and nothing otherwise, so a timestamp still ahead, or one that is not a timestamp, is the
 * library's to wait for or refuse as before. The override cannot see the Wait's input, so it covers the Wait states
 * whose input is the result of the Lambda Task before them: every state that goes to the Wait is a Task whose
 * result passes unchanged (no ResultSelector, ResultPath or OutputPath), and the task handler notes each result.
 */

/** The states of a definition, as far as this needs them. */
interface DefinitionStates {
  readonly States: Record<string, unknown>;
}

/** Per execution: the override the library reads, and what it is computed from. */
export interface ExecutionWaits {
  /** `overrides.waitTimeOverrides` of one run: a getter per covered Wait state (0, or undefined). */
  readonly waitTimeOverrides: Record<string, number>;
  /** Called with each Task state's result as it returns (the covered Waits' input). */
  noteResult(taskStateName: string, result: unknown): void;
}

/** `$.wakeAt`, `$.a.b`: the paths this reads; anything else is left to the library. */
const SIMPLE_PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$/;
/** The library's own test of a TimestampPath value (RFC 3339, `T` and a zone). */
const RFC3339 =
  /^\d{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(\.\d+)?(Z|(\+|-)([01][0-9]|2[0-3]):([0-5][0-9]))$/;

export class PassedTimestampWaits {
  private constructor(
    /** Covered Wait state → the field path of its TimestampPath and the Task states that lead to it. */
    private readonly waits: ReadonlyMap<
      string,
      { readonly path: readonly string[]; readonly after: ReadonlySet<string> }
    >,
    private readonly now: () => number,
  ) {}

  static of(definition: DefinitionStates, now: () => number = Date.now): PassedTimestampWaits {
    const states = Object.entries(definition.States).map(([name, state]) => [name, asRecord(state)] as const);
    const waits = new Map<string, { path: readonly string[]; after: ReadonlySet<string> }>();
    for (const [name, state] of states) {
      const timestampPath = state.TimestampPath;
      if (state.Type !== 'Wait' || typeof timestampPath !== 'string' || !SIMPLE_PATH.test(timestampPath))
        continue;
      const leadingHere = states.filter(([, other]) => other.Next === name);
      const allPassResults = leadingHere.every(
        ([, other]) =>
          other.Type === 'Task' &&
          other.ResultSelector === undefined &&
          other.ResultPath === undefined &&
          other.OutputPath === undefined,
      );
      if (leadingHere.length === 0 || !allPassResults) continue;
      waits.set(name, {
        path: timestampPath.slice(2).split('.'),
        after: new Set(leadingHere.map(([taskName]) => taskName)),
      });
    }
    return new PassedTimestampWaits(waits, now);
  }

  forExecution(): ExecutionWaits {
    let last: { readonly stateName: string; readonly result: unknown } | undefined;
    const waitTimeOverrides: Record<string, number> = {};
    for (const [waitName, wait] of this.waits) {
      Object.defineProperty(waitTimeOverrides, waitName, {
        enumerable: true,
        get: () =>
          last !== undefined && wait.after.has(last.stateName)
            ? this.noWaitIfPassed(wait.path, last.result)
            : undefined,
      });
    }
    return {
      waitTimeOverrides,
      noteResult: (stateName, result) => {
        last = { stateName, result };
      },
    };
  }

  private noWaitIfPassed(path: readonly string[], input: unknown): number | undefined {
    const timestamp = path.reduce<unknown>((value, key) => asRecord(value)[key], input);
    if (typeof timestamp !== 'string' || !RFC3339.test(timestamp)) return undefined;
    return Date.parse(timestamp) <= this.now() ? 0 : undefined;
  }
}

/** An object's fields; none for anything else (a path through it then finds nothing). */
function asRecord(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}
