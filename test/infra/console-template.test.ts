import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD } from '../../functions/shared/contract';
import { createApp } from '../../infra/app';
import { OUTPUT, PARAMETER, PARAMETER_GROUPS } from '../../infra/sub-minute-executor-stack';
import { onlyResource, type Resources, resolve } from './template-walk';

/** What the CloudFormation console reads to lay out its parameter form. */
interface InterfaceMetadata {
  readonly ParameterGroups: { readonly Label: { readonly default: string }; readonly Parameters: string[] }[];
  readonly ParameterLabels: Record<string, { readonly default: string }>;
}

let json: {
  Parameters?: Record<string, unknown>;
  Outputs?: Record<string, { Description?: string; Value: unknown }>;
  Metadata?: Record<string, unknown>;
  Resources?: Resources;
};

beforeAll(() => {
  // The template console users upload: the inline one, without the alarms (they come in the monitoring template).
  json = Template.fromStack(createApp(undefined, { monitoring: false }).stack).toJSON();
});

describe('the template in the CloudFormation console', () => {
  it('groups every parameter exactly once, in the order the groups list them', () => {
    // prepare
    const ui = json.Metadata?.['AWS::CloudFormation::Interface'] as InterfaceMetadata;

    // act
    const grouped = ui.ParameterGroups.flatMap((group) => group.Parameters);

    // assess
    expect(ui.ParameterGroups.map((group) => group.Label.default)).toEqual(
      PARAMETER_GROUPS.map((group) => group.label),
    );
    expect(grouped).toEqual([
      PARAMETER.running,
      PARAMETER.waitSeconds,
      PARAMETER.controllerMemory,
      PARAMETER.extraTargetArns,
      PARAMETER.perPollerMetrics,
    ]);
    expect([...grouped].sort()).toEqual(Object.keys(json.Parameters ?? {}).sort());
  });

  it('groups AlarmEmail with the monitoring parameters where the alarms are (the CDK stack)', () => {
    const withAlarms = Template.fromStack(createApp().stack).toJSON();
    const ui = withAlarms.Metadata?.['AWS::CloudFormation::Interface'] as InterfaceMetadata;
    expect(ui.ParameterGroups.at(-1)?.Parameters).toEqual([PARAMETER.perPollerMetrics, PARAMETER.alarmEmail]);
    expect(Object.keys(withAlarms.Parameters ?? {})).toContain(PARAMETER.alarmEmail);
  });

  it('labels only parameters that exist', () => {
    // prepare
    const ui = json.Metadata?.['AWS::CloudFormation::Interface'] as InterfaceMetadata;

    // act
    const labelled = Object.keys(ui.ParameterLabels);

    // assess
    expect(labelled.length).toBeGreaterThan(0);
    for (const name of labelled) expect(Object.keys(json.Parameters ?? {})).toContain(name);
  });

  it('names the parameters that seed the item after its fields, the others in PascalCase', () => {
    const seeding: string[] = [PARAMETER.running, PARAMETER.waitSeconds];
    expect(seeding).toEqual([FIELD.running, FIELD.waitSeconds]);
    for (const name of Object.keys(json.Parameters ?? {}).filter((name) => !seeding.includes(name)))
      expect(name).toMatch(/^[A-Z][A-Za-z]+$/);
  });

  it('describes every parameter and every output', () => {
    for (const [name, parameter] of Object.entries(json.Parameters ?? {})) {
      expect((parameter as { Description?: string }).Description, name).toMatch(/\w{3}/);
    }
    const outputs = Object.entries(json.Outputs ?? {});
    expect(outputs.map(([name]) => name).sort()).toEqual(Object.values(OUTPUT).sort());
    for (const [name, output] of outputs) expect(output.Description, name).toMatch(/\w{3}/);
  });

  it('links to the default control item in the DynamoDB console of the stack region (aws partition)', () => {
    // prepare
    const [tableId] = onlyResource(json.Resources ?? {}, 'AWS::DynamoDB::Table');
    const value = json.Outputs?.[OUTPUT.controlItemConsoleUrl]?.Value;

    // act
    const url = new URL(
      resolve(value, { 'AWS::Region': 'eu-west-1', [tableId]: 'SubMinute-ControlTable-X' }),
    );

    // assess
    expect(url.origin).toBe('https://eu-west-1.console.aws.amazon.com');
    expect(url.pathname).toBe('/dynamodbv2/home');
    expect(url.searchParams.get('region')).toBe('eu-west-1');
    // The console routes on the fragment: the item editor, the table and the item's partition key.
    const [route, query] = url.hash.slice(1).split('?');
    expect(route).toBe('edit-item');
    const item = new URLSearchParams(query);
    expect(item.get('table')).toBe('SubMinute-ControlTable-X');
    expect(item.get('pk')).toBe(DEFAULT_POLLER_ID);
    // China and GovCloud have console hosts of their own (not built from AWS::URLSuffix): the output says so.
    expect(json.Outputs?.[OUTPUT.controlItemConsoleUrl]?.Description).toContain('(aws partition)');
  });
});
