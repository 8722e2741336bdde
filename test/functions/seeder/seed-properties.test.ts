import { describe, expect, it } from 'vitest';
import {
  parseSeedPollers,
  parseSeedProperties,
  SEED_PROPERTY,
  type SeedPropertyName,
  seedPhysicalId,
  seedWrite,
} from '../../../functions/seeder/seed-properties';
import { WAIT_SECONDS_LIMITS } from '../../../functions/shared/contract';
import { InvalidSeedPropertyError } from '../../../functions/shared/errors';

const TABLE = 'SubMinute-ControlTable-1A2B3C';

const validProperties = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:seeder',
  [SEED_PROPERTY.tableName]: TABLE,
  [SEED_PROPERTY.pollerId]: 'default',
  [SEED_PROPERTY.running]: 'true',
  [SEED_PROPERTY.waitSeconds]: '5',
  ...overrides,
});

function parseError(properties: unknown): InvalidSeedPropertyError {
  try {
    parseSeedProperties(properties, TABLE);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidSeedPropertyError);
    return error as InvalidSeedPropertyError;
  }
  throw new Error('expected the properties to be refused');
}

describe('parseSeedProperties', () => {
  it('reads the properties CloudFormation passes as text', () => {
    // act
    const request = parseSeedProperties(validProperties({ [SEED_PROPERTY.waitSeconds]: '2.5' }), TABLE);

    // assess
    expect(request).toEqual({
      tableName: TABLE,
      pollerId: 'default',
      running: true,
      waitSeconds: '2.5',
      fields: {},
    });
  });

  it("reads running 'false' as false", () => {
    expect(parseSeedProperties(validProperties({ [SEED_PROPERTY.running]: 'false' }), TABLE).running).toBe(
      false,
    );
  });

  it('stores waitseconds in canonical form', () => {
    expect(
      parseSeedProperties(validProperties({ [SEED_PROPERTY.waitSeconds]: '05.50' }), TABLE).waitSeconds,
    ).toBe('5.5');
  });

  it.each([String(WAIT_SECONDS_LIMITS.min), String(WAIT_SECONDS_LIMITS.max)])(
    'accepts waitseconds at the limit %s',
    (limit) => {
      expect(
        parseSeedProperties(validProperties({ [SEED_PROPERTY.waitSeconds]: limit }), TABLE).waitSeconds,
      ).toBe(limit);
    },
  );

  it.each<{ field: SeedPropertyName; given: unknown; value: string }>([
    { field: SEED_PROPERTY.running, given: 'yes', value: '"yes"' },
    { field: SEED_PROPERTY.running, given: 'TRUE', value: '"TRUE"' },
    { field: SEED_PROPERTY.running, given: undefined, value: 'nothing (the property is missing)' },
    { field: SEED_PROPERTY.waitSeconds, given: 'abc', value: '"abc"' },
    { field: SEED_PROPERTY.waitSeconds, given: '', value: '""' },
    { field: SEED_PROPERTY.waitSeconds, given: '0', value: '"0"' },
    { field: SEED_PROPERTY.waitSeconds, given: '-5', value: '"-5"' },
    { field: SEED_PROPERTY.waitSeconds, given: '3601', value: '"3601"' },
    { field: SEED_PROPERTY.waitSeconds, given: 'Infinity', value: '"Infinity"' },
    { field: SEED_PROPERTY.pollerId, given: 'has spaces', value: '"has spaces"' },
    { field: SEED_PROPERTY.tableName, given: 'SomeOtherTable', value: '"SomeOtherTable"' },
  ])('refuses $field given $value, naming the field and the value', ({ field, given, value }) => {
    // prepare
    const properties = validProperties({ [field]: given });
    if (given === undefined) delete properties[field];

    // act
    const error = parseError(properties);

    // assess
    expect(error.field).toBe(field);
    expect(error.value).toBe(value);
    expect(error.message).toContain(`seed property ${field} `);
    expect(error.message).toContain(`got ${value}`);
  });

  it('says which range waitseconds must be in', () => {
    expect(parseError(validProperties({ [SEED_PROPERTY.waitSeconds]: '0' })).message).toBe(
      `seed property WaitSeconds must be a number of seconds from ${WAIT_SECONDS_LIMITS.min} to ${WAIT_SECONDS_LIMITS.max}; got "0"`,
    );
  });
});

describe('parseSeedProperties: the optional operator fields', () => {
  it('decodes each declared field with the validator ctl create uses', () => {
    // act
    const request = parseSeedProperties(
      validProperties({
        [SEED_PROPERTY.target]: 'arn:aws:lambda:eu-west-1:123456789012:function:reports',
        [SEED_PROPERTY.payload]: '{"url":"https://example.com","retries":3}',
        [SEED_PROPERTY.timezone]: 'Europe/Berlin',
        [SEED_PROPERTY.windows]: ['Mon-Fri 06:00-20:00 every 2', 'Sun 01:00-05:00 pause'],
        [SEED_PROPERTY.overlap]: 'skip',
      }),
      TABLE,
    );

    // assess
    expect(request.fields).toEqual({
      target: 'arn:aws:lambda:eu-west-1:123456789012:function:reports',
      payload: { url: 'https://example.com', retries: 3 },
      timeZone: 'Europe/Berlin',
      windows: ['Mon-Fri 06:00-20:00 every 2', 'Sun 01:00-05:00 pause'],
      overlap: 'skip',
    });
  });

  it('reads a declared UTC as the time zone removed (UTC is stored as absent)', () => {
    expect(parseSeedProperties(validProperties({ [SEED_PROPERTY.timezone]: 'UTC' }), TABLE).fields).toEqual({
      timeZone: null,
    });
  });

  it.each<[SeedPropertyName, unknown, RegExp]>([
    [SEED_PROPERTY.target, 'not a function!', /Target fails the controller's check \(target must be/],
    [SEED_PROPERTY.payload, '[1,2]', /Payload fails the controller's check \(payload must be a JSON object/],
    [SEED_PROPERTY.payload, { url: 'x' }, /Payload must be the JSON text of an object/],
    [
      SEED_PROPERTY.timezone,
      'Mars/Olympus',
      /TimeZone fails the controller's check \(timezone must be an IANA/,
    ],
    [
      SEED_PROPERTY.windows,
      ['Mon 25:00-26:00 every 1'],
      /Windows fails the controller's check \(windows\[0\]/,
    ],
    [SEED_PROPERTY.windows, [], /Windows must be a list of one or more rule texts/],
    [SEED_PROPERTY.windows, 'Mon 06:00-20:00 every 2', /Windows must be a list of one or more rule texts/],
    [
      SEED_PROPERTY.overlap,
      'never',
      /Overlap fails the controller's check \(overlap must be one of allow, skip/,
    ],
  ])('refuses %s %j, naming the poller and the value', (property, value, message) => {
    // act
    const error = parseError(validProperties({ [SEED_PROPERTY.pollerId]: 'orders', [property]: value }));

    // assess
    expect(error.field).toBe(property);
    expect(error.pollerId).toBe('orders');
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`got ${JSON.stringify(value)}`);
  });
});

describe('seedWrite', () => {
  const declared = parseSeedProperties(
    validProperties({
      [SEED_PROPERTY.payload]: '{"url":"https://example.com"}',
      [SEED_PROPERTY.windows]: ['Mon-Fri 06:00-20:00 every 2'],
    }),
    TABLE,
  );
  const redeclared = (overrides: Record<string, unknown>) =>
    parseSeedProperties(
      validProperties({
        [SEED_PROPERTY.payload]: '{"url":"https://example.com"}',
        [SEED_PROPERTY.windows]: ['Mon-Fri 06:00-20:00 every 2'],
        ...overrides,
      }),
      TABLE,
    );

  it('writes every declared field when there is no previous seed (Create)', () => {
    expect(seedWrite(declared, undefined)).toEqual({
      running: true,
      waitSeconds: 5,
      payload: { url: 'https://example.com' },
      windows: ['Mon-Fri 06:00-20:00 every 2'],
    });
  });

  it('writes nothing when no declared value changed (only the ServiceToken did)', () => {
    expect(seedWrite(redeclared({ ServiceToken: 'another' }), declared)).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, object]>([
    ['running', { [SEED_PROPERTY.running]: 'false' }, { running: false }],
    ['waitseconds', { [SEED_PROPERTY.waitSeconds]: '6' }, { waitSeconds: 6 }],
    [
      'the payload',
      { [SEED_PROPERTY.payload]: '{"url":"https://example.org"}' },
      { payload: { url: 'https://example.org' } },
    ],
    ['the overlap (newly declared)', { [SEED_PROPERTY.overlap]: 'skip' }, { overlap: 'skip' }],
    ['the windows (dropped: removed)', { [SEED_PROPERTY.windows]: undefined }, { windows: null }],
  ])('writes only %s when only it changed', (_, overrides, write) => {
    expect(seedWrite(redeclared(overrides), declared)).toEqual(write);
  });

  it('sees the same payload written with other spacing as unchanged (compared as stored)', () => {
    expect(
      seedWrite(redeclared({ [SEED_PROPERTY.payload]: '{ "url": "https://example.com" }' }), declared),
    ).toBeUndefined();
  });
});

describe('seedPhysicalId', () => {
  it('names the table and the poller, so it stays the same across updates of the values', () => {
    expect(seedPhysicalId({ tableName: TABLE, pollerId: 'default' })).toBe(`${TABLE}/default`);
  });
});

describe('parseSeedPollers', () => {
  it('reads the single form as a list of one', () => {
    expect(parseSeedPollers(validProperties(), TABLE)).toEqual([
      { tableName: TABLE, pollerId: 'default', running: true, waitSeconds: '5', fields: {} },
    ]);
  });

  it('reads every entry of the list form with the single form decoders', () => {
    // prepare
    const properties = {
      [SEED_PROPERTY.tableName]: TABLE,
      [SEED_PROPERTY.pollers]: [
        { PollerId: 'a', Running: 'true', WaitSeconds: '0.1' },
        { PollerId: 'b', Running: 'false', WaitSeconds: '05.50' },
      ],
    };

    // act
    const requests = parseSeedPollers(properties, TABLE);

    // assess
    expect(requests).toEqual([
      { tableName: TABLE, pollerId: 'a', running: true, waitSeconds: '0.1', fields: {} },
      { tableName: TABLE, pollerId: 'b', running: false, waitSeconds: '5.5', fields: {} },
    ]);
  });

  it('names the poller and the value of an entry out of range', () => {
    // prepare
    const properties = {
      [SEED_PROPERTY.tableName]: TABLE,
      [SEED_PROPERTY.pollers]: [{ PollerId: 'fast', Running: 'true', WaitSeconds: '0.05' }],
    };

    // act
    const act = () => parseSeedPollers(properties, TABLE);

    // assess
    expect(act).toThrow(InvalidSeedPropertyError);
    expect(act).toThrow(/WaitSeconds must be a number of seconds from 0\.1 to 3600; got "0\.05"/);
  });

  it('reads an empty list as no poller (a seed that only stops every loop on Delete)', () => {
    expect(
      parseSeedPollers({ [SEED_PROPERTY.tableName]: TABLE, [SEED_PROPERTY.pollers]: [] }, TABLE),
    ).toEqual([]);
  });

  it.each([['a,b'], [{ PollerId: 'a' }]])('refuses a Pollers property that is not a list: %j', (list) => {
    expect(() =>
      parseSeedPollers({ [SEED_PROPERTY.tableName]: TABLE, [SEED_PROPERTY.pollers]: list }, TABLE),
    ).toThrow(/seed property Pollers must be a list of pollers/);
  });
});
