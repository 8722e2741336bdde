import { afterEach, describe, expect, it } from 'vitest';
import {
  emfLine,
  MAX_VALUES_PER_METRIC,
  METRIC,
  METRIC_NAMESPACE,
  type MetricKey,
  metricOf,
  PER_POLLER_METRICS_VARIABLE,
  perPollerMetricsFrom,
  stdoutMetricSink,
} from '../../../functions/shared/metrics';

describe('emfLine', () => {
  it('writes one EMF object: the ControlTable dimension, each metric with its unit, properties beside', () => {
    const line = emfLine({
      table: 'control',
      timestampMs: 1_700_000_000_123.6,
      values: { fires: 3, controllerPrecisionMs: [1.5, 2] },
      properties: { pollerId: 'bus', seq: 7 },
    });
    expect(JSON.parse(line ?? '')).toEqual({
      pollerId: 'bus',
      seq: 7,
      _aws: {
        Timestamp: 1_700_000_000_124,
        CloudWatchMetrics: [
          {
            Namespace: METRIC_NAMESPACE,
            Dimensions: [['ControlTable']],
            Metrics: [
              { Name: 'Fires', Unit: 'Count' },
              { Name: 'ControllerPrecisionMs', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      ControlTable: 'control',
      Fires: 3,
      ControllerPrecisionMs: [1.5, 2],
    });
  });

  it('adds the per-poller dimension set only when asked', () => {
    const parsed = JSON.parse(
      emfLine({ table: 't', perPollerId: 'bus', timestampMs: 0, values: { tickFailed: 1 } }) ?? '',
    );
    expect(parsed._aws.CloudWatchMetrics[0].Dimensions).toEqual([
      ['ControlTable'],
      ['ControlTable', 'PollerId'],
    ]);
    expect(parsed.PollerId).toBe('bus');
  });

  it('leaves out empty and non-finite values, and says nothing when nothing is left', () => {
    expect(
      emfLine({ table: 't', timestampMs: 0, values: { fires: Number.NaN, controllerPrecisionMs: [] } }),
    ).toBe(undefined);
    const parsed = JSON.parse(
      emfLine({
        table: 't',
        timestampMs: 0,
        values: { fires: 0, controllerPrecisionMs: [Number.POSITIVE_INFINITY, 4] },
      }) ?? '',
    );
    expect(parsed.Fires).toBe(0);
    expect(parsed.ControllerPrecisionMs).toBe(4);
  });

  it('keeps at most the 100 values CloudWatch takes per metric in one line', () => {
    const values = Array.from({ length: 150 }, (_, index) => index);
    const parsed = JSON.parse(
      emfLine({ table: 't', timestampMs: 0, values: { tickDurationMs: values } }) ?? '',
    );
    expect(parsed.TickDurationMs).toHaveLength(MAX_VALUES_PER_METRIC);
  });
});

describe('metricOf', () => {
  it.each(Object.keys(METRIC) as MetricKey[])('%s: the name and unit the catalogue lists', (key) => {
    expect(metricOf(key)).toEqual(METRIC[key]);
  });
});

describe('perPollerMetricsFrom', () => {
  it.each([
    ['true', true],
    [' TRUE ', true],
    ['false', false],
    ['', false],
    [undefined, false],
    ['yes', false],
  ])('reads %j as %s', (value, expected) => {
    expect(perPollerMetricsFrom({ [PER_POLLER_METRICS_VARIABLE]: value })).toBe(expected);
  });
});

describe('stdoutMetricSink', () => {
  const write = process.stdout.write;
  afterEach(() => {
    process.stdout.write = write;
  });

  it('writes the line raw to stdout, one line, so no console prefix or JSON wrapper hides it from CloudWatch', () => {
    // prepare
    const written: string[] = [];
    process.stdout.write = ((chunk: string) => {
      written.push(chunk);
      return true;
    }) as typeof process.stdout.write;

    // act
    stdoutMetricSink('{"_aws":{}}');

    // assess
    expect(written).toEqual(['{"_aws":{}}\n']);
  });
});
