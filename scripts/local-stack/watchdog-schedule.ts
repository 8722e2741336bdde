import { randomUUID } from 'node:crypto';
import { describeCause } from '../../functions/shared/errors';
import { LOCAL_ACCOUNT } from './local-endpoints';
import type { InvokeOutcome } from './stream-event-source';

/** The event an EventBridge schedule rule delivers to its Lambda target. */
export interface ScheduledEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'Scheduled Event';
  readonly source: 'aws.events';
  readonly account: string;
  /** The scheduled time, to the second (`2026-11-22T08:27:00Z`). */
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Record<string, never>;
}

export const LOCAL_WATCHDOG_RULE_NAME = 'SubMinuteLambdaExecutor-local-watchdog';

export const localRuleArn = (region: string, name: string = LOCAL_WATCHDOG_RULE_NAME) =>
  `arn:aws:events:${region}:${LOCAL_ACCOUNT}:rule/${name}`;

export function scheduledEvent(region: string, ruleArn: string, at: Date): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT,
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [ruleArn],
    detail: {},
  };
}

export interface WatchdogScheduleOptions {
  readonly region: string;
  readonly intervalMs: number;
  readonly invoke: (event: ScheduledEvent) => Promise<InvokeOutcome>;
  /** An invocation that failed (the function's error, or the invoke itself). */
  readonly onFailure: (message: string) => void;
}

/**
 * The local stand-in for the every-minute EventBridge rule: each tick invokes the control plane with a Scheduled
 * Event. One run at a time: a tick that finds the previous run still going is skipped (the deployed rule's runs,
 * a minute apart, never overlap in practice; short local intervals would otherwise pile sandboxes up).
 */
export class WatchdogSchedule {
  readonly ruleArn: string;
  private timer: NodeJS.Timeout | undefined;
  private run: Promise<void> | undefined;

  constructor(private readonly options: WatchdogScheduleOptions) {
    this.ruleArn = localRuleArn(options.region);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.run ??= this.fire(new Date()).finally(() => {
        this.run = undefined;
      });
    }, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.run;
  }

  private async fire(at: Date): Promise<void> {
    try {
      const outcome = await this.options.invoke(scheduledEvent(this.options.region, this.ruleArn, at));
      if ('error' in outcome) {
        this.options.onFailure(`${outcome.error.errorType}: ${outcome.error.errorMessage}`);
      }
    } catch (error) {
      this.options.onFailure(describeCause(error));
    }
  }
}
