/**
 * The rule that keeps recording outcomes cheap (README "Tick outcomes"): a write per tick at 1 s would cost about
 * $0.11 a day per poller, more than the loop itself. Per poller, in one sandbox:
 * - every failure is recorded;
 * - a success is recorded when it is the first this sandbox sees, the first after a failure it recorded, or at
 *   least `everyMs` after the last outcome it recorded; other successes are only counted in metrics.
 * Several sandboxes of one worker each follow the rule, so a busy poller may get a write per sandbox per period.
 * Sandboxes are frozen between invocations, so this is plain memory, kept for the sandbox's life.
 */
export class OutcomeSampler {
  private readonly lastRecorded = new Map<string, { readonly atMs: number; readonly failed: boolean }>();

  constructor(private readonly everyMs: number) {}

  shouldRecord(pollerId: string, failed: boolean, nowMs: number): boolean {
    if (failed) return true;
    const last = this.lastRecorded.get(pollerId);
    return last === undefined || last.failed || nowMs - last.atMs >= this.everyMs;
  }

  /** Called once a write was tried (written or refused): the rule counts from it either way. */
  recorded(pollerId: string, failed: boolean, nowMs: number): void {
    this.lastRecorded.set(pollerId, { atMs: nowMs, failed });
  }
}
