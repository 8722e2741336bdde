import { InvalidTimeZoneError, InvalidWindowRuleError, renderJson } from '../shared/errors';
import { parseWaitInterval } from '../shared/wait-interval';

/**
 * Window rules: a poller's cadence by local time of day and day of week, in one IANA time zone (default UTC).
 *
 * Syntax, one string per rule, written by hand in the DynamoDB console or the CLI:
 *
 *     <days> <HH:MM>-<HH:MM> every <seconds>      e.g. "Mon-Fri 06:00-20:00 every 2"
 *     <days> <HH:MM>-<HH:MM> pause                e.g. "Sun 01:00-05:00 pause"
 *
 * Times may carry seconds (`HH:MM:SS`, e.g. `06:00:30-06:05`) for windows that do not open on a whole minute.
 * `<days>` is `daily` or a comma-separated list of days (Mon Tue Wed Thu Fri Sat Sun, any case) and day ranges
 * (`Mon-Fri`; a range may wrap, `Fri-Mon`). The window runs from its start (inclusive) to its end (exclusive) on
 * each of those days; the end may be `24:00`. A window across midnight is written as two rules (`Fri 22:00-24:00`,
 * `Sat 00:00-02:00`), so each rule belongs to exactly one local day. `<seconds>` is checked by parseWaitInterval.
 *
 * Precedence: the first rule (in list order) whose window contains the instant wins; outside every window the
 * poller runs at its default cadence (the item's `waitseconds`). An operator puts exceptions before the general case.
 *
 * Time zones: all zone arithmetic goes through Intl.DateTimeFormat (the platform's tz data), never hand-written
 * offsets. A window on local day D is one contiguous stretch of instants: it opens at first(D, start), the first
 * instant the local clock shows that wall time, and closes at the first instant after that at which the clock shows
 * a time at or after its end, or falls back before its start. So a wall time skipped by a spring-forward gap starts
 * at the next instant that exists (the transition), and a repeated hour runs once: the clock never shows a time
 * outside the rule while the window is open, and the repeated stretch is not a second window. A fall-back that takes
 * the clock back before the start ends the window there (New York, Sun 01:30-02:00 on fall-back day: 01:30-02:00
 * EDT only, 30 minutes); one that stays within the window keeps it open through the repeated stretch (Sun
 * 00:00-03:00: four hours of real time, the clock showing 01:00-02:00 twice, all of it inside the rule).
 */

export type DayOfWeek = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export type WindowCadence =
  | { readonly kind: 'every'; readonly intervalMs: number }
  | { readonly kind: 'paused' };

export interface WindowRule {
  /** The rule as written, for messages and logs. */
  readonly text: string;
  /** Local days the window opens on, Sunday = 0 (as Date#getUTCDay numbers them). */
  readonly days: ReadonlySet<DayOfWeek>;
  /** Start and end of the window as milliseconds after local midnight; start < end ≤ 24 h. */
  readonly startMs: number;
  readonly endMs: number;
  readonly cadence: WindowCadence;
}

export const DEFAULT_TIME_ZONE = 'UTC';

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const DAY_NAMES: readonly string[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
/** Local days searched for the next edge: a week and a day covers every weekly rule. */
const EDGE_SEARCH_DAYS = 8;

/** The zone as Intl names it, or an error; undefined or blank means UTC. */
export function parseTimeZone(value: unknown, pollerId?: string): string | InvalidTimeZoneError {
  if (value === undefined || (typeof value === 'string' && value.trim() === '')) return DEFAULT_TIME_ZONE;
  if (typeof value !== 'string') return new InvalidTimeZoneError(value, pollerId);
  const zone = value.trim();
  try {
    // Intl refuses a name its tz data lacks. The name is kept as written: Intl would canonicalise it to a legacy
    // alias the operator did not write (Asia/Kolkata becomes Asia/Calcutta).
    formatterFor(zone);
    return zone;
  } catch {
    return new InvalidTimeZoneError(value, pollerId);
  }
}

/** The item's list of rule strings, or an error naming the first bad rule. */
export function parseWindowRules(
  value: unknown,
  pollerId?: string,
): readonly WindowRule[] | InvalidWindowRuleError {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    return new InvalidWindowRuleError(
      undefined,
      value,
      'the list',
      'must be a list of rule strings',
      pollerId,
    );
  }
  const rules: WindowRule[] = [];
  for (const [index, item] of value.entries()) {
    const rule = parseWindowRule(item, index, pollerId);
    if (rule instanceof InvalidWindowRuleError) return rule;
    rules.push(rule);
  }
  return rules;
}

function parseWindowRule(
  item: unknown,
  index: number,
  pollerId?: string,
): WindowRule | InvalidWindowRuleError {
  const refuse = (part: string, expected: string, found?: string) =>
    new InvalidWindowRuleError(index, item, part, expected, pollerId, found);
  if (typeof item !== 'string')
    return refuse('the rule', 'must be a string like "Mon-Fri 06:00-20:00 every 2"');
  const [daysText, hoursText, action, seconds, ...rest] = item.trim().split(/\s+/);
  if (daysText === undefined || hoursText === undefined || action === undefined) {
    return refuse('the rule', 'must read "<days> <HH:MM>-<HH:MM> every <seconds>" or "... pause"');
  }
  const days = parseDays(daysText);
  if (days === undefined) {
    return refuse('days', 'must be daily or days like Mon-Fri or Sat,Sun', renderJson(daysText));
  }
  const hours = parseHours(hoursText);
  if (typeof hours === 'string') return refuse('hours', hours, renderJson(hoursText));
  const cadence = parseCadence(action.toLowerCase(), seconds, rest);
  if ('refused' in cadence) return refuse(cadence.refused, cadence.expected, cadence.found);
  return { text: item, days, startMs: hours.startMs, endMs: hours.endMs, cadence };
}

function parseDays(text: string): ReadonlySet<DayOfWeek> | undefined {
  if (text.toLowerCase() === 'daily') return new Set<DayOfWeek>([0, 1, 2, 3, 4, 5, 6]);
  const days = new Set<DayOfWeek>();
  for (const part of text.split(',')) {
    const [from, to, ...extra] = part.split('-').map(dayOfWeek);
    if (from === undefined || extra.length > 0) return undefined;
    if (to === undefined && part.includes('-')) return undefined;
    // A range walks forward through the week, so Fri-Mon is Fri, Sat, Sun, Mon.
    for (let day: DayOfWeek = from; ; day = nextDay(day)) {
      days.add(day);
      if (day === (to ?? from)) break;
    }
  }
  return days;
}

function dayOfWeek(name: string): DayOfWeek | undefined {
  const index = DAY_NAMES.indexOf(name.toLowerCase());
  return index === -1 ? undefined : asDay(index);
}

function nextDay(day: DayOfWeek): DayOfWeek {
  return asDay((day + 1) % 7);
}

function asDay(index: number): DayOfWeek {
  switch (index) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
      return index;
    default:
      return 6;
  }
}

function parseHours(text: string): { startMs: number; endMs: number } | string {
  const shape = 'must be HH:MM-HH:MM (seconds optional: HH:MM:SS), e.g. 06:00-20:00';
  const match = /^(\d{2}):(\d{2})(?::(\d{2}))?-(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (match === null) return shape;
  const [startHour, startMinute, startSecond = 0, endHour, endMinute, endSecond = 0] = match
    .slice(1)
    .map((part) => (part === undefined ? undefined : Number(part)));
  if (
    startHour === undefined ||
    startMinute === undefined ||
    endHour === undefined ||
    endMinute === undefined
  ) {
    return shape;
  }
  if (startHour > 23 || startMinute > 59 || startSecond > 59)
    return 'start must be a time from 00:00 to 23:59:59';
  if (endMinute > 59 || endSecond > 59 || endHour > 24 || (endHour === 24 && endMinute + endSecond > 0)) {
    return 'end must be a time from 00:00:01 to 24:00';
  }
  const startMs = startHour * HOUR_MS + startMinute * MINUTE_MS + startSecond * SECOND_MS;
  const endMs = endHour * HOUR_MS + endMinute * MINUTE_MS + endSecond * SECOND_MS;
  if (endMs <= startMs) {
    return 'end must be after start (a window across midnight is two rules: ... 22:00-24:00 and ... 00:00-02:00)';
  }
  return { startMs, endMs };
}

function parseCadence(
  action: string,
  seconds: string | undefined,
  rest: readonly string[],
): WindowCadence | { refused: string; expected: string; found: string } {
  if (action === 'pause' && seconds === undefined) return { kind: 'paused' };
  if (action === 'every' && seconds !== undefined && rest.length === 0) {
    const interval = parseWaitInterval(seconds);
    if (interval instanceof Error) {
      return { refused: 'cadence', expected: `must be ${interval.expected}`, found: renderJson(seconds) };
    }
    return { kind: 'every', intervalMs: interval.intervalMs };
  }
  const written = renderJson([action, seconds, ...rest].join(' ').trim());
  return { refused: 'action', expected: 'must be "every <seconds>" or "pause"', found: written };
}

/** The cadence at an instant: the first rule whose window contains it, else every `defaultIntervalMs`. */
export function cadenceAt(
  rules: readonly WindowRule[],
  zone: string,
  defaultIntervalMs: number,
  instantMs: number,
): WindowCadence {
  const active = activeRuleIndex(rules, zone, instantMs);
  return active === undefined
    ? { kind: 'every', intervalMs: defaultIntervalMs }
    : (rules[active]?.cadence ?? { kind: 'every', intervalMs: defaultIntervalMs });
}

/** The rule in force at an instant (the first whose window contains it), or undefined outside every window. */
export function activeRuleAt(
  rules: readonly WindowRule[],
  zone: string,
  instantMs: number,
): WindowRule | undefined {
  if (rules.length === 0) return undefined;
  const active = activeRuleIndex(rules, zone, instantMs);
  return active === undefined ? undefined : rules[active];
}

/**
 * The next instant after `instantMs` at which the active rule changes (a window opens or closes and another rule,
 * or the default, takes over), or undefined if none does within the next week. A planner anchors the first tick of
 * the new cadence on it, so the first tick of a 06:00 window fires at 06:00:00.000 local.
 */
export function nextEdgeAfter(
  rules: readonly WindowRule[],
  zone: string,
  instantMs: number,
): number | undefined {
  const current = activeRuleIndex(rules, zone, instantMs);
  const candidates = windowBoundaries(rules, zone, instantMs)
    .filter((edge) => edge > instantMs)
    .sort((a, b) => a - b);
  // The active rule can only change at a boundary, so the first boundary where it differs is the next edge.
  return candidates.find((edge) => activeRuleIndex(rules, zone, edge) !== current);
}

function activeRuleIndex(rules: readonly WindowRule[], zone: string, instantMs: number): number | undefined {
  // Only the window of the day the clock shows can be open: while a window is open the clock shows a time within
  // it (a fall-back before its start closes it, even one across midnight, as at Antarctica/Casey in 2010).
  const today = localDayOf(zone, instantMs);
  const index = rules.findIndex((rule) => {
    const window = windowOn(rule, zone, today);
    return window !== undefined && window.opensAt <= instantMs && instantMs < window.closesAt;
  });
  return index === -1 ? undefined : index;
}

function windowBoundaries(rules: readonly WindowRule[], zone: string, instantMs: number): number[] {
  const today = localDayOf(zone, instantMs);
  const edges: number[] = [];
  for (let offset = -1; offset <= EDGE_SEARCH_DAYS; offset++) {
    for (const rule of rules) {
      const window = windowOn(rule, zone, today + offset * DAY_MS);
      if (window !== undefined) edges.push(window.opensAt, window.closesAt);
    }
  }
  return edges;
}

/** The rule's window on a local day (its midnight as naive wall-clock ms), if the rule opens on that day. */
function windowOn(
  rule: WindowRule,
  zone: string,
  localMidnight: number,
): { opensAt: number; closesAt: number } | undefined {
  if (!rule.days.has(asDay(new Date(localMidnight).getUTCDay()))) return undefined;
  const startWall = localMidnight + rule.startMs;
  const opensAt = firstInstantShowing(zone, startWall);
  const endShownAt = firstInstantShowing(zone, localMidnight + rule.endMs);
  // The clock rises steadily from the start to the end unless it falls back on the way: back before the start, it
  // shows times outside the rule, and the window ends there (it does not open again when the start comes round).
  const fallBackAt = fallBackWithin(zone, opensAt, endShownAt);
  const closesAt =
    fallBackAt !== undefined && wallClockOf(zone, fallBackAt) < startWall ? fallBackAt : endShownAt;
  return { opensAt, closesAt };
}

/** The first instant in (fromMs, toMs] at which the zone's clock falls back (its offset drops), if it does. */
function fallBackWithin(zone: string, fromMs: number, toMs: number): number | undefined {
  const offsetFrom = offsetAt(zone, fromMs);
  const offsetTo = offsetAt(zone, toMs);
  // Real zones change offset at most once within a day, and a window lasts a day at most.
  if (offsetTo >= offsetFrom) return undefined;
  return firstInstantWithOffset(zone, fromMs, toMs, offsetTo);
}

/**
 * "Naive" wall-clock ms: the local date and time read as if it were UTC. Pure arithmetic on it (adding days, a
 * time of day) is calendar arithmetic; only wallClockOf and firstInstantShowing cross between it and instants.
 */
function localDayOf(zone: string, instantMs: number): number {
  const wall = wallClockOf(zone, instantMs);
  return wall - (((wall % DAY_MS) + DAY_MS) % DAY_MS);
}

/** The first instant at which the zone's clock shows `wallMs`; for a skipped wall time, the instant it resumes. */
function firstInstantShowing(zone: string, wallMs: number): number {
  // Real zones change offset at most once within a day, so the offsets a day either side bracket any transition.
  const offsetBefore = offsetAt(zone, wallMs - DAY_MS);
  const offsetAfter = offsetAt(zone, wallMs + DAY_MS);
  const showing = [wallMs - offsetBefore, wallMs - offsetAfter].filter(
    (instant) => wallClockOf(zone, instant) === wallMs,
  );
  if (showing.length > 0) return Math.min(...showing);
  // A gap (the clock jumped past wallMs): the transition lies in (wallMs - offsetAfter, wallMs - offsetBefore];
  // find its first instant, where the offset becomes offsetAfter.
  return firstInstantWithOffset(zone, wallMs - offsetAfter, wallMs - offsetBefore, offsetAfter);
}

/**
 * The first instant in (afterMs, atMostMs] from which the zone's offset is `offset`, given the one transition
 * in that span (real zones change offset at most once within a day): a bisection to the millisecond.
 */
function firstInstantWithOffset(zone: string, afterMs: number, atMostMs: number, offset: number): number {
  let low = afterMs;
  let high = atMostMs;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (offsetAt(zone, middle) === offset) high = middle;
    else low = middle;
  }
  return high;
}

function offsetAt(zone: string, instantMs: number): number {
  return wallClockOf(zone, instantMs) - instantMs;
}

function wallClockOf(zone: string, instantMs: number): number {
  const parts: Partial<Record<Intl.DateTimeFormatPartTypes, number>> = {};
  for (const part of formatterFor(zone).formatToParts(instantMs)) parts[part.type] = Number(part.value);
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts;
  const wholeSecond = Date.UTC(year, month - 1, day, hour, minute, second);
  // Intl renders whole seconds; the milliseconds carry over unchanged (offsets are whole seconds).
  return wholeSecond + (((instantMs % 1000) + 1000) % 1000);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One formatter per zone: building one is far slower than formatting with it. */
function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}
