/**
 * What the fleet benchmark counts beyond what the local table and Lambda endpoint report (pure, no I/O):
 * - index writes: dynalite charges a write by the item's size but reports nothing of the global secondary index;
 *   on DynamoDB a write that changes an attribute the index projects (or its key) is charged again for the index;
 * - the controller's awake time inside the measured window: a shard's invocation lasts up to 900 s, so counting
 *   each invocation's whole duration when it ends would bill a 60 s window for 0 s or 900 s.
 */

/** What one write request did to the index, and whether it is the worker kit's outcome record. */
export interface WriteClass {
  /**
   * Index writes it costs: 0 when it names no projected attribute nor the index key; 1 when it names a projected
   * attribute; 2 when it sets the index key (a move: the old index entry deleted, the new one put; a first
   * placement costs 1, so this errs high); 1 when it removes the key.
   */
  readonly indexWrites: number;
  /** The worker kit's outcome write (`lastResult*`, `recentResults`): the user's worker pays it, not the fleet. */
  readonly outcomeRecord: boolean;
}

export interface IndexShape {
  /** The index's partition key attribute (`shard`). */
  readonly key: string;
  /** The attributes it projects besides the keys. */
  readonly projected: ReadonlySet<string>;
}

/** Attributes only the worker kit's outcome write sets. */
const OUTCOME_ATTRIBUTES = new Set(['recentResults', 'lastResult']);

const EXPRESSION_WORDS = new Set([
  'set',
  'remove',
  'add',
  'delete',
  'if_not_exists',
  'list_append',
  'and',
  'or',
  'not',
  'size',
]);

const NONE: WriteClass = { indexWrites: 0, outcomeRecord: false };

/**
 * Classifies one DynamoDB request (its operation and its JSON body) by the attribute names it writes. An
 * UpdateItem is read from its UpdateExpression (names resolved through ExpressionAttributeNames, values and
 * functions left out; a name read on the right of `=` counts too, which errs high); a PutItem by its item; a
 * DeleteItem costs one index write (the item may or may not be in the index: errs high). Anything else is no write.
 */
export function classifyWrite(operation: string, request: unknown, index: IndexShape): WriteClass {
  if (!isRecord(request)) return NONE;
  if (operation === 'PutItem') {
    const item = request.Item;
    return { indexWrites: isRecord(item) && index.key in item ? 1 : 0, outcomeRecord: false };
  }
  if (operation === 'DeleteItem') return { indexWrites: 1, outcomeRecord: false };
  if (operation !== 'UpdateItem') return NONE;
  const expression = request.UpdateExpression;
  if (typeof expression !== 'string') return NONE;
  const names = namesOf(expression, request.ExpressionAttributeNames);
  const outcomeRecord = names.some((name) => OUTCOME_ATTRIBUTES.has(name));
  const setsKey = names.includes(index.key);
  const removesKey = setsKey && /\bremove\b/i.test(expression) && !/\bset\b/i.test(expression);
  if (setsKey) return { indexWrites: removesKey ? 1 : 2, outcomeRecord };
  return { indexWrites: names.some((name) => index.projected.has(name)) ? 1 : 0, outcomeRecord };
}

/** The attribute names an update expression names, placeholders resolved. */
export function namesOf(expression: string, placeholders: unknown): string[] {
  const resolve = isRecord(placeholders) ? placeholders : {};
  const names: string[] = [];
  // Values (`:v`) are dropped first; list indexes and map paths keep their leading name only.
  const withoutValues = expression.replace(/:[A-Za-z0-9_]+/g, ' ');
  for (const [token] of withoutValues.matchAll(/#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*/g)) {
    if (token.startsWith('#')) {
      const name = resolve[token];
      if (typeof name === 'string') names.push(name);
    } else if (!EXPRESSION_WORDS.has(token.toLowerCase())) {
      names.push(token);
    }
  }
  return names;
}

/** A half-open span of time, epoch ms. */
export interface Span {
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * The controller's invocations as spans of time, from their starts (the Lambda endpoint's invocation start) and
 * their ends (the meter's `lambdaInvocation`, at the end, with the duration). An end is matched to the open start
 * nearest `end − duration`; what has not ended by the window's end is open and billed to it.
 */
export class InvocationSpans {
  private readonly open: number[] = [];
  private readonly closed: Span[] = [];

  started(atMs: number): void {
    this.open.push(atMs);
  }

  ended(atMs: number, durationMs: number): void {
    const startMs = atMs - durationMs;
    let nearest = -1;
    for (let index = 0; index < this.open.length; index++) {
      const candidate = this.open[index] as number;
      const best =
        nearest < 0 ? Number.POSITIVE_INFINITY : Math.abs((this.open[nearest] as number) - startMs);
      if (Math.abs(candidate - startMs) < best) nearest = index;
    }
    if (nearest >= 0) this.open.splice(nearest, 1);
    this.closed.push({ startMs, endMs: atMs });
  }

  /** Milliseconds of invocation time inside the window, every invocation's share summed (billed GB-s follow it). */
  awakeMsWithin(window: Span): number {
    const spans = [...this.closed, ...this.open.map((startMs) => ({ startMs, endMs: window.endMs }))];
    return spans.reduce((sum, span) => sum + overlapMs(span, window), 0);
  }

  /** Invocations that started inside the window (each a billed request). */
  startsWithin(window: Span): number {
    const starts = [...this.closed.map((span) => span.startMs), ...this.open];
    return starts.filter((startMs) => startMs >= window.startMs && startMs < window.endMs).length;
  }
}

export function overlapMs(a: Span, b: Span): number {
  return Math.max(0, Math.min(a.endMs, b.endMs) - Math.max(a.startMs, b.startMs));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
