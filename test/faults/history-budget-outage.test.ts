import { afterEach, describe, expect, it } from 'vitest';
import {
  HISTORY_EVENTS_PER_FAILED_ROUND,
  HISTORY_EVENTS_PER_ROUND,
} from '../../functions/scheduling/history-budget';
import { type ControllerOutput, DEFAULT_POLLER_ID } from '../../functions/shared/contract';
import { STATE } from '../../infra/state-machine/poller-definition';
import type { AwsHistoryEvent } from '../../scripts/local-stack/aws-history';
import { duplicateSeqs, executionsOf, reportFault, seconds, sleep, waitUntil } from '../support/fault-probes';
import { type Harness, startHarness } from '../support/local-stack-harness';

/**
 * Rounds that keep failing (the table unreachable) add ~19 history events every few seconds, and a Standard
 * execution fails outright at 25,000. With a budget of 80 events the hand-over must come within a few failed
 * rounds, while the table is still unreachable: counting the failed rounds once, as before, would let each
 * execution's history grow for as long as the outage lasts.
 */
const BUDGET = 80;
const OUTAGE_MS = 60_000;
/** The signalling round, the StartExecution Task, the Succeed state and ExecutionSucceeded. */
const HAND_OVER_EVENTS = 13;

/** What each successful controller round counted, next to the events its execution had used by its Wait's end. */
function countedVersusUsed(history: readonly AwsHistoryEvent[]) {
  return history.flatMap((event, index) => {
    if (event.type !== 'TaskStateExited' || event.stateName !== STATE.runController) return [];
    // A caught attempt's exit carries the previous round's output on; only a returned round counted anew.
    if (history[index - 1]?.type !== 'LambdaFunctionSucceeded') return [];
    const output = event.output as Partial<ControllerOutput> | undefined;
    if (output?.loop === undefined) return [];
    // This exit, the Wait's two events to come, minus ExecutionStarted (left to the reserve).
    return [{ counted: output.loop.historyEvents, used: index + 1 + 2 - 1 }];
  });
}

describe('fault: the control table is unreachable for many failed rounds', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('hands over to fresh executions during the outage, each history staying near its budget', async () => {
    harness = await startHarness({ everySeconds: 1, controllerTimeoutMs: 3_000, historyBudget: BUDGET });
    await harness.waitForFires(3, 6_000);

    await harness.stack.dynamoDbStore.refuseConnections();
    const refusedAt = Date.now();
    await sleep(OUTAGE_MS);
    const startedDuringOutage = executionsOf(harness.stack, DEFAULT_POLLER_ID).filter(
      (execution) => execution.startDate.getTime() > refusedAt + 1_000,
    );
    await harness.stack.dynamoDbStore.acceptConnections();
    const acceptedAt = Date.now();
    const recoveryMs = await waitUntil(
      () => harness?.fires().some((fire) => Date.parse(fire.firedAt) > acceptedAt) ?? false,
      30_000,
      'a fire after the table is reachable again',
    );
    await harness.waitForFires(harness.fires().length + 2, 5_000);

    const stack = harness.stack;
    const executions = executionsOf(stack, DEFAULT_POLLER_ID);
    const histories = executions.map((execution) => stack.stepFunctions.historyOf(execution.executionArn));
    const failedRounds = histories
      .flat()
      .filter((event) => event.type === 'WaitStateEntered' && event.stateName === STATE.recoverAfterFailure);
    const undercounted = histories.flatMap(countedVersusUsed).filter((round) => round.used > round.counted);
    const largest = Math.max(...histories.map((history) => history.length));
    reportFault('history budget through a table outage', {
      outage: seconds(OUTAGE_MS),
      'failed rounds': failedRounds.length,
      'executions started during the outage': startedDuringOutage.length,
      'largest history': `${largest} events (budget ${BUDGET})`,
      'first fire after the outage': seconds(recoveryMs),
      statuses: executions.map((execution) => execution.status).join('/'),
    });
    expect(failedRounds.length).toBeGreaterThanOrEqual(3);
    expect(startedDuringOutage.length).toBeGreaterThanOrEqual(2);
    expect(largest).toBeLessThanOrEqual(
      BUDGET + HISTORY_EVENTS_PER_FAILED_ROUND + HISTORY_EVENTS_PER_ROUND + HAND_OVER_EVENTS,
    );
    expect(undercounted).toEqual([]);
    expect(executions.filter((execution) => execution.status === 'FAILED')).toEqual([]);
    expect(executions.filter((execution) => execution.status === 'RUNNING')).toHaveLength(1);
    expect(duplicateSeqs(harness.fires())).toEqual([]);
  }, 120_000);
});
