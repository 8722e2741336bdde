import { type AttributeValue, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DEFAULT_POLLER_ID, FIELD } from '../../functions/shared/contract';
import type { RawItem } from '../../functions/shared/control-item';
import { LOCAL_CONTROLLER_NAME } from '../../scripts/local-stack/local-endpoints';
import {
  type LocalStack,
  type LocalStackEvent,
  type LocalStackOptions,
  startLocalStack,
} from '../../scripts/local-stack/local-stack';

export type FireEvent = Extract<LocalStackEvent, { event: 'fire' }>;

/**
 * A wait's timeout bounds "eventually", it is not a speed claim (those are measured figures the tests assert
 * explicitly, or benchmark targets). The local stack shares two cores with the test runner, the emulators and
 * every sandbox, so a wait gives up only after this many times the time the test names: a healthy run returns
 * as soon as the event arrives and never waits longer than it would have.
 */
export const WAIT_PATIENCE = 3;

/** A local stack on free ports that records every event it emits, for tests to wait on and inspect. */
export interface Harness {
  readonly stack: LocalStack;
  readonly events: LocalStackEvent[];
  fires(pollerId?: string): FireEvent[];
  waitFor<T extends LocalStackEvent>(
    predicate: (event: LocalStackEvent) => event is T,
    timeoutMs: number,
  ): Promise<T>;
  waitFor(predicate: (event: LocalStackEvent) => boolean, timeoutMs: number): Promise<LocalStackEvent>;
  waitForFires(count: number, timeoutMs: number, pollerId?: string): Promise<FireEvent[]>;
  setFields(fields: Record<string, AttributeValue>, pollerId?: string): Promise<void>;
  readItem(pollerId?: string): Promise<RawItem | undefined>;
  /**
   * The shard rounds the local Lambda ended at their timeout (a sandbox starved by the suite's load can overrun its
   * hand-back margin): when each ran, as the Lambda service saw it.
   */
  readonly roundsTimedOut: readonly TimedOutRound[];
}

export interface TimedOutRound {
  readonly startedAtMs: number;
  readonly endedAtMs: number;
}

/** A shard round's input names its shard's key (`~shard/s0`); the control plane's events do not. */
const isShardRound = (event: unknown) => JSON.stringify(event ?? null).includes('"~shard/');

export async function startHarness(options: LocalStackOptions = {}): Promise<Harness> {
  const events: LocalStackEvent[] = [];
  const roundsTimedOut: TimedOutRound[] = [];
  const waiters = new Set<() => void>();
  const stack = await startLocalStack({
    port: 0,
    ...options,
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
      for (const wake of [...waiters]) wake();
    },
    onInvocationEnd: (end) => {
      options.onInvocationEnd?.(end);
      const timedOut = 'error' in end.outcome && end.outcome.error.errorType === 'Sandbox.Timedout';
      if (end.functionName !== LOCAL_CONTROLLER_NAME || !timedOut || !isShardRound(end.event)) return;
      const endedAtMs = Date.now();
      roundsTimedOut.push({ startedAtMs: endedAtMs - end.durationMs, endedAtMs });
    },
  });

  const waitFor = (predicate: (event: LocalStackEvent) => boolean, timeoutMs: number) =>
    new Promise<LocalStackEvent>((resolve, reject) => {
      const giveUpAfterMs = timeoutMs * WAIT_PATIENCE;
      const check = () => {
        const found = events.find(predicate);
        if (!found) return;
        cleanup();
        resolve(found);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `no matching event within ${giveUpAfterMs} ms (${timeoutMs} ms × ${WAIT_PATIENCE}); saw: ${JSON.stringify(events.slice(-8))}`,
          ),
        );
      }, giveUpAfterMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const fires = (pollerId = DEFAULT_POLLER_ID) =>
    events.filter((event): event is FireEvent => event.event === 'fire' && event.poller === pollerId);

  return {
    stack,
    events,
    fires,
    roundsTimedOut,
    waitFor: waitFor as Harness['waitFor'],
    async waitForFires(count, timeoutMs, pollerId = DEFAULT_POLLER_ID) {
      await waitFor(() => fires(pollerId).length >= count, timeoutMs);
      return fires(pollerId);
    },
    async setFields(fields, pollerId = DEFAULT_POLLER_ID) {
      const names = Object.fromEntries(Object.keys(fields).map((name, index) => [`#f${index}`, name]));
      const values = Object.fromEntries(Object.values(fields).map((value, index) => [`:v${index}`, value]));
      await stack.dynamoDb.send(
        new UpdateItemCommand({
          TableName: stack.tableName,
          Key: { [FIELD.id]: { S: pollerId } },
          UpdateExpression: `SET ${Object.keys(fields)
            .map((_, index) => `#f${index} = :v${index}`)
            .join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    },
    async readItem(pollerId = DEFAULT_POLLER_ID) {
      const result = await stack.dynamoDb.send(
        new GetItemCommand({
          TableName: stack.tableName,
          Key: { [FIELD.id]: { S: pollerId } },
          ConsistentRead: true,
        }),
      );
      return result.Item;
    },
  };
}

/** Gaps between consecutive scheduled times, in ms. */
export function scheduleGaps(fires: readonly FireEvent[]): number[] {
  return fires
    .slice(1)
    .map((fire, index) => Date.parse(fire.scheduledAt) - Date.parse(fires[index]?.scheduledAt ?? ''));
}
