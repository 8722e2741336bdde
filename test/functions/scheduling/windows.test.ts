import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  cadenceAt,
  nextEdgeAfter,
  parseTimeZone,
  parseWindowRules,
  type WindowRule,
} from '../../../functions/scheduling/windows';
import { InvalidTimeZoneError, InvalidWindowRuleError } from '../../../functions/shared/errors';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const SECOND = 1_000;
const DEFAULT_MS = 30_000;
const at = (iso: string) => Date.parse(iso);

function rulesOf(...texts: string[]): readonly WindowRule[] {
  const rules = parseWindowRules(texts);
  if (rules instanceof InvalidWindowRuleError) throw rules;
  return rules;
}

describe('parseWindowRules', () => {
  it.each([
    {
      text: 'Mon-Fri 06:00-20:00 every 2',
      days: [1, 2, 3, 4, 5],
      startMs: 6 * HOUR,
      endMs: 20 * HOUR,
      cadence: { kind: 'every', intervalMs: 2_000 },
    },
    {
      text: 'Sun 01:00-05:00 pause',
      days: [0],
      startMs: HOUR,
      endMs: 5 * HOUR,
      cadence: { kind: 'paused' },
    },
    {
      text: '  sat,SUN   00:00-24:00  EVERY 0.25 ',
      days: [0, 6],
      startMs: 0,
      endMs: 24 * HOUR,
      cadence: { kind: 'every', intervalMs: 250 },
    },
    {
      text: 'Fri-Mon 22:30-23:45 every 3600',
      days: [0, 1, 5, 6],
      startMs: 22 * HOUR + 30 * MINUTE,
      endMs: 23 * HOUR + 45 * MINUTE,
      cadence: { kind: 'every', intervalMs: 3_600_000 },
    },
    {
      text: 'daily 12:00-12:01 pause',
      days: [0, 1, 2, 3, 4, 5, 6],
      startMs: 12 * HOUR,
      endMs: 12 * HOUR + MINUTE,
      cadence: { kind: 'paused' },
    },
    {
      text: 'daily 06:00:30-06:05:15 every 1',
      days: [0, 1, 2, 3, 4, 5, 6],
      startMs: 6 * HOUR + 30_000,
      endMs: 6 * HOUR + 5 * MINUTE + 15_000,
      cadence: { kind: 'every', intervalMs: 1_000 },
    },
    {
      text: 'Sat 23:59:59-24:00 pause',
      days: [6],
      startMs: 24 * HOUR - 1_000,
      endMs: 24 * HOUR,
      cadence: { kind: 'paused' },
    },
    {
      text: 'Mon,Wed-Thu 08:00-09:00 every 0.1',
      days: [1, 3, 4],
      startMs: 8 * HOUR,
      endMs: 9 * HOUR,
      cadence: { kind: 'every', intervalMs: 100 },
    },
  ])('reads "$text"', ({ text, days, startMs, endMs, cadence }) => {
    // act
    const [rule] = rulesOf(text);

    // assess
    expect(rule).toEqual({ text, days: new Set(days), startMs, endMs, cadence });
  });

  it('reads no rules as an empty list and keeps the order of several', () => {
    // act
    const none = parseWindowRules(undefined);
    const two = rulesOf('Sun 01:00-05:00 pause', 'daily 00:00-24:00 every 5');

    // assess
    expect(none).toEqual([]);
    expect(two.map((rule) => rule.text)).toEqual(['Sun 01:00-05:00 pause', 'daily 00:00-24:00 every 5']);
  });

  it.each([
    {
      rules: ['Mon-Fri 06:00-20:00 every abc'],
      index: 0,
      part: 'cadence',
      message:
        'windows[0] "Mon-Fri 06:00-20:00 every abc": cadence must be a number of seconds from 0.1 to 3600, decimals allowed; got "abc"',
    },
    {
      rules: ['Sun 01:00-05:00 pause', 'Mon 06:00-20:00 every 3601'],
      index: 1,
      part: 'cadence',
      message:
        'windows[1] "Mon 06:00-20:00 every 3601": cadence must be a number of seconds from 0.1 to 3600, decimals allowed; got "3601"',
    },
    {
      rules: ['Funday 06:00-20:00 every 2'],
      index: 0,
      part: 'days',
      message:
        'windows[0] "Funday 06:00-20:00 every 2": days must be daily or days like Mon-Fri or Sat,Sun; got "Funday"',
    },
    {
      rules: ['Mon- 06:00-20:00 every 2'],
      index: 0,
      part: 'days',
      message:
        'windows[0] "Mon- 06:00-20:00 every 2": days must be daily or days like Mon-Fri or Sat,Sun; got "Mon-"',
    },
    {
      rules: ['Mon 6:00-20:00 pause'],
      index: 0,
      part: 'hours',
      message:
        'windows[0] "Mon 6:00-20:00 pause": hours must be HH:MM-HH:MM (seconds optional: HH:MM:SS), e.g. 06:00-20:00; got "6:00-20:00"',
    },
    {
      rules: ['Mon 24:00-24:00 pause'],
      index: 0,
      part: 'hours',
      message:
        'windows[0] "Mon 24:00-24:00 pause": hours start must be a time from 00:00 to 23:59:59; got "24:00-24:00"',
    },
    {
      rules: ['Mon 06:00-24:30 pause'],
      index: 0,
      part: 'hours',
      message:
        'windows[0] "Mon 06:00-24:30 pause": hours end must be a time from 00:00:01 to 24:00; got "06:00-24:30"',
    },
    {
      rules: ['Mon 06:00:60-07:00 pause'],
      index: 0,
      part: 'hours',
      message:
        'windows[0] "Mon 06:00:60-07:00 pause": hours start must be a time from 00:00 to 23:59:59; got "06:00:60-07:00"',
    },
    {
      rules: ['Mon 06:00-24:00:01 pause'],
      index: 0,
      part: 'hours',
      message:
        'windows[0] "Mon 06:00-24:00:01 pause": hours end must be a time from 00:00:01 to 24:00; got "06:00-24:00:01"',
    },
    {
      rules: ['Mon 06:00:05-06:00:05 pause'],
      index: 0,
      part: 'hours',
      message:
        'windows[0] "Mon 06:00:05-06:00:05 pause": hours end must be after start (a window across midnight is two rules: ... 22:00-24:00 and ... 00:00-02:00); got "06:00:05-06:00:05"',
    },
    {
      rules: ['Fri 22:00-02:00 every 5'],
      index: 0,
      part: 'hours',
      message:
        'windows[0] "Fri 22:00-02:00 every 5": hours end must be after start (a window across midnight is two rules: ... 22:00-24:00 and ... 00:00-02:00); got "22:00-02:00"',
    },
    {
      rules: ['Mon 06:00-06:00 pause'],
      index: 0,
      part: 'hours',
      message:
        'windows[0] "Mon 06:00-06:00 pause": hours end must be after start (a window across midnight is two rules: ... 22:00-24:00 and ... 00:00-02:00); got "06:00-06:00"',
    },
    {
      rules: ['Mon 06:00-20:00 every 2 please'],
      index: 0,
      part: 'action',
      message:
        'windows[0] "Mon 06:00-20:00 every 2 please": action must be "every <seconds>" or "pause"; got "every 2 please"',
    },
    {
      rules: ['Mon 06:00-20:00 stop'],
      index: 0,
      part: 'action',
      message: 'windows[0] "Mon 06:00-20:00 stop": action must be "every <seconds>" or "pause"; got "stop"',
    },
    {
      rules: ['Mon 06:00-20:00'],
      index: 0,
      part: 'the rule',
      message:
        'windows[0] "Mon 06:00-20:00": the rule must read "<days> <HH:MM>-<HH:MM> every <seconds>" or "... pause"',
    },
    {
      rules: [42],
      index: 0,
      part: 'the rule',
      message: 'windows[0] 42: the rule must be a string like "Mon-Fri 06:00-20:00 every 2"',
    },
  ])('refuses $rules naming rule $index and its $part', ({ rules, index, part, message }) => {
    // act
    const error = parseWindowRules(rules, 'fleet-7');

    // assess
    expect(error).toBeInstanceOf(InvalidWindowRuleError);
    expect(error).toMatchObject({
      name: 'InvalidWindowRuleError',
      message,
      ruleIndex: index,
      part,
      pollerId: 'fleet-7',
    });
    expect(error).toMatchObject({ value: rules[index] });
  });

  it('refuses a value that is not a list', () => {
    // act
    const error = parseWindowRules('Mon 06:00-20:00 pause');

    // assess
    expect(error).toBeInstanceOf(InvalidWindowRuleError);
    expect(error).toMatchObject({
      message: 'windows: the list must be a list of rule strings',
      ruleIndex: undefined,
    });
  });
});

describe('parseTimeZone', () => {
  it.each([
    { value: undefined, expected: 'UTC' },
    { value: '  ', expected: 'UTC' },
    { value: 'Europe/Berlin', expected: 'Europe/Berlin' },
    { value: ' Asia/Kolkata ', expected: 'Asia/Kolkata' },
    { value: 'Australia/Lord_Howe', expected: 'Australia/Lord_Howe' },
  ])('accepts $value as $expected', ({ value, expected }) => {
    // act
    const zone = parseTimeZone(value);

    // assess
    expect(zone).toBe(expected);
  });

  it.each([{ value: 'Mars/Olympus_Mons' }, { value: 'UTC+2' }, { value: 7 }])(
    'refuses $value',
    ({ value }) => {
      // act
      const error = parseTimeZone(value, 'fleet-7');

      // assess
      expect(error).toBeInstanceOf(InvalidTimeZoneError);
      expect(error).toMatchObject({ pollerId: 'fleet-7', value });
      expect(error).toHaveProperty(
        'message',
        `timezone must be an IANA time zone name such as Europe/Berlin; got ${JSON.stringify(value)}`,
      );
    },
  );
});

// 2026-03-09 is a Monday; 2026-03-14 a Saturday, 2026-03-15 a Sunday.
const FLEET_RULES = rulesOf(
  'Sun 01:00-05:00 pause',
  'Mon-Fri 06:00-20:00 every 2',
  'Sat 10:00-24:00 every 10',
);

describe('cadenceAt', () => {
  it.each([
    { when: 'a ms before a weekday window', instant: at('2026-03-09T05:59:59.999Z'), expected: DEFAULT_MS },
    {
      when: 'the first instant of a weekday window',
      instant: at('2026-03-09T06:00:00.000Z'),
      expected: 2_000,
    },
    { when: 'a ms into a weekday window', instant: at('2026-03-09T06:00:00.001Z'), expected: 2_000 },
    { when: 'a ms before a weekday window ends', instant: at('2026-03-09T19:59:59.999Z'), expected: 2_000 },
    { when: 'the end of a weekday window', instant: at('2026-03-09T20:00:00.000Z'), expected: DEFAULT_MS },
    { when: 'a weekend morning', instant: at('2026-03-14T07:00:00.000Z'), expected: DEFAULT_MS },
    { when: 'a Saturday window', instant: at('2026-03-14T23:59:59.999Z'), expected: 10_000 },
    {
      when: 'midnight after a window ending 24:00',
      instant: at('2026-03-15T00:00:00.000Z'),
      expected: DEFAULT_MS,
    },
  ])('runs at the rule or default cadence at $when', ({ instant, expected }) => {
    // act
    const cadence = cadenceAt(FLEET_RULES, 'UTC', DEFAULT_MS, instant);

    // assess
    expect(cadence).toEqual({ kind: 'every', intervalMs: expected });
  });

  it.each([
    { instant: at('2026-03-15T00:59:59.999Z'), expected: { kind: 'every', intervalMs: DEFAULT_MS } },
    { instant: at('2026-03-15T01:00:00.000Z'), expected: { kind: 'paused' } },
    { instant: at('2026-03-15T04:59:59.999Z'), expected: { kind: 'paused' } },
    { instant: at('2026-03-15T05:00:00.000Z'), expected: { kind: 'every', intervalMs: DEFAULT_MS } },
  ])('pauses on Sunday 01:00-05:00: $instant', ({ instant, expected }) => {
    // act
    const cadence = cadenceAt(FLEET_RULES, 'UTC', DEFAULT_MS, instant);

    // assess
    expect(cadence).toEqual(expected);
  });

  it('lets the first matching rule win where windows overlap', () => {
    // prepare
    const rules = rulesOf('Mon 12:00-13:00 pause', 'daily 00:00-24:00 every 5');

    // act
    const cadences = [
      at('2026-03-09T11:59:59.999Z'),
      at('2026-03-09T12:30:00Z'),
      at('2026-03-09T13:00:00Z'),
    ].map((instant) => cadenceAt(rules, 'UTC', DEFAULT_MS, instant));

    // assess
    expect(cadences).toEqual([
      { kind: 'every', intervalMs: 5_000 },
      { kind: 'paused' },
      { kind: 'every', intervalMs: 5_000 },
    ]);
  });

  it('reads the window in the zone, not in UTC', () => {
    // prepare: 06:00 in Kolkata (+05:30) is 00:30 UTC
    const rules = rulesOf('Mon-Fri 06:00-20:00 every 2');

    // act
    const before = cadenceAt(rules, 'Asia/Kolkata', DEFAULT_MS, at('2026-03-09T00:29:59.999Z'));
    const opening = cadenceAt(rules, 'Asia/Kolkata', DEFAULT_MS, at('2026-03-09T00:30:00.000Z'));

    // assess
    expect(before).toEqual({ kind: 'every', intervalMs: DEFAULT_MS });
    expect(opening).toEqual({ kind: 'every', intervalMs: 2_000 });
  });
});

describe('nextEdgeAfter', () => {
  it.each([
    { from: '2026-03-09T00:00:00.000Z', expected: '2026-03-09T06:00:00.000Z' },
    { from: '2026-03-09T05:59:59.999Z', expected: '2026-03-09T06:00:00.000Z' },
    { from: '2026-03-09T06:00:00.000Z', expected: '2026-03-09T20:00:00.000Z' },
    { from: '2026-03-13T20:00:00.000Z', expected: '2026-03-14T10:00:00.000Z' },
    { from: '2026-03-14T10:00:00.000Z', expected: '2026-03-15T00:00:00.000Z' },
    { from: '2026-03-15T00:00:00.000Z', expected: '2026-03-15T01:00:00.000Z' },
    { from: '2026-03-15T01:00:00.000Z', expected: '2026-03-15T05:00:00.000Z' },
  ])('finds the edge after $from at $expected', ({ from, expected }) => {
    // act
    const edge = nextEdgeAfter(FLEET_RULES, 'UTC', at(from));

    // assess
    expect(edge).toBe(at(expected));
  });

  it('skips a boundary where the same rule stays active (Mon 24:00 = Tue 00:00 of a daily window)', () => {
    // prepare
    const rules = rulesOf('Mon-Tue 00:00-24:00 every 5');

    // act
    const edge = nextEdgeAfter(rules, 'UTC', at('2026-03-09T12:00:00Z'));

    // assess
    expect(edge).toBe(at('2026-03-11T00:00:00Z'));
  });

  it.each([
    { when: 'there are no rules', rules: rulesOf() },
    { when: 'one rule covers the whole week', rules: rulesOf('daily 00:00-24:00 every 5') },
  ])('finds no edge when $when', ({ rules }) => {
    // act
    const edge = nextEdgeAfter(rules, 'Europe/Berlin', at('2026-03-09T12:00:00Z'));

    // assess
    expect(edge).toBeUndefined();
  });
});

/**
 * 2026 transitions (from the tz database): New York 03-08 02:00 EST -> 03:00 EDT (07:00Z) and 11-01 02:00 EDT ->
 * 01:00 EST (06:00Z); Berlin 03-29 02:00 CET -> 03:00 CEST (01:00Z) and 10-25 03:00 CEST -> 02:00 CET (01:00Z);
 * Lord Howe 04-05 02:00 +11 -> 01:30 +10:30 (04-04 15:00Z) and 10-04 02:00 +10:30 -> 02:30 +11 (10-03 15:30Z);
 * Kolkata +05:30 all year.
 */
describe('windows across DST transitions', () => {
  it.each([
    {
      case: 'New York spring-forward: 02:30 does not exist, the window opens at 03:00 EDT',
      zone: 'America/New_York',
      rule: 'Sun 02:30-04:00 every 5',
      from: '2026-03-08T00:00:00Z',
      edges: ['2026-03-08T07:00:00Z', '2026-03-08T08:00:00Z'],
    },
    {
      case: 'New York fall-back: 01:00-01:30 runs once, in EDT',
      zone: 'America/New_York',
      rule: 'Sun 01:00-01:30 every 5',
      from: '2026-11-01T00:00:00Z',
      edges: ['2026-11-01T05:00:00Z', '2026-11-01T05:30:00Z', '2026-11-08T06:00:00Z'],
    },
    {
      case: 'Berlin spring-forward: 02:15 does not exist, the window opens at 03:00 CEST',
      zone: 'Europe/Berlin',
      rule: 'Sun 02:15-06:00 every 10',
      from: '2026-03-28T12:00:00Z',
      edges: ['2026-03-29T01:00:00Z', '2026-03-29T04:00:00Z'],
    },
    {
      case: 'Berlin spring-forward: a window wholly inside the skipped hour is empty that day, no edges',
      zone: 'Europe/Berlin',
      rule: 'Sun 02:10-02:40 pause',
      from: '2026-03-28T12:00:00Z',
      edges: ['2026-04-05T00:10:00Z', '2026-04-05T00:40:00Z'],
    },
    {
      // The window opens at the first 02:30 (CEST, 00:30Z). At 03:00 CEST (01:00Z) the clock falls back to 02:00
      // CET, before the window's start: it closes there, after 30 minutes, and 02:30-03:30 CET is not a second
      // window (it used to run on to 03:30 CET, 2 hours, through times the rule does not name).
      case: 'Berlin fall-back: 02:30-03:30 opens at the first 02:30 and closes when the clock falls back to 02:00',
      zone: 'Europe/Berlin',
      rule: 'Sun 02:30-03:30 every 10',
      from: '2026-10-24T12:00:00Z',
      edges: ['2026-10-25T00:30:00Z', '2026-10-25T01:00:00Z', '2026-11-01T01:30:00Z'],
    },
    {
      case: 'Kolkata, a half-hour zone: 06:00-20:00 local',
      zone: 'Asia/Kolkata',
      rule: 'Mon-Fri 06:00-20:00 every 2',
      from: '2026-03-08T12:00:00Z',
      edges: ['2026-03-09T00:30:00Z', '2026-03-09T14:30:00Z', '2026-03-10T00:30:00Z'],
    },
    {
      case: 'Lord Howe fall-back (30 min): 01:30-01:45 runs once, at +11',
      zone: 'Australia/Lord_Howe',
      rule: 'Sun 01:30-01:45 every 3',
      from: '2026-04-04T12:00:00Z',
      edges: ['2026-04-04T14:30:00Z', '2026-04-04T14:45:00Z', '2026-04-11T15:00:00Z'],
    },
    {
      case: 'Lord Howe spring-forward (30 min): 02:10 does not exist, the window opens at 02:30 +11',
      zone: 'Australia/Lord_Howe',
      rule: 'Sun 02:10-03:00 every 3',
      from: '2026-10-03T12:00:00Z',
      edges: ['2026-10-03T15:30:00Z', '2026-10-03T16:00:00Z'],
    },
  ])('$case', ({ zone, rule, from, edges }) => {
    // prepare
    const rules = rulesOf(rule);

    // act
    const found: number[] = [];
    let instant = at(from);
    for (const _ of edges) {
      const edge = nextEdgeAfter(rules, zone, instant);
      if (edge === undefined) break;
      found.push(edge);
      instant = edge;
    }

    // assess
    expect(found).toEqual(edges.map(at));
  });

  it.each([
    // New York spring: the window opens exactly at the transition instant.
    {
      zone: 'America/New_York',
      rule: 'Sun 02:30-04:00 every 5',
      instant: '2026-03-08T06:59:59.999Z',
      every: false,
    },
    {
      zone: 'America/New_York',
      rule: 'Sun 02:30-04:00 every 5',
      instant: '2026-03-08T07:00:00.000Z',
      every: true,
    },
    // New York fall: the second 01:15 (EST, 06:15Z) is outside the window that already ran.
    {
      zone: 'America/New_York',
      rule: 'Sun 01:00-01:30 every 5',
      instant: '2026-11-01T05:15:00.000Z',
      every: true,
    },
    {
      zone: 'America/New_York',
      rule: 'Sun 01:00-01:30 every 5',
      instant: '2026-11-01T06:15:00.000Z',
      every: false,
    },
    // Berlin fall: the window opened at the first 02:30 (CEST) closes when the clock falls back to 02:00 CET, before
    // its start; the second 02:15 (CET, 01:15Z) is outside the rule's times and not in the window.
    {
      zone: 'Europe/Berlin',
      rule: 'Sun 02:30-03:30 every 10',
      instant: '2026-10-25T00:29:59.999Z',
      every: false,
    },
    {
      zone: 'Europe/Berlin',
      rule: 'Sun 02:30-03:30 every 10',
      instant: '2026-10-25T00:59:59.999Z',
      every: true,
    },
    {
      zone: 'Europe/Berlin',
      rule: 'Sun 02:30-03:30 every 10',
      instant: '2026-10-25T01:15:00.000Z',
      every: false,
    },
    {
      zone: 'Europe/Berlin',
      rule: 'Sun 02:30-03:30 every 10',
      instant: '2026-10-25T02:30:00.000Z',
      every: false,
    },
    // Lord Howe fall: the second 01:35 (+10:30, 15:05Z) does not reopen the window.
    {
      zone: 'Australia/Lord_Howe',
      rule: 'Sun 01:30-01:45 every 3',
      instant: '2026-04-04T14:35:00Z',
      every: true,
    },
    {
      zone: 'Australia/Lord_Howe',
      rule: 'Sun 01:30-01:45 every 3',
      instant: '2026-04-04T15:05:00Z',
      every: false,
    },
    // Lord Howe spring: the window opens at the transition, a ms earlier it has not.
    {
      zone: 'Australia/Lord_Howe',
      rule: 'Sun 02:10-03:00 every 3',
      instant: '2026-10-03T15:29:59.999Z',
      every: false,
    },
    {
      zone: 'Australia/Lord_Howe',
      rule: 'Sun 02:10-03:00 every 3',
      instant: '2026-10-03T15:30:00.000Z',
      every: true,
    },
  ])('$zone "$rule" at $instant: in the window = $every', ({ zone, rule, instant, every }) => {
    // prepare
    const rules = rulesOf(rule);
    const [windowRule] = rules;

    // act
    const cadence = cadenceAt(rules, zone, DEFAULT_MS, at(instant));

    // assess
    expect(cadence).toEqual(every ? windowRule?.cadence : { kind: 'every', intervalMs: DEFAULT_MS });
  });

  it('closes a window when the clock falls back across midnight to the day before (Antarctica/Casey, 2010)', () => {
    // prepare: on 2010-03-05 at 02:00 (+11, 15:00Z) Casey went back to 2010-03-04 23:00 (+8), the only such
    // transition in the tz data since 1995. Friday's window ran 00:00-02:00 (+11) in full when the clock went
    // back to Thursday 23:00: it closes there, and Friday 00:00-02:00 shown again (+8, 16:00Z-18:00Z) does not
    // reopen it (it used to stay open through Thursday 23:00-24:00, five hours in all).
    const rules = rulesOf('Fri 00:00-02:00 every 5');

    // act
    const opens = nextEdgeAfter(rules, 'Antarctica/Casey', at('2010-03-04T12:00:00Z'));
    const closes = nextEdgeAfter(rules, 'Antarctica/Casey', at('2010-03-04T13:00:00Z'));
    const duringThursdayAgain = cadenceAt(rules, 'Antarctica/Casey', DEFAULT_MS, at('2010-03-04T15:30:00Z'));
    const duringFridayAgain = cadenceAt(rules, 'Antarctica/Casey', DEFAULT_MS, at('2010-03-04T16:30:00Z'));

    // assess
    expect(opens).toBe(at('2010-03-04T13:00:00Z'));
    expect(closes).toBe(at('2010-03-04T15:00:00Z'));
    expect(duringThursdayAgain).toEqual({ kind: 'every', intervalMs: DEFAULT_MS });
    expect(duringFridayAgain).toEqual({ kind: 'every', intervalMs: DEFAULT_MS });
  });
});

/**
 * A window is the one stretch from the first instant the clock shows its start to the first instant after that the
 * clock shows its end or falls back before its start. Fall-backs in 2026: New York 11-01 02:00 EDT -> 01:00 EST
 * (06:00Z), the repeated stretch 01:00-02:00; Berlin 10-25 03:00 CEST -> 02:00 CET (01:00Z), 02:00-03:00; Lord Howe
 * 04-05 02:00 +11 -> 01:30 +10:30 (04-04 15:00Z), 01:30-02:00.
 */
describe('a window on a fall-back day runs once, as one stretch', () => {
  it.each([
    {
      case: 'New York, inside the repeated hour: ends at the fall-back, not at the second 02:00',
      zone: 'America/New_York',
      rule: 'Sun 01:30-02:00 every 1',
      opensAt: '2026-11-01T05:30:00Z',
      closesAt: '2026-11-01T06:00:00Z',
    },
    {
      case: 'New York, wholly inside the first pass of the repeated hour',
      zone: 'America/New_York',
      rule: 'Sun 01:10-01:20 every 1',
      opensAt: '2026-11-01T05:10:00Z',
      closesAt: '2026-11-01T05:20:00Z',
    },
    {
      case: 'New York, overlapping the start of the repeated hour',
      zone: 'America/New_York',
      rule: 'Sun 00:30-01:30 every 1',
      opensAt: '2026-11-01T04:30:00Z',
      closesAt: '2026-11-01T05:30:00Z',
    },
    {
      case: 'New York, overlapping the end of the repeated hour: ends at the fall-back to 01:00, before its start',
      zone: 'America/New_York',
      rule: 'Sun 01:30-02:30 every 1',
      opensAt: '2026-11-01T05:30:00Z',
      closesAt: '2026-11-01T06:00:00Z',
    },
    {
      case: 'New York, around the repeated hour: four hours of real time, the clock never outside 00:00-03:00',
      zone: 'America/New_York',
      rule: 'Sun 00:00-03:00 every 1',
      opensAt: '2026-11-01T04:00:00Z',
      closesAt: '2026-11-01T08:00:00Z',
    },
    {
      case: 'Berlin, inside the repeated hour',
      zone: 'Europe/Berlin',
      rule: 'Sun 02:15-02:45 every 1',
      opensAt: '2026-10-25T00:15:00Z',
      closesAt: '2026-10-25T00:45:00Z',
    },
    {
      case: 'Berlin, overlapping the start of the repeated hour',
      zone: 'Europe/Berlin',
      rule: 'Sun 01:30-02:30 every 1',
      opensAt: '2026-10-24T23:30:00Z',
      closesAt: '2026-10-25T00:30:00Z',
    },
    {
      case: 'Berlin, overlapping the end of the repeated hour: ends at the fall-back to 02:00',
      zone: 'Europe/Berlin',
      rule: 'Sun 02:45-03:15 every 1',
      opensAt: '2026-10-25T00:45:00Z',
      closesAt: '2026-10-25T01:00:00Z',
    },
    {
      case: 'Berlin, around the repeated hour: four hours of real time',
      zone: 'Europe/Berlin',
      rule: 'Sun 01:00-04:00 every 1',
      opensAt: '2026-10-24T23:00:00Z',
      closesAt: '2026-10-25T03:00:00Z',
    },
    {
      case: 'Lord Howe (30 min), inside the repeated half hour: ends at the fall-back to 01:30',
      zone: 'Australia/Lord_Howe',
      rule: 'Sun 01:45-02:00 every 1',
      opensAt: '2026-04-04T14:45:00Z',
      closesAt: '2026-04-04T15:00:00Z',
    },
    {
      case: 'Lord Howe, overlapping the end of the repeated half hour',
      zone: 'Australia/Lord_Howe',
      rule: 'Sun 01:40-02:10 every 1',
      opensAt: '2026-04-04T14:40:00Z',
      closesAt: '2026-04-04T15:00:00Z',
    },
    {
      case: 'Lord Howe, around the repeated half hour: two and a half hours of real time',
      zone: 'Australia/Lord_Howe',
      rule: 'Sun 01:00-03:00 every 1',
      opensAt: '2026-04-04T14:00:00Z',
      closesAt: '2026-04-04T16:30:00Z',
    },
  ])('$case', ({ zone, rule, opensAt, closesAt }) => {
    // prepare
    const rules = rulesOf(rule);
    const opensMs = at(opensAt);
    const closesMs = at(closesAt);
    // The window's cadence (1 s) is in force; outside it, the default (30 s).
    const inWindow = (instantMs: number) =>
      isDeepStrictEqual(cadenceAt(rules, zone, DEFAULT_MS, instantMs), { kind: 'every', intervalMs: SECOND });

    // act
    const opening = nextEdgeAfter(rules, zone, opensMs - 6 * HOUR);
    const closing = nextEdgeAfter(rules, zone, opensMs);
    const reopening = nextEdgeAfter(rules, zone, closesMs);

    // assess: the edges bound one stretch, the window in force exactly within it, and not again that day
    expect([opening, closing]).toEqual([opensMs, closesMs]);
    expect(reopening).toBeGreaterThan(closesMs + 6 * 24 * HOUR);
    expect([opensMs - 1, opensMs, closesMs - 1, closesMs].map(inWindow)).toEqual([false, true, true, false]);
    const afterClose = Array.from({ length: 12 }, (_, i) => closesMs + i * 10 * MINUTE);
    expect(afterClose.filter(inWindow)).toEqual([]);
  });
});
