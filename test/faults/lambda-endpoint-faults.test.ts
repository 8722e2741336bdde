import { afterEach, describe, expect, it } from 'vitest';
import { CONTROL_PLANE_MAX_ATTEMPTS } from '../../functions/shared/aws-clients';
import { type ControllerOutput, DEFAULT_POLLER_ID, FIELD } from '../../functions/shared/contract';
import { STATE } from '../../infra/state-machine/poller-definition';
import type { AwsHistoryEvent } from '../../scripts/local-stack/aws-history';
import { LOCAL_CONTROLLER_NAME, LOCAL_WORKER_NAME } from '../../scripts/local-stack/local-endpoints';
import { functionNameOf } from '../../scripts/local-stack/local-functions';
import type { FaultService, InjectedFault } from '../../scripts/local-stack/local-services-server';
import {
  duplicateSeqs,
  executionsOf,
  FaultBurst,
  reportFault,
  seconds,
  waitUntil,
} from '../support/fault-probes';
import { type Harness, startHarness } from '../support/local-stack-harness';

const THROTTLE: InjectedFault = {
  status: 429,
  errorType: 'TooManyRequestsException',
  message: 'Rate exceeded (fault injection)',
};
const SERVICE_ERROR: InjectedFault = {
  status: 500,
  errorType: 'ServiceException',
  message: 'Lambda is having a bad day (fault injection)',
};

const callsTo = (functionName: string) => (service: FaultService, target: string) =>
  service === 'lambda' && functionNameOf(target) === functionName;

describe('fault: the Lambda invoke endpoint throttles and fails', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  // The controller's SDK client tries each fire 3 times: 6 faulted calls fail two fires outright.
  it.each([
    { label: 'throttles (429)', fault: THROTTLE },
    { label: 'fails (500)', fault: SERVICE_ERROR },
  ])(
    'records a burst of worker invokes that $label as lastError and failedFires, and keeps firing',
    async ({ fault }) => {
      harness = await startHarness({ everySeconds: 1 });
      await harness.waitForFires(2, 5_000);

      const burst = new FaultBurst(callsTo(LOCAL_WORKER_NAME), fault, 6);
      harness.stack.services.injectFault = (service, target, body) => burst.inject(service, target, body);
      const firesBefore = harness.fires().length;
      await waitUntil(() => burst.done, 10_000, 'six faulted worker invokes');
      const burstEndedAt = burst.lastFaultAt ?? Date.now();
      const recoveryMs = await waitUntil(
        () => harness?.fires().some((fire) => Date.parse(fire.firedAt) > burstEndedAt) ?? false,
        5_000,
        'a fire after the burst',
      );
      await harness.waitForFires(harness.fires().length + 2, 4_000);
      await waitUntil(
        async () =>
          (await harness?.readItem())?.[FIELD.lastError]?.M?.message?.S?.includes(fault.errorType) ?? false,
        3_000,
        `lastError naming ${fault.errorType}`,
      );

      const fires = harness.fires();
      const item = await harness.readItem();
      const lastError = item?.[FIELD.lastError]?.M?.message?.S ?? '';
      reportFault(`lambda-endpoint worker ${fault.status}`, {
        'faulted calls': burst.faultedAt.length,
        'fires before': firesBefore,
        'fires after': fires.length - firesBefore,
        duplicates: duplicateSeqs(fires).length,
        failedFires: item?.[FIELD.failedFires]?.N ?? 'none',
        'faulted seqs': [...burst.faultedSeqs()].join(','),
        'recovery after burst': seconds(recoveryMs),
        lastError: JSON.stringify(lastError),
      });
      expect(duplicateSeqs(fires)).toEqual([]);
      expect(recoveryMs).toBeLessThan(3_000);
      expect(lastError).toContain(fault.errorType);
      expect(lastError).toContain(LOCAL_WORKER_NAME);
      // A tick whose every attempt failed (the SDK tries twice; a retry too late to send is withheld) is a failed
      // fire; a tick whose retry went through is not.
      const firedSeqs = new Set(fires.map((fire) => fire.seq));
      const undelivered = [...burst.faultedSeqs()].filter((seq) => !firedSeqs.has(seq));
      expect(undelivered.length).toBeGreaterThanOrEqual(
        burst.faultedAt.length / CONTROL_PLANE_MAX_ATTEMPTS - 1,
      );
      expect(Number(item?.[FIELD.failedFires]?.N ?? 0)).toBe(undelivered.length);
      expect(executionsOf(harness.stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
    },
  );

  it('survives a burst of 429s then 500s on the controller invokes themselves, with no duplicate seq', async () => {
    // A short Lambda timeout makes the controller hand back to Step Functions every tick or two, so the Task
    // invokes it again and again and meets the faults.
    harness = await startHarness({ everySeconds: 1, controllerTimeoutMs: 6_000 });
    await harness.waitForFires(3, 6_000);

    const throttles = new FaultBurst(callsTo(LOCAL_CONTROLLER_NAME), THROTTLE, 4);
    const failures = new FaultBurst(callsTo(LOCAL_CONTROLLER_NAME), SERVICE_ERROR, 4);
    harness.stack.services.injectFault = (service, target) =>
      throttles.inject(service, target) ?? failures.inject(service, target);
    const firesBefore = harness.fires().length;
    await waitUntil(() => throttles.done && failures.done, 30_000, 'the faulted controller invokes');
    const burstEndedAt = failures.lastFaultAt ?? Date.now();
    const recoveryMs = await waitUntil(
      () => harness?.fires().some((fire) => Date.parse(fire.firedAt) > burstEndedAt) ?? false,
      15_000,
      'a fire after the burst',
    );
    await harness.waitForFires(harness.fires().length + 2, 5_000);

    const fires = harness.fires();
    const item = await harness.readItem();
    const burstMs = burstEndedAt - (throttles.faultedAt[0] ?? burstEndedAt);
    reportFault('lambda-endpoint controller 429+500', {
      'faulted calls': throttles.faultedAt.length + failures.faultedAt.length,
      'burst lasted': seconds(burstMs),
      'fires before': firesBefore,
      'fires after': fires.length - firesBefore,
      duplicates: duplicateSeqs(fires).length,
      'recovery after burst': seconds(recoveryMs),
      skippedTicks: item?.[FIELD.skippedTicks]?.N ?? 'none',
      lastError: JSON.stringify(item?.[FIELD.lastError]?.M?.message?.S ?? ''),
    });
    expect(duplicateSeqs(fires)).toEqual([]);
    expect(recoveryMs).toBeLessThan(15_000);
    expect(executionsOf(harness.stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
    expect(harness.events.some((event) => event.event === 'stopped')).toBe(false);
  });

  /** The events of each RunController entry in a history: from TaskStateEntered to its TaskStateExited. */
  function controllerEntries(history: readonly AwsHistoryEvent[]) {
    const entries: { readonly from: number; readonly events: AwsHistoryEvent[] }[] = [];
    history.forEach((event, index) => {
      if (event.stateName !== STATE.runController) return;
      if (event.type === 'TaskStateEntered') entries.push({ from: index, events: [] });
      entries.at(-1)?.events.push(event);
    });
    return entries;
  }

  it('retries a controller invoke throttled twice with the Task Retry (not the Catch), and counts the attempts', async () => {
    harness = await startHarness({ everySeconds: 1, controllerTimeoutMs: 4_000 });
    await harness.waitForFires(2, 5_000);

    const throttles = new FaultBurst(callsTo(LOCAL_CONTROLLER_NAME), THROTTLE, 2);
    harness.stack.services.injectFault = (service, target) => throttles.inject(service, target);
    await waitUntil(() => throttles.done, 15_000, 'two throttled controller invokes');
    const [execution] = executionsOf(harness.stack, DEFAULT_POLLER_ID, 'RUNNING');
    const historyOf = () => harness?.stack.stepFunctions.historyOf(execution?.executionArn ?? '') ?? [];
    const retriedRound = () =>
      controllerEntries(historyOf()).find((entry) =>
        entry.events.some((event) => event.type === 'LambdaFunctionFailed'),
      );
    const retried = await waitUntil(
      () => retriedRound()?.events.at(-1)?.type === 'TaskStateExited',
      10_000,
      'the retried round to end',
    );

    const history = historyOf();
    const entry = retriedRound();
    const exited = entry?.events.at(-1);
    const output = exited?.output as ControllerOutput | undefined;
    // Everything up to this round's exit, plus its Wait's two events, minus ExecutionStarted (left to the reserve).
    const used = (entry?.from ?? 0) + (entry?.events.length ?? 0) + 2 - 1;
    reportFault('lambda-endpoint controller 429 x2', {
      'round events': entry?.events.map((event) => event.type).join(' ') ?? 'none',
      errors: entry?.events.flatMap((event) => (event.error ? [event.error] : [])).join(', ') ?? 'none',
      'history used': used,
      'history counted': output?.loop.historyEvents ?? 'none',
      'waited for the round': seconds(retried),
    });
    expect(entry?.events.map((event) => event.type)).toEqual([
      'TaskStateEntered',
      ...['LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionFailed'],
      ...['LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionFailed'],
      ...['LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionSucceeded'],
      'TaskStateExited',
    ]);
    expect(entry?.events.filter((event) => event.error !== undefined).map((event) => event.error)).toEqual([
      'Lambda.TooManyRequestsException',
      'Lambda.TooManyRequestsException',
    ]);
    expect(history.some((event) => event.stateName === STATE.recoverAfterFailure)).toBe(false);
    expect(output?.loop.historyEvents).toBeGreaterThanOrEqual(used);
  });
});
