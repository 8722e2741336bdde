import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { parseWindowRules } from '../../../functions/scheduling/windows';
import { FIELD, MAX_WINDOW_RULES, type PollerConfig } from '../../../functions/shared/contract';
import {
  decodePollerItem,
  parseTimeZoneField,
  parseWindowsField,
  type RawItem,
  readConfig,
} from '../../../functions/shared/control-item';
import { InvalidControlItemError, InvalidWindowRuleError } from '../../../functions/shared/errors';

const POLLER_ID = 'orders';

const item = (fields: RawItem = {}): RawItem => ({
  [FIELD.id]: { S: POLLER_ID },
  [FIELD.running]: { BOOL: true },
  [FIELD.waitSeconds]: { N: '30' },
  ...fields,
});

const textsOf = (rules: unknown) =>
  Array.isArray(rules) ? rules.map((rule: { text: string }) => rule.text) : rules;

function previousConfig(): PollerConfig {
  const windows = parseWindowRules(['Mon-Fri 06:00-20:00 every 2']);
  if (windows instanceof InvalidWindowRuleError) throw windows;
  return { running: true, intervalMs: 30_000, timeZone: 'Europe/Berlin', windows };
}

describe('parseWindowsField: what an operator can type in the DynamoDB console', () => {
  it.each<{ shape: string; attribute: AttributeValue; rules: string[] }>([
    {
      shape: 'a list of strings',
      attribute: { L: [{ S: 'Sun 01:00-05:00 pause' }, { S: ' Mon-Fri 06:00-20:00 every 2 ' }] },
      rules: ['Sun 01:00-05:00 pause', 'Mon-Fri 06:00-20:00 every 2'],
    },
    {
      shape: 'one string, rules separated by ;',
      attribute: { S: 'Sun 01:00-05:00 pause; Mon-Fri 06:00-20:00 every 2;' },
      rules: ['Sun 01:00-05:00 pause', 'Mon-Fri 06:00-20:00 every 2'],
    },
    {
      shape: 'one string, one rule a line',
      attribute: { S: 'Sun 01:00-05:00 pause\r\nMon-Fri 06:00-20:00 every 2\n' },
      rules: ['Sun 01:00-05:00 pause', 'Mon-Fri 06:00-20:00 every 2'],
    },
  ])('reads $shape, in order', ({ attribute, rules }) => {
    // act
    const parsed = parseWindowsField(POLLER_ID, attribute);

    // assess
    expect(textsOf(parsed)).toEqual(rules);
  });

  it.each<{ shape: string; attribute: AttributeValue | undefined }>([
    { shape: 'a missing attribute', attribute: undefined },
    { shape: 'NULL', attribute: { NULL: true } },
    { shape: 'an empty list', attribute: { L: [] } },
    { shape: 'a blank string', attribute: { S: ' ; ' } },
  ])('reads $shape as no rules', ({ attribute }) => {
    // act
    const parsed = parseWindowsField(POLLER_ID, attribute);

    // assess
    expect(parsed).toBeUndefined();
  });

  it.each<{ shape: string; attribute: AttributeValue; message: string }>([
    {
      shape: 'a bad rule in a list',
      attribute: { L: [{ S: 'Sun 01:00-05:00 pause' }, { S: 'Mon-Fri 06:00-20:00 every 0' }] },
      message: `poller 'orders': windows[1] "Mon-Fri 06:00-20:00 every 0": cadence must be a number of seconds from 0.1 to 3600, decimals allowed; got "0"`,
    },
    {
      shape: 'a bad rule in a string',
      attribute: { S: 'Sun 01:00-05:00 pause; Mon-Fri 6:00-20:00 every 2' },
      message: `poller 'orders': windows[1] "Mon-Fri 6:00-20:00 every 2": hours must be HH:MM-HH:MM (seconds optional: HH:MM:SS), e.g. 06:00-20:00; got "6:00-20:00"`,
    },
    {
      shape: 'a rule that is not a string',
      attribute: { L: [{ N: '42' }] },
      message: `poller 'orders': windows[0] 42: the rule must be a string like "Mon-Fri 06:00-20:00 every 2"; got 42`,
    },
    {
      shape: 'a string set, which keeps no order',
      attribute: { SS: ['Sun 01:00-05:00 pause'] },
      message: `poller 'orders': windows must be a list (L), not a string set (SS): a set keeps no order, and the first matching rule wins; got SS ["Sun 01:00-05:00 pause"]`,
    },
    {
      shape: 'a number',
      attribute: { N: '5' },
      message: `poller 'orders': windows must be a list (L) of rule strings, or one string (S) of rules separated by ; or line breaks; got N "5"`,
    },
    {
      shape: 'too many rules',
      attribute: { L: Array.from({ length: MAX_WINDOW_RULES + 1 }, () => ({ S: 'Sun 01:00-05:00 pause' })) },
      message: `poller 'orders': windows must hold at most ${MAX_WINDOW_RULES} rules; got L`,
    },
  ])('refuses $shape, naming the rule and the value', ({ attribute, message }) => {
    // act
    const parsed = parseWindowsField(POLLER_ID, attribute);

    // assess
    expect(parsed).toBeInstanceOf(InvalidControlItemError);
    expect(parsed).toMatchObject({ field: FIELD.windows, pollerId: POLLER_ID });
    expect((parsed as InvalidControlItemError).message.startsWith(message)).toBe(true);
  });
});

describe('parseTimeZoneField', () => {
  it.each<{ attribute: AttributeValue | undefined; zone: string | undefined }>([
    { attribute: undefined, zone: undefined },
    { attribute: { NULL: true }, zone: undefined },
    { attribute: { S: ' ' }, zone: undefined },
    { attribute: { S: 'UTC' }, zone: undefined },
    { attribute: { S: 'America/New_York' }, zone: 'America/New_York' },
  ])('reads $attribute as $zone', ({ attribute, zone }) => {
    // act
    const parsed = parseTimeZoneField(POLLER_ID, attribute);

    // assess
    expect(parsed).toBe(zone);
  });

  it.each<{ attribute: AttributeValue; value: string }>([
    { attribute: { S: 'Mars/Olympus_Mons' }, value: 'S "Mars/Olympus_Mons"' },
    { attribute: { N: '2' }, value: 'N "2"' },
  ])('refuses $value, naming the field and the value', ({ attribute, value }) => {
    // act
    const parsed = parseTimeZoneField(POLLER_ID, attribute);

    // assess
    expect(parsed).toBeInstanceOf(InvalidControlItemError);
    expect(parsed).toHaveProperty(
      'message',
      `poller 'orders': timezone must be an IANA time zone name (S) such as Europe/Berlin, or absent for UTC; got ${value}`,
    );
  });
});

describe('readConfig: zone and window rules', () => {
  it('reads them into the configuration', () => {
    // act
    const { config, problems } = readConfig(
      POLLER_ID,
      item({ [FIELD.timezone]: { S: 'Asia/Kolkata' }, [FIELD.windows]: { S: 'Sun 01:00-05:00 pause' } }),
    );

    // assess
    expect(problems).toEqual([]);
    expect(config?.timeZone).toBe('Asia/Kolkata');
    expect(textsOf(config?.windows)).toEqual(['Sun 01:00-05:00 pause']);
  });

  it('keeps the last valid rules and zone when the new ones are bad, with a problem for each', () => {
    // prepare
    const previous = previousConfig();

    // act
    const { config, problems } = readConfig(
      POLLER_ID,
      item({
        [FIELD.timezone]: { S: 'Europe/Berlln' },
        [FIELD.windows]: { S: 'Mon-Fri 06:00-20:00 every 3; Sat nap' },
      }),
      previous,
    );

    // assess
    expect(config?.timeZone).toBe('Europe/Berlin');
    expect(config?.windows).toBe(previous.windows);
    expect(problems.map((problem) => problem.field)).toEqual([FIELD.timezone, FIELD.windows]);
    expect(problems[1]?.message).toContain('windows[1] "Sat nap"');
  });

  it('clears the rules and zone when the operator removes them', () => {
    // act
    const { config, problems } = readConfig(POLLER_ID, item(), previousConfig());

    // assess
    expect(problems).toEqual([]);
    expect(config?.timeZone).toBeUndefined();
    expect(config?.windows).toBeUndefined();
  });

  it('gives a loop with no earlier configuration none, rather than run without the rules it was given', () => {
    // act
    const decoded = decodePollerItem(POLLER_ID, item({ [FIELD.windows]: { S: 'Sun 01:00-05:00 nap' } }));

    // assess
    expect(decoded.config.config).toBeUndefined();
    expect(decoded.config.problems.map((problem) => problem.field)).toEqual([FIELD.windows]);
  });
});
