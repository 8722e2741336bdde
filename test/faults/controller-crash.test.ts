import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_ID, FIELD } from '../../functions/shared/contract';
import { startLoop } from '../../functions/starter/start-loop';
import { LOCAL_CONTROLLER_NAME } from '../../scripts/local-stack/local-endpoints';
import {
  duplicateSeqs,
  executionsOf,
  reportFault,
  seconds,
  starterDepsFor,
  stopReasonOf,
  waitUntil,
} from '../support/fault-probes';
import { type FireEvent, type Harness, startHarness } from '../support/local-stack-harness';

const KILL_AFTER_MS = 2_500;
const MISSING_TARGET = 'no-such-function-for-fault-test';

/** Samplers still running, stopped after each test whatever happened in it. */
const samplers: { stop: () => void }[] = [];

/**
 * Samples the item's claimedSeq in the background: the claims a dead invocation made are gone with it. Start it
 * before the kill is armed, or the dead invocation's claim is never seen.
 */
function sampleClaims(harness: Harness): { claims: { at: number; claimedSeq: number }[]; stop: () => void } {
  const claims: { at: number; claimedSeq: number }[] = [];
  let running = true;
  void (async () => {
    while (running) {
      const claimedSeq = Number(
        (await harness.readItem().catch(() => undefined))?.[FIELD.claimedSeq]?.N ?? Number.NaN,
      );
      if (!Number.isNaN(claimedSeq) && claims.at(-1)?.claimedSeq !== claimedSeq)
        claims.push({ at: Date.now(), claimedSeq });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const sampler = {
    claims,
    stop: () => {
      running = false;
    },
  };
  samplers.push(sampler);
  return sampler;
}

/** The two consecutive fires furthest apart: where the loop was down. */
function widestGap(fires: readonly FireEvent[]): { before: FireEvent; after: FireEvent; gapMs: number } {
  let widest: { before: FireEvent; after: FireEvent; gapMs: number } | undefined;
  for (let index = 1; index < fires.length; index += 1) {
    const before = fires[index - 1] as FireEvent;
    const after = fires[index] as FireEvent;
    const gapMs = Date.parse(after.firedAt) - Date.parse(before.firedAt);
    if (widest === undefined || gapMs > widest.gapMs) widest = { before, after, gapMs };
  }
  if (widest === undefined) throw new Error('need two fires for a gap');
  return widest;
}

describe('fault: the controller is killed mid-window', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    for (const sampler of samplers.splice(0)) sampler.stop();
    await harness?.stack.stop();
    harness = undefined;
  });

  /** Kills the armed invocation, waits for the loop to fire again, and checks what every crash case must hold. */
  async function expectRecoveryFromKill(
    label: string,
    firesBeforeKill: number,
    sampler: ReturnType<typeof sampleClaims>,
  ) {
    if (!harness) throw new Error('no harness');
    const recoveryMs = await waitUntil(
      () => {
        const fires = harness?.fires() ?? [];
        return fires.length > Math.max(1, firesBeforeKill) && widestGap(fires).gapMs > 4_000;
      },
      20_000,
      'fires resuming after the killed invocation',
    );
    await harness.waitForFires(harness.fires().length + 2, 4_000);
    sampler.stop();

    const fires = harness.fires();
    const gap = widestGap(fires);
    // The dead invocation claimed before its last fire; the recovering one claims ≥ 5 s later, just before its first.
    const midGap = Date.parse(gap.before.firedAt) + gap.gapMs / 2;
    const claimsBeforeRecovery = sampler.claims.filter((claim) => claim.at < midGap);
    const deadClaim = Math.max(...claimsBeforeRecovery.map((claim) => claim.claimedSeq));
    const item = await harness.readItem();
    reportFault(`controller-crash ${label}`, {
      'fires before': fires.filter((fire) => fire.seq <= gap.before.seq).length,
      'fires after': fires.filter((fire) => fire.seq >= gap.after.seq).length,
      duplicates: duplicateSeqs(fires).length,
      'seq gap': `${gap.before.seq} -> ${gap.after.seq} (dead claim through ${deadClaim})`,
      'fire gap': seconds(gap.gapMs),
      'waited for recovery': seconds(recoveryMs),
      lastError: JSON.stringify(item?.[FIELD.lastError]?.M?.message?.S ?? ''),
    });
    expect(duplicateSeqs(fires)).toEqual([]);
    // The sampler ran from before the kill was armed, so it saw the claim the dead invocation made.
    expect(Number.isFinite(deadClaim)).toBe(true);
    // The recovery pause is 5 s; the killed invocation lived 2.5 s of a 1 s cadence.
    expect(gap.gapMs).toBeLessThan(KILL_AFTER_MS + 10_000);
    expect(gap.after.seq).toBeGreaterThan(deadClaim);
    expect(item?.[FIELD.lastError]?.M?.message?.S).toContain('Runtime.ExitError');
    expect(executionsOf(harness.stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
  }

  it('an invocation killed mid-window in a running loop: caught, resumed after the pause, its claim never reused', async () => {
    // A 9 s Lambda timeout makes each invocation serve ~4 ticks and hand back, so a kill can be armed for the next.
    harness = await startHarness({ everySeconds: 1, controllerTimeoutMs: 9_000 });
    await harness.waitForFires(2, 5_000);

    const sampler = sampleClaims(harness);
    harness.stack.functions.armKill(LOCAL_CONTROLLER_NAME, KILL_AFTER_MS);
    await expectRecoveryFromKill('mid-loop', harness.fires().length, sampler);
  });

  it('the first invocation of a console start (no generation) killed: the retry takes a new generation above the claim', async () => {
    harness = await startHarness({ everySeconds: 1, startLoops: false });
    const sampler = sampleClaims(harness);
    harness.stack.functions.armKill(LOCAL_CONTROLLER_NAME, KILL_AFTER_MS);

    harness.stack.startLoop(DEFAULT_POLLER_ID);
    await harness.waitForFires(1, 3_000);
    await expectRecoveryFromKill('first invocation, raw start', 0, sampler);
  });

  // The retry of a killed first invocation gets the same start input (no `loop`); the item names this execution
  // as the owner of its generation, so the retry carries on as that loop, above the dead attempt's claim.
  it('the first invocation of a starter start (generation in the input) killed: the loop resumes', async () => {
    harness = await startHarness({ everySeconds: 1, startLoops: false });
    const deps = starterDepsFor(harness.stack);
    const sampler = sampleClaims(harness);
    harness.stack.functions.armKill(LOCAL_CONTROLLER_NAME, KILL_AFTER_MS);

    try {
      await startLoop(DEFAULT_POLLER_ID, deps);
      await harness.waitForFires(1, 3_000);
      const firesBeforeKill = harness.fires().length;
      // Either the loop fires again after the recovery pause, or its execution ends: whichever comes first.
      await waitUntil(
        () =>
          executionsOf(harness?.stack as Harness['stack'], DEFAULT_POLLER_ID, 'RUNNING').length === 0 ||
          (harness?.fires().length ?? 0) > firesBeforeKill + 3,
        15_000,
        'the killed loop to resume or end',
      );
      const [execution] = executionsOf(harness.stack, DEFAULT_POLLER_ID);
      reportFault('controller-crash first invocation, starter start', {
        fires: harness.fires().length,
        duplicates: duplicateSeqs(harness.fires()).length,
        execution: `${execution?.name} ${execution?.status} ${execution ? (stopReasonOf(execution) ?? '') : ''}`,
        lastError: JSON.stringify((await harness.readItem())?.[FIELD.lastError]?.M?.message?.S ?? ''),
      });
      expect(duplicateSeqs(harness.fires())).toEqual([]);
      expect(executionsOf(harness.stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
      expect(harness.events.some((event) => event.event === 'stopped')).toBe(false);
      await expectRecoveryFromKill('first invocation, starter start', 0, sampler);
    } finally {
      deps.sfn.destroy();
    }
  });
});

describe('fault: the worker target does not exist', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stack.stop();
    harness = undefined;
  });

  it('records the missing function by name, keeps the loop alive, and fires again once the target is restored', async () => {
    harness = await startHarness({ everySeconds: 1 });
    await harness.waitForFires(2, 5_000);
    const firesBefore = harness.fires().length;

    await harness.setFields({ [FIELD.target]: { S: MISSING_TARGET } });
    await waitUntil(
      async () =>
        (await harness?.readItem())?.[FIELD.lastError]?.M?.message?.S?.includes(MISSING_TARGET) ?? false,
      4_000,
      'lastError naming the missing target',
    );
    await waitUntil(
      async () => Number((await harness?.readItem())?.[FIELD.failedFires]?.N ?? 0) >= 2,
      4_000,
      'two failed fires',
    );
    const firesWhileMissing = harness.fires().length - firesBefore;
    await harness.setFields({ [FIELD.target]: { NULL: true } });
    const restoredAt = Date.now();
    const recoveryMs = await waitUntil(
      () => harness?.fires().some((fire) => Date.parse(fire.firedAt) > restoredAt) ?? false,
      3_000,
      'a fire after restoring the target',
    );
    await harness.waitForFires(harness.fires().length + 1, 3_000);

    const fires = harness.fires();
    const item = await harness.readItem();
    const lastError = item?.[FIELD.lastError]?.M?.message?.S ?? '';
    reportFault('controller-crash missing target', {
      'fires before': firesBefore,
      'fires while missing': firesWhileMissing,
      'fires after restore': fires.filter((fire) => Date.parse(fire.firedAt) > restoredAt).length,
      duplicates: duplicateSeqs(fires).length,
      failedFires: item?.[FIELD.failedFires]?.N ?? 'none',
      'recovery after restore': seconds(recoveryMs),
      lastError: JSON.stringify(lastError),
    });
    expect(duplicateSeqs(fires)).toEqual([]);
    // A tick planned before the edit may still go to the default worker; none after.
    expect(firesWhileMissing).toBeLessThanOrEqual(1);
    expect(lastError).toContain(MISSING_TARGET);
    expect(lastError).toContain('ResourceNotFoundException');
    expect(recoveryMs).toBeLessThan(2_000);
    expect(executionsOf(harness.stack, DEFAULT_POLLER_ID, 'RUNNING')).toHaveLength(1);
    expect(harness.events.some((event) => event.event === 'stopped')).toBe(false);
  });
});
