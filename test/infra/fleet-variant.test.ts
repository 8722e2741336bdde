import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { pollersToPlace } from '../../functions/fleet/fleet-planner';
import { SHARD_INDEX_NAME, SHARD_INDEX_PROJECTION } from '../../functions/fleet/shard-store';
import { ENV, FIELD } from '../../functions/shared/contract';
import type { RawItem } from '../../functions/shared/control-item';
import { createApp, FleetContextError, fleetFromContext } from '../../infra/app';
import { bundleFunction } from '../../infra/bundle-function';
import { FLEET_START_FILTERS, START_FILTERS } from '../../infra/constructs/control-plane-triggers';
import { FLEET_INDEX_ACTIONS, HANDLER_ENTRY } from '../../infra/constructs/poller-functions';
import { SubMinuteScheduler, type SubMinuteSchedulerProps } from '../../infra/index';
import { DEFAULT_MAX_SHARDS } from '../../infra/scheduler-props';
import { PARAMETER } from '../../infra/sub-minute-executor-stack';
import { parseFilterPattern, passesAnyFilter } from '../../scripts/local-stack/event-filter';
import { FLEET_TEMPLATE_PATH, MAX_TEMPLATE_BYTES } from '../../scripts/synth';
import {
  allPolicyStatements,
  asList,
  getAttId,
  onlyResource,
  type PolicyStatement,
  type Resources,
  statementsOfRole,
} from './template-walk';

/** A user's stack holding the scheduler. */
function userStack(props: SubMinuteSchedulerProps = {}): { app: App; resources: () => Resources } {
  const app = new App();
  const stack = new Stack(app, 'UserStack');
  new SubMinuteScheduler(stack, 'Scheduler', props);
  return { app, resources: () => app.synth().getStackByName('UserStack').template.Resources as Resources };
}

/** The project's stack, as `npm run synth` renders it (no alarms), in either variant. */
function projectResources(fleet: boolean): Resources {
  const template = createApp(undefined, { monitoring: false, fleet }).app.synth().stacks[0]?.template as {
    Resources: Resources;
  };
  return template.Resources;
}

function controlPlaneOf(resources: Resources) {
  return onlyResource(resources, 'AWS::Lambda::Function', (fn) =>
    JSON.stringify(fn.Properties.Environment ?? {}).includes(ENV.stateMachineArn),
  );
}

function variablesOf(resources: Resources): Record<string, unknown> {
  const [, controlPlane] = controlPlaneOf(resources);
  return (controlPlane.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
}

function controlPlaneStatements(resources: Resources): PolicyStatement[] {
  const [, controlPlane] = controlPlaneOf(resources);
  return statementsOfRole(resources, getAttId(controlPlane.Properties.Role));
}

function tableOf(resources: Resources) {
  return onlyResource(resources, 'AWS::DynamoDB::Table');
}

function synthError(app: App): string {
  try {
    app.synth();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error('expected synthesis to be refused');
}

describe('SubMinuteScheduler fleet variant', () => {
  it('gives the control table the sparse shard index (key shard, projecting what a shard round reads), and only in the fleet variant', () => {
    // act
    const [, fleetTable] = tableOf(userStack({ fleet: {} }).resources());
    const [, singleTable] = tableOf(userStack().resources());

    // assess
    expect(fleetTable.Properties.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: SHARD_INDEX_NAME,
        KeySchema: [{ AttributeName: FIELD.shard, KeyType: 'HASH' }],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...SHARD_INDEX_PROJECTION] },
      },
    ]);
    expect(fleetTable.Properties.AttributeDefinitions).toContainEqual({
      AttributeName: FIELD.shard,
      AttributeType: 'S',
    });
    expect(singleTable.Properties.GlobalSecondaryIndexes).toBeUndefined();
  });

  it('bundles the control plane from fleet-handler.ts instead of handler.ts', () => {
    // act
    const [, fleet] = controlPlaneOf(userStack({ fleet: {} }).resources());
    const [, single] = controlPlaneOf(userStack().resources());

    // assess
    const zipFile = (fn: typeof fleet) => (fn.Properties.Code as { ZipFile: string }).ZipFile;
    expect(zipFile(fleet)).toBe(bundleFunction(HANDLER_ENTRY.fleetControlPlane));
    expect(zipFile(single)).toBe(bundleFunction(HANDLER_ENTRY.controlPlane));
  });

  it('sets MAX_SHARDS (4 unless told) and the controller memory default of 320 MB, which props still override', () => {
    // act
    const byDefault = userStack({ fleet: {} }).resources();
    const told = userStack({ fleet: { maxShards: 12 }, controllerMemoryMb: 512 }).resources();
    const single = userStack().resources();

    // assess
    expect(variablesOf(byDefault)[ENV.maxShards]).toBe(String(DEFAULT_MAX_SHARDS));
    expect(controlPlaneOf(byDefault)[1].Properties.MemorySize).toBe(320);
    expect(variablesOf(told)[ENV.maxShards]).toBe('12');
    expect(controlPlaneOf(told)[1].Properties.MemorySize).toBe(512);
    expect(variablesOf(single)[ENV.maxShards]).toBeUndefined();
    expect(controlPlaneOf(single)[1].Properties.MemorySize).toBe(128);
  });

  it('lets the control plane Query the shard index by name, and nothing else of the table gains a Query', () => {
    // prepare
    const fleet = userStack({ fleet: {} }).resources();
    const [tableId] = tableOf(fleet);

    // act
    const queries = allPolicyStatements(fleet).filter(({ statement }) =>
      asList(statement.Action).some((action) => action === 'dynamodb:Query' || action === 'dynamodb:*'),
    );
    const granted = controlPlaneStatements(fleet).filter((statement) =>
      asList(statement.Action).includes('dynamodb:Query'),
    );

    // assess
    expect(queries).toHaveLength(1);
    expect(granted.map((statement) => statement.Action)).toEqual([...FLEET_INDEX_ACTIONS]);
    const resources = granted.flatMap((statement) => asList(statement.Resource));
    expect(resources).toEqual([
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, `/index/${SHARD_INDEX_NAME}`]] },
    ]);
    expect(
      controlPlaneStatements(userStack().resources()).filter((statement) =>
        asList(statement.Action).includes('dynamodb:Query'),
      ),
    ).toEqual([]);
  });

  it.each([0, 2.5, -1, 10_001])('refuses maxShards %s at synth, saying what it must be', (maxShards) => {
    // act
    const message = synthError(userStack({ fleet: { maxShards } }).app);

    // assess
    expect(message).toContain(
      `fleet.maxShards is ${maxShards}: it must be a whole number from 1 to 10000 (shards are named s0 to s9999); leave it out for 4`,
    );
  });
});

describe('the project stack, fleet variant', () => {
  it('takes MaxShards as a parameter (default 4) into MAX_SHARDS, defaults ControllerMemory to 320 and starts the fleet with {}', () => {
    // act
    const app = createApp(undefined, { monitoring: false, fleet: true }).app;
    const template = app.synth().stacks[0]?.template as {
      Parameters: Record<string, { Default?: unknown }>;
      Outputs: Record<string, { Value: unknown }>;
      Resources: Resources;
    };

    // assess
    expect(template.Parameters[PARAMETER.maxShards]?.Default).toBe(DEFAULT_MAX_SHARDS);
    expect(template.Parameters[PARAMETER.controllerMemory]?.Default).toBe(320);
    expect(variablesOf(template.Resources)[ENV.maxShards]).toEqual({ Ref: PARAMETER.maxShards });
    expect(JSON.stringify(template.Outputs.StartCommand?.Value)).toContain(`--input '{}'`);
  });

  it('has no MaxShards parameter and no shard index in the single-loop variant', () => {
    // act
    const resources = projectResources(false);

    // assess
    expect(tableOf(resources)[1].Properties.GlobalSecondaryIndexes).toBeUndefined();
    expect(variablesOf(resources)[ENV.maxShards]).toBeUndefined();
  });

  it('reports no unacknowledged cdk-nag AwsSolutions violation in the fleet variant', () => {
    // act
    const report = new AwsSolutionsChecks().validateScope(createApp(undefined, { fleet: true }).stack);

    // assess
    expect(report.violations.map(({ ruleName, severity }) => `${severity} ${ruleName}`)).toEqual([]);
  });

  it('leaves the console parameter form (Interface metadata) out of the fleet template only, for its bytes', () => {
    // act
    const metadataOf = (fleet: boolean) => {
      const template = createApp(undefined, { monitoring: false, fleet }).app.synth().stacks[0]?.template as
        | { Metadata?: object }
        | undefined;
      if (template === undefined) throw new Error('the app synthesized no stack');
      return template.Metadata;
    };

    // assess
    expect(metadataOf(true)).toBeUndefined();
    expect(metadataOf(false)).toHaveProperty(['AWS::CloudFormation::Interface']);
  });

  it('commits SubMinuteLambdaExecutor-fleet.yaml within the 51,200 bytes CloudFormation takes inline', () => {
    expect(Buffer.byteLength(readFileSync(FLEET_TEMPLATE_PATH, 'utf8'))).toBeLessThanOrEqual(
      MAX_TEMPLATE_BYTES,
    );
  });
});

describe('the fleet context flag (-c fleet=true)', () => {
  it.each([
    [undefined, false],
    ['true', true],
    [true, true],
    ['false', false],
    [false, false],
  ])('reads %s as %s', (value, fleet) => {
    // prepare
    const app = new App(value === undefined ? {} : { context: { fleet: value } });

    // act, assess
    expect(fleetFromContext(app)).toBe(fleet);
  });

  it('refuses any other value, naming it and the flag to give', () => {
    // prepare
    const app = new App({ context: { fleet: 'yes' } });

    // act
    const read = () => fleetFromContext(app);

    // assess
    expect(read).toThrow(FleetContextError);
    expect(read).toThrow(`the context flag 'fleet' is "yes": give -c fleet=true`);
  });
});

describe('the fleet variant stream mapping', () => {
  const passes = (filters: typeof START_FILTERS, record: unknown) =>
    passesAnyFilter(
      filters.map((filter) => parseFilterPattern(String(filter.pattern))),
      record,
    );
  /** A running poller placed on s0: no generation, ever (shards fence with leases and claims). */
  const placed: RawItem = {
    id: { S: 'p' },
    running: { BOOL: true },
    shard: { S: 's0' },
    claimedSeq: { N: '300' },
  };
  const modify = (oldImage: RawItem, newImage: RawItem) => ({
    eventName: 'MODIFY',
    eventSource: 'aws:dynamodb',
    dynamodb: { Keys: { id: { S: 'p' } }, OldImage: oldImage, NewImage: newImage },
  });

  it('passes a poller created running or turned on, and not the writes on a running poller (claims, outcomes)', () => {
    // prepare
    const insert = { eventName: 'INSERT', eventSource: 'aws:dynamodb', dynamodb: { NewImage: placed } };
    const turnedOn = modify({ ...placed, running: { BOOL: false } }, placed);
    const claimed = modify(placed, { ...placed, claimedSeq: { N: '600' } });
    const outcome = modify(placed, { ...placed, lastResult: { S: 'ok' } });

    // act, assess
    expect([insert, turnedOn].map((record) => passes(FLEET_START_FILTERS, record))).toEqual([true, true]);
    expect([claimed, outcome].map((record) => passes(FLEET_START_FILTERS, record))).toEqual([false, false]);
    // The single-loop filters would pass them (no generation): one control-plane invocation per write.
    expect(passes(START_FILTERS, outcome)).toBe(true);
  });

  it("passes the flip of a running poller's pending move, and not a claim or an outcome while the move is pending", () => {
    // prepare: s0's poller is moving to s1; the old shard flips it (shard := s1, moveTo removed).
    const pending = { ...placed, moveTo: { S: 's1' }, movedAt: { N: '1800000000000' } };
    const flipped = {
      ...placed,
      shard: { S: 's1' },
      movedAt: { N: '1800000000000' },
      shardLoop: { S: '{}' },
    };
    const flip = modify(pending, flipped);
    const claimedPending = modify(pending, { ...pending, claimedSeq: { N: '600' } });
    const outcomePending = modify(pending, { ...pending, lastResult: { S: 'ok' } });
    const outcomeAfter = modify(flipped, { ...flipped, lastResult: { S: 'ok' } });
    const stoppedFlip = modify(
      { ...pending, running: { BOOL: false } },
      { ...flipped, running: { BOOL: false } },
    );

    // act, assess
    expect(passes(FLEET_START_FILTERS, flip)).toBe(true);
    expect(pollersToPlace([flip])).toEqual(['p']);
    expect(
      [claimedPending, outcomePending, outcomeAfter, stoppedFlip].map((record) =>
        passes(FLEET_START_FILTERS, record),
      ),
    ).toEqual([false, false, false, false]);
  });

  it('configures the fleet stack mapping with FLEET_START_FILTERS', () => {
    // act
    const [, mapping] = onlyResource(userStack({ fleet: {} }).resources(), 'AWS::Lambda::EventSourceMapping');

    // assess
    expect(mapping.Properties.FilterCriteria).toEqual({
      Filters: FLEET_START_FILTERS.map((filter) => ({ Pattern: filter.pattern })),
    });
  });
});

describe('least privilege with the shard index', () => {
  it('grants the control plane and operator roles the table itself, never `index/*`', () => {
    // prepare
    const app = new App();
    const stack = new Stack(app, 'UserStack');
    const scheduler = new SubMinuteScheduler(stack, 'Scheduler', { fleet: {} });
    const operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    scheduler.grantSteerPollers(operator);
    scheduler.grantReadPollers(operator);

    // act
    const resources = app.synth().getStackByName('UserStack').template.Resources as Resources;
    const wildcards = allPolicyStatements(resources).filter(({ statement }) =>
      JSON.stringify(statement.Resource ?? null).includes('/index/*'),
    );

    // assess
    expect(wildcards).toEqual([]);
  });
});
