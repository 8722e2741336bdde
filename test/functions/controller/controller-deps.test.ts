import { afterEach, describe, expect, it } from 'vitest';
import { controllerDepsFrom, MEMORY_SIZE_VARIABLE } from '../../../functions/controller/controller-deps';
import type { ControllerDeps } from '../../../functions/controller/run-round';
import { CONTROLLER_SIZE } from '../../../functions/scheduling/cost-model';
import { DEFAULT_TIMING } from '../../../functions/scheduling/plan-round';
import { localClientOptions } from '../../../functions/shared/aws-clients';
import { systemClock } from '../../../functions/shared/clock';
import { ENV } from '../../../functions/shared/contract';
import { MissingEnvironmentError } from '../../../functions/shared/errors';
import { silentLogger } from '../../../functions/shared/logger';
import { LoopTable } from '../../../functions/shared/loop-table';
import { PER_POLLER_METRICS_VARIABLE, stdoutMetricSink } from '../../../functions/shared/metrics';
import { LambdaWorkerInvoker } from '../../../functions/shared/worker-invoker';

const CLIENTS = localClientOptions('http://127.0.0.1:1');
const ENVIRONMENT = { [ENV.controlTableName]: 'Control', [ENV.defaultTarget]: 'worker' };

const built: ControllerDeps[] = [];
const build = (setup: Partial<Parameters<typeof controllerDepsFrom>[0]> = {}) => {
  const deps = controllerDepsFrom({
    env: ENVIRONMENT,
    clients: CLIENTS,
    log: silentLogger,
    architecture: 'arm64',
    ...setup,
  });
  built.push(deps);
  return deps;
};

afterEach(() => {
  for (const deps of built.splice(0)) deps.invoker.destroy();
});

describe('controllerDepsFrom', () => {
  it('builds the controller from the variables the stack sets', () => {
    // act
    const deps = build();

    // assess
    expect(deps.table.tableName).toBe('Control');
    expect(deps.defaultTarget).toBe('worker');
    expect(deps.clock).toBe(systemClock);
    expect(deps.log).toBe(silentLogger);
    expect(deps.timing).toBeUndefined();
  });

  it('builds the production adapters behind the ports: the control table and the Lambda invoker', () => {
    // act
    const deps = build();

    // assess
    expect(deps.table).toBeInstanceOf(LoopTable);
    expect(deps.invoker).toBeInstanceOf(LambdaWorkerInvoker);
  });

  it('sizes the controller by the memory the runtime reports and the processor it runs on', () => {
    expect(
      build({ env: { ...ENVIRONMENT, [MEMORY_SIZE_VARIABLE]: '512' }, architecture: 'x64' }).size,
    ).toEqual({
      memoryMb: 512,
      architecture: 'x86_64',
    });
  });

  it('takes the deployed size when the runtime reports none', () => {
    expect(build().size).toEqual(CONTROLLER_SIZE);
  });

  it('passes injected timing through', () => {
    const timing = { ...DEFAULT_TIMING, handBackMarginMs: 500 };

    expect(build({ timing }).timing).toBe(timing);
  });

  it('writes metrics about its table to stdout, per table unless PER_POLLER_METRICS is true', () => {
    expect(build().metrics).toEqual({ sink: stdoutMetricSink, table: 'Control', perPoller: false });
    expect(build({ env: { ...ENVIRONMENT, [PER_POLLER_METRICS_VARIABLE]: 'true' } }).metrics?.perPoller).toBe(
      true,
    );
    expect(
      build({ env: { ...ENVIRONMENT, [PER_POLLER_METRICS_VARIABLE]: 'false' } }).metrics?.perPoller,
    ).toBe(false);
  });

  it('writes metrics where the setup says (the local stack keeps its screen quiet)', () => {
    const lines: string[] = [];
    const sink = (line: string) => lines.push(line);

    expect(build({ metricSink: sink }).metrics?.sink).toBe(sink);
  });

  it.each([ENV.controlTableName, ENV.defaultTarget])(
    'refuses an environment without %s, naming it',
    (variable) => {
      // prepare
      const env = { ...ENVIRONMENT, [variable]: undefined };

      // act
      const attempt = () => build({ env });

      // assess
      expect(attempt).toThrow(MissingEnvironmentError);
      expect(attempt).toThrow(`environment variable ${variable} is not set`);
    },
  );
});
