import type { LocalStackEvent } from './local-stack';

type FireEvent = Extract<LocalStackEvent, { event: 'fire' }>;
type OutcomeEvent = Extract<LocalStackEvent, { event: 'outcome' }>;

/** What the worker did, for the screen: `ok HTTP 200 in 35 ms`, `failed: HTTP 404 (12 ms)`. */
export function describeOutcome(outcome: OutcomeEvent): string {
  return outcome.result === 'ok'
    ? `ok${outcome.detail === undefined ? '' : ` ${outcome.detail}`} in ${outcome.durationMs} ms`
    : `failed: ${outcome.detail ?? 'unknown error'} (${outcome.durationMs} ms)`;
}

/**
 * The screen's one line per fire, with its outcome: a fire is held until its worker has finished (tens of ms; at
 * most the worker's timeout), then printed with what it did. A fire whose outcome never comes (the stack stopped
 * first) is printed as it is by `flush`.
 */
export class FireLines {
  private readonly held = new Map<string, FireEvent>();

  constructor(
    private readonly formatFire: (fire: FireEvent) => string,
    private readonly print: (line: string) => void,
  ) {}

  fire(fire: FireEvent): void {
    this.held.set(keyOf(fire.poller, fire.seq), fire);
  }

  outcome(outcome: OutcomeEvent): void {
    const key = keyOf(outcome.poller, outcome.seq);
    const fire = this.held.get(key);
    this.held.delete(key);
    const head =
      fire === undefined
        ? `fire  ${outcome.poller}  seq ${String(outcome.seq).padStart(5)}`
        : this.formatFire(fire);
    this.print(`${head}  → ${describeOutcome(outcome)}`);
  }

  /** Prints the fires still held (their workers did not answer before the stack stopped). */
  flush(): void {
    for (const fire of this.held.values()) this.print(this.formatFire(fire));
    this.held.clear();
  }
}

const keyOf = (poller: string, seq: number) => `${poller}#${seq}`;
