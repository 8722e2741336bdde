import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseControllerInput } from '../../functions/controller/parse-input';
import {
  FIELD,
  type LoopState,
  POLLER_ID_PATTERN,
  type PollerConfig,
  WAIT_SECONDS_LIMITS,
} from '../../functions/shared/contract';
import { describeAttribute, type RawItem, readConfig } from '../../functions/shared/control-item';
import { InvalidControllerInputError } from '../../functions/shared/errors';
import { COMMAND_NAMES, parseCommandLine } from '../../scripts/ctl/command-line';
import { errorLine, UsageError } from '../../scripts/ctl/errors';

/**
 * Property-based fuzzing of what operators and Step Functions hand our code: control items, controller inputs and
 * the operator CLI's argv. Each property runs a few hundred cases with a fixed seed, so a failure reproduces.
 */
const RUNS = { numRuns: 300, seed: 20_261_122 } as const;
const POLLER = 'fuzz-poller';

// ─── Arbitrary DynamoDB attribute values ────────────────────────────────────────────────────────────────────

const numberText = fc.oneof(
  fc.double().map(String),
  fc.integer().map(String),
  fc.constantFrom('', ' ', 'abc', 'NaN', 'Infinity', '-Infinity', '1e999', '0x10', '1_000', '٣'),
  fc.string({ maxLength: 12 }),
);

const { attribute: anyAttribute } = fc.letrec<{ attribute: AttributeValue }>((tie) => ({
  attribute: fc.oneof(
    { depthSize: 'small' },
    fc.record({ S: fc.string({ maxLength: 80 }) }),
    fc.record({ N: numberText }),
    fc.record({ BOOL: fc.boolean() }),
    fc.constant({ NULL: true }),
    fc.record({ SS: fc.array(fc.string({ maxLength: 10 }), { minLength: 1, maxLength: 3 }) }),
    fc.record({ NS: fc.array(numberText, { minLength: 1, maxLength: 3 }) }),
    fc.record({ B: fc.uint8Array({ maxLength: 8 }) }),
    fc.record({ L: fc.array(tie('attribute'), { maxLength: 3 }) }),
    fc.record({ M: fc.dictionary(fc.string({ maxLength: 8 }), tie('attribute'), { maxKeys: 3 }) }),
    // Shapes the SDK types forbid but a hand-written item or a buggy writer might still produce.
    fc.constant({} as AttributeValue),
    fc.constant({ S: 'both', N: '1' } as unknown as AttributeValue),
  ),
}));

/** An operator field's value and whether the controller must accept it. `undefined`: the attribute is absent. */
interface Case {
  readonly attribute: AttributeValue | undefined;
  readonly valid: boolean;
}
const valid = (arbitrary: fc.Arbitrary<AttributeValue | undefined>): fc.Arbitrary<Case> =>
  arbitrary.map((attribute) => ({ attribute, valid: true }));
const invalid = (arbitrary: fc.Arbitrary<AttributeValue | undefined>): fc.Arbitrary<Case> =>
  arbitrary.map((attribute) => ({ attribute, valid: false }));
const notOfType = (type: keyof AttributeValue) =>
  anyAttribute.filter((attribute) => (attribute as unknown as Record<string, unknown>)[type] === undefined);

const runningCase = fc.oneof(
  valid(fc.boolean().map((BOOL) => ({ BOOL }))),
  invalid(fc.oneof(fc.constant(undefined), notOfType('BOOL'))),
);

const waitSecondsCase = fc.oneof(
  valid(
    fc
      .double({ min: WAIT_SECONDS_LIMITS.min, max: WAIT_SECONDS_LIMITS.max, noNaN: true })
      .map((n) => ({ N: String(n) })),
  ),
  valid(fc.integer({ min: 1, max: WAIT_SECONDS_LIMITS.max }).map((n) => ({ N: String(n) }))),
  invalid(
    fc.oneof(
      fc.constant(undefined),
      notOfType('N'),
      fc
        .double({ min: -1e9, max: WAIT_SECONDS_LIMITS.min, maxExcluded: true, noNaN: true })
        .map((n) => ({ N: String(n) })),
      fc
        .double({ min: WAIT_SECONDS_LIMITS.max, minExcluded: true, max: 1e12, noNaN: true })
        .map((n) => ({ N: String(n) })),
      fc.string({ maxLength: 10 }).map((text) => ({ N: `x${text}` })),
      fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '', '0', '-0').map((N) => ({ N })),
    ),
  ),
);

const functionName = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const targetCase = fc.oneof(
  valid(fc.constantFrom(undefined, { NULL: true })),
  valid(functionName.map((S) => ({ S }))),
  valid(
    fc
      .tuple(
        functionName,
        fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
        fc.integer({ min: 0, max: 999_999_999_999 }),
      )
      .map(([name, qualifier, account]) => ({
        S: `arn:aws:lambda:eu-west-1:${String(account).padStart(12, '0')}:function:${name}:${qualifier}`,
      })),
  ),
  invalid(
    fc.oneof(
      fc.constant({ S: '' }),
      fc.constant({ S: 'a'.repeat(65) }),
      fc
        .tuple(functionName, fc.constantFrom(' ', '/', '*', '\n', 'é', '"'))
        .map(([name, bad]) => ({ S: `${name}${bad}` })),
      notOfType('S').filter((attribute) => attribute.NULL !== true),
    ),
  ),
);

const payloadCase = fc.oneof(
  valid(fc.constantFrom(undefined, { NULL: true })),
  valid(fc.dictionary(fc.string({ maxLength: 8 }), anyAttribute, { maxKeys: 4 }).map((M) => ({ M }))),
  invalid(
    fc.oneof(
      notOfType('M').filter((attribute) => attribute.NULL !== true),
      // Over the 64 KB limit as JSON.
      fc.constant({ M: { blob: { S: 'x'.repeat(70_000) } } }),
    ),
  ),
);

const itemCase = fc.record({
  running: runningCase,
  waitseconds: waitSecondsCase,
  target: targetCase,
  payload: payloadCase,
  extra: fc.dictionary(
    fc.constantFrom('seq', 'claimedSeq', 'generation', 'heartbeatAt', 'lastError', 'junk'),
    anyAttribute,
  ),
});

const previousConfig: fc.Arbitrary<PollerConfig | undefined> = fc.option(
  fc.record({
    running: fc.boolean(),
    intervalMs: fc.integer({ min: 100, max: 3_600_000 }),
    target: fc.option(functionName, { nil: undefined }),
    payload: fc.option(fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })), {
      nil: undefined,
    }),
  }),
  { nil: undefined },
);

const OPERATOR_FIELDS = [FIELD.running, FIELD.waitSeconds, FIELD.target, FIELD.payload] as const;

function itemFrom(cases: Record<(typeof OPERATOR_FIELDS)[number], Case>, extra: RawItem): RawItem {
  const item: RawItem = { ...extra, [FIELD.id]: { S: POLLER } };
  for (const field of OPERATOR_FIELDS) {
    const attribute = cases[field].attribute;
    if (attribute !== undefined) item[field] = attribute;
  }
  return item;
}

describe('fuzz: control items through readConfig', () => {
  it('never throws, whatever the attribute values', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...OPERATOR_FIELDS, 'id', 'other'), anyAttribute),
        previousConfig,
        (item, previous) => {
          readConfig(POLLER, item, previous);
        },
      ),
      RUNS,
    );
  });

  it('reports exactly the invalid fields, each naming its field and rendering the value found', () => {
    fc.assert(
      fc.property(itemCase, previousConfig, ({ extra, ...cases }, previous) => {
        const item = itemFrom(cases, extra);

        const { config, problems } = readConfig(POLLER, item, previous);

        const invalidFields = OPERATOR_FIELDS.filter((field) => !cases[field].valid);
        expect(problems.map((problem) => problem.field).sort()).toEqual([...invalidFields].sort());
        for (const problem of problems) {
          expect(problem.message).toContain(`poller '${POLLER}'`);
          expect(problem.message).toContain(problem.field);
          expect(problem.message).toContain(`got ${problem.value}`);
          if (problem.field === FIELD.payload && item[FIELD.payload]?.M !== undefined) {
            expect(problem.value).toMatch(/^a map of \d+ bytes$/);
          } else {
            expect(problem.value).toBe(describeAttribute(item[problem.field]));
          }
        }
        // A valid field is taken from the item; an invalid one keeps the previous configuration's value.
        const running = cases.running.valid ? item[FIELD.running]?.BOOL : previous?.running;
        const waitValid = cases.waitseconds.valid;
        const intervalMs = waitValid
          ? Math.round(Number(item[FIELD.waitSeconds]?.N) * 1000)
          : previous?.intervalMs;
        if (running === undefined || intervalMs === undefined) {
          expect(config).toBeUndefined();
        } else {
          expect(config?.running).toBe(running);
          expect(config?.intervalMs).toBe(intervalMs);
          const target = item[FIELD.target]?.S;
          expect(config?.target).toEqual(cases.target.valid ? target : previous?.target);
          if (!cases.payload.valid) expect(config?.payload).toEqual(previous?.payload);
        }
      }),
      RUNS,
    );
  });
});

// ─── Controller input ──────────────────────────────────────────────────────────────────────────────────────

const loopLike = fc.record(
  {
    nextSeq: fc.oneof(fc.nat(), fc.jsonValue()),
    anchorAt: fc.oneof(fc.nat(), fc.double(), fc.jsonValue()),
    anchorSeq: fc.oneof(fc.nat(), fc.jsonValue()),
    claimedThroughSeq: fc.oneof(fc.nat(), fc.jsonValue()),
    generation: fc.oneof(fc.integer({ min: -1, max: 5 }), fc.jsonValue()),
    executionId: fc.oneof(fc.string(), fc.jsonValue()),
    historyEvents: fc.oneof(fc.nat(), fc.jsonValue()),
    historyBudget: fc.oneof(fc.integer({ min: 0, max: 30_000 }), fc.jsonValue()),
    skippedTicks: fc.oneof(fc.nat(), fc.jsonValue()),
    config: fc.oneof(
      fc.record(
        {
          running: fc.oneof(fc.boolean(), fc.jsonValue()),
          intervalMs: fc.oneof(fc.integer({ min: 0, max: 4_000_000 }), fc.jsonValue()),
          target: fc.oneof(fc.string(), fc.jsonValue()),
          payload: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    ),
  },
  { requiredKeys: [] },
);

const failureLike = fc.oneof(
  fc.jsonValue(),
  fc.record({
    Error: fc.oneof(fc.string(), fc.jsonValue()),
    Cause: fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    ),
  }),
);

const stateLike = fc.record(
  {
    pollerId: fc.oneof(fc.stringMatching(POLLER_ID_PATTERN), fc.string(), fc.jsonValue()),
    loop: fc.oneof(loopLike, fc.jsonValue()),
    generation: fc.oneof(fc.integer({ min: -2, max: 10 }), fc.jsonValue()),
    historyBudget: fc.oneof(fc.integer({ min: 0, max: 30_000 }), fc.jsonValue()),
    pendingErrors: fc.oneof(
      fc.array(fc.oneof(fc.string(), fc.jsonValue()), { maxLength: 8 }),
      fc.jsonValue(),
    ),
    lastFailure: failureLike,
    handOverFailure: failureLike,
  },
  { requiredKeys: [] },
);

const controllerEvent = fc.oneof(
  fc.jsonValue(),
  stateLike,
  fc.record(
    { state: fc.oneof(stateLike, fc.jsonValue()), executionId: fc.oneof(fc.string(), fc.jsonValue()) },
    { requiredKeys: [] },
  ),
);

/** A loop state the controller itself would hand on: accepted and carried unchanged. */
const validLoop: fc.Arbitrary<LoopState> = fc.record({
  nextSeq: fc.nat(),
  anchorAt: fc.nat(),
  anchorSeq: fc.nat(),
  claimedThroughSeq: fc.nat(),
  generation: fc.integer({ min: 1, max: 1_000_000 }),
  executionId: fc.string(),
  historyEvents: fc.nat({ max: 20_000 }),
  historyBudget: fc.integer({ min: 1_000, max: 20_000 }),
  skippedTicks: fc.nat(),
  config: fc.record({
    running: fc.boolean(),
    intervalMs: fc.integer({ min: WAIT_SECONDS_LIMITS.min * 1000, max: WAIT_SECONDS_LIMITS.max * 1000 }),
    target: fc.option(functionName, { nil: undefined }),
    payload: fc.option(fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })), {
      nil: undefined,
    }),
  }),
});

describe('fuzz: parseControllerInput', () => {
  it('throws nothing but InvalidControllerInputError, with a one-line message naming the poller', () => {
    fc.assert(
      fc.property(controllerEvent, (event) => {
        try {
          parseControllerInput(event);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidControllerInputError);
          const message = (error as InvalidControllerInputError).message;
          expect(message).toMatch(/^poller '/);
          expect(message).not.toContain('\n');
        }
      }),
      { ...RUNS, numRuns: 1_000 },
    );
  });

  it('accepts every loop state the controller hands on, unchanged', () => {
    fc.assert(
      fc.property(validLoop, fc.stringMatching(POLLER_ID_PATTERN), (loop, pollerId) => {
        const parsed = parseControllerInput({ state: { pollerId, loop }, executionId: 'arn:fuzz' });

        expect(parsed.pollerId).toBe(pollerId);
        expect(parsed.loop).toEqual(loop);
      }),
      RUNS,
    );
  });
});

// ─── Operator CLI argv (scripts/ctl) ───────────────────────────────────────────────────────────────────────

const ctlToken = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      ...COMMAND_NAMES,
      '--local',
      '--json',
      '--all',
      '--yes',
      '--stopped',
      '-h',
      '--help',
      '--',
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '--poller',
      '--every',
      '--port',
      '--stack',
      '--table',
      '--state-machine-arn',
      '--region',
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'default',
      'orders',
      '1',
      '2.5',
      '-1',
      '0',
      '65534',
      '65535',
      'eu-west-1',
      'SubMinute',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '--json=1',
      '--every=',
      '--every=-0.5',
      '-x',
      '-hj',
      '--__proto__',
      '--constructor',
      '---',
    ),
  },
  { weight: 1, arbitrary: fc.constant('arn:aws:states:us-east-1:123456789012:stateMachine:loop') },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((text) => `--${text}`) },
);

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);
/** Mostly well-formed command lines (command, one target, options in any order) with values good and bad. */
const ctlCommandLine = fc
  .record({
    command: fc.oneof({ weight: 9, arbitrary: pick(COMMAND_NAMES) }, fc.string({ maxLength: 8 })),
    target: fc.oneof(
      fc
        .option(pick(['1', '8000', '65534', '65535', '0', '08000', '1.5', '-3', ' 80', '1e3']), {
          nil: undefined,
        })
        .map((port) => (port === undefined ? ['--local'] : ['--local', '--port', port])),
      pick(['SubMinute', 'a', '9lives', 'arn:aws:cloudformation:eu-west-1:123456789012:stack/x/y']).map(
        (stack) => ['--stack', stack],
      ),
      fc
        .tuple(pick(['control', 'ab', 'my.table_1']), fc.boolean())
        .map(([table, arn]) => [
          '--table',
          table,
          ...(arn ? ['--state-machine-arn', 'arn:aws:states:us-east-1:123456789012:stateMachine:loop'] : []),
        ]),
    ),
    poller: fc.option(
      fc.oneof({ weight: 4, arbitrary: fc.stringMatching(POLLER_ID_PATTERN) }, fc.string({ maxLength: 70 })),
      { nil: undefined },
    ),
    every: fc.option(
      fc.oneof(numberText, {
        weight: 4,
        arbitrary: fc.integer({ min: 0, max: 40_000 }).map((tenths) => String(tenths / 10)),
      }),
      { nil: undefined },
    ),
    region: fc.option(pick(['eu-west-1', 'us-gov-west-1', 'EU', 'mars-1']), { nil: undefined, freq: 2 }),
    json: fc.boolean(),
  })
  .chain(({ command, target, poller, every, region, json }) =>
    fc.shuffledSubarray(
      [
        [command],
        target,
        poller === undefined ? [] : ['--poller', poller],
        every === undefined ? [] : ['--every', every],
        region === undefined ? [] : ['--region', region],
        json ? ['--json'] : [],
      ],
      { minLength: 6, maxLength: 6 },
    ),
  )
  .map((groups) => groups.flat());

describe('fuzz: the operator CLI command line (scripts/ctl/command-line.ts)', () => {
  it('never crashes: it accepts a valid invocation or refuses with one clear UsageError line', () => {
    fc.assert(
      fc.property(fc.oneof(fc.array(ctlToken, { maxLength: 8 }), ctlCommandLine), (argv) => {
        let invocation: ReturnType<typeof parseCommandLine>;
        try {
          invocation = parseCommandLine(argv);
        } catch (error) {
          expect(error).toBeInstanceOf(UsageError);
          const line = errorLine(error);
          expect(line).toMatch(/^ctl: \S/);
          expect(line).not.toMatch(/[\r\n]/);
          expect(line.length).toBeLessThan(400);
          return;
        }
        if (invocation.kind === 'help') return;
        const { command } = invocation;
        if ('pollerId' in command) expect(command.pollerId).toMatch(POLLER_ID_PATTERN);
        if ('pollers' in command && command.pollers.kind === 'ids') {
          for (const pollerId of command.pollers.pollerIds) expect(pollerId).toMatch(POLLER_ID_PATTERN);
        }
        const waitSeconds =
          'edit' in command
            ? command.edit.waitSeconds
            : 'fields' in command
              ? command.fields.waitSeconds
              : 'waitSeconds' in command
                ? command.waitSeconds
                : undefined;
        if (waitSeconds !== undefined) {
          expect(waitSeconds).toBeGreaterThanOrEqual(WAIT_SECONDS_LIMITS.min);
          expect(waitSeconds).toBeLessThanOrEqual(WAIT_SECONDS_LIMITS.max);
        }
        if (invocation.target.kind === 'local') {
          expect(Number.isInteger(invocation.target.port)).toBe(true);
          expect(invocation.target.port).toBeGreaterThanOrEqual(1);
          expect(invocation.target.port).toBeLessThanOrEqual(65_534);
        }
      }),
      { ...RUNS, numRuns: 2_000 },
    );
  });
});
