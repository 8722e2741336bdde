import { afterEach, describe, expect, it } from 'vitest';
import { LOCAL_CONTROLLER_NAME, LOCAL_WORKER_NAME } from '../../../scripts/local-stack/local-endpoints';
import type { InvocationStart } from '../../../scripts/local-stack/local-functions';
import { type Harness, startHarness } from '../../support/local-stack-harness';

describe("the local stack with the worker in-process (the fleet benchmark's --worker in-process)", () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('runs the controller in its sandbox and the worker in the stack process, and ticks still fire', async () => {
    // arrange
    const starts: InvocationStart[] = [];

    // act
    harness = await startHarness({
      fleetVariant: {},
      workerInProcess: true,
      everySeconds: 1,
      onInvocationStart: (start) => starts.push(start),
    });
    const fires = await harness.waitForFires(2, 30_000);

    // assess: one sandbox (the fleet's controller), none for the worker; the fires are the worker's invocations.
    expect(harness.stack.cpuShare.functions.map((entry) => entry.name)).toEqual([LOCAL_CONTROLLER_NAME]);
    expect(fires.map((fire) => fire.seq)).toEqual([fires[0]?.seq, (fires[0]?.seq ?? 0) + 1]);
    expect(starts.filter((start) => start.functionName === LOCAL_WORKER_NAME).length).toBeGreaterThanOrEqual(
      2,
    );
  });
});
