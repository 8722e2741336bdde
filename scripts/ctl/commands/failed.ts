import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { createLambdaClient } from '../../../functions/shared/aws-clients';
import { describeCause } from '../../../functions/shared/errors';
import { CtlError } from '../errors';
import {
  decodeFailedDelivery,
  type FailedDelivery,
  type FailedTick,
  unqualifiedFunction,
} from '../failed-delivery';
import { FailedTicksQueue, type HeldMessage } from '../failed-ticks-queue';
import { awsCall, type CtlSession } from '../session';
import { createSqsClient } from '../sqs-client';
import type { FailedTicksTarget } from '../target';

/** The most messages one `failed list` or `failed replay` reads (100 receives); the rest wait for the next run. */
export const FAILED_READ_LIMIT = 1_000;
/**
 * How long a read hides the messages from other readers: enough to receive them all (100 receives) and list them,
 * or to decide what to replay. They are released (or deleted) as soon as the CLI is done.
 */
const LIST_HOLD_SECONDS = 60;
const REPLAY_READ_HOLD_SECONDS = 300;
/**
 * A replay hides each message again for this long just before its invoke, so however long the run (throttled
 * invokes retried by the SDK), a message is never visible while its tick is being fired: one whose read hold ran
 * out before its turn is skipped, not fired (another run may hold it). It covers an invoke with the SDK's retries
 * and the delete after it.
 */
const REPLAY_INVOKE_HOLD_SECONDS = 120;

/** One message of the queue as `failed list` shows it (and `--json` prints). */
export type FailedEntry = { readonly messageId: string; readonly sentAt: string | null } & FailedDelivery;

export interface FailedListReport {
  readonly command: 'failed-list';
  readonly queueUrl: string;
  readonly entries: readonly FailedEntry[];
  /** More messages wait than one run reads (FAILED_READ_LIMIT). */
  readonly more: boolean;
}

export interface ReplayOutcome {
  readonly messageId: string;
  readonly pollerId: string;
  readonly seq: number;
  readonly functionArn: string;
  /** Accepted by Lambda (202) and deleted from the queue; otherwise `error` says why, and the message stays. */
  readonly ok: boolean;
  /**
   * Lambda accepted the invoke: true with `ok` false when the delete failed after it, so the message stays (held
   * until its visibility timeout ends) and a later replay fires the tick again: replay is at least once.
   */
  readonly replayed: boolean;
  readonly error?: string;
}

export interface FailedReplayReport {
  readonly command: 'failed-replay';
  readonly queueUrl: string;
  readonly pollerId: string | null;
  readonly outcomes: readonly ReplayOutcome[];
  /** Messages left in the queue untouched: other pollers' ticks, failed starts, unreadable ones. */
  readonly leftInQueue: number;
}

/** What a replayed tick carries besides the original event: the invocation Lambda gave up on. */
export interface ReplayMarker {
  readonly replayOf: string;
}

/** Lists the failed-ticks queue, decoded, one entry per message; deletes nothing. */
export async function failedList(session: CtlSession): Promise<FailedListReport> {
  const target = failedTicksTarget(session);
  const sqs = createSqsClient(target.sqs);
  try {
    const queue = new FailedTicksQueue(sqs, target.queueUrl);
    const { messages, more } = await readQueue(session, queue, LIST_HOLD_SECONDS);
    await awsCall(session, `releasing the messages read from ${target.queueUrl}`, () =>
      queue.release(messages),
    );
    return {
      command: 'failed-list',
      queueUrl: target.queueUrl,
      entries: messages.map(entryOf),
      more,
    };
  } finally {
    sqs.destroy();
  }
}

/**
 * Fires each failed tick (of one poller, or of all) again at the function its record names, asynchronously as
 * the controller does, with the original event plus `replayOf`; deletes a message only once Lambda accepted its
 * invoke. More than one tick to replay needs `yes`. Everything else it read is released untouched. At least once:
 * a tick whose delete fails after Lambda accepted it is reported, its message stays, and a later replay fires it
 * again (workers dedupe on pollerId + seq, the worker kit's idempotency key).
 */
export async function failedReplay(
  session: CtlSession,
  options: { readonly pollerId?: string | undefined; readonly yes: boolean },
): Promise<FailedReplayReport> {
  const target = failedTicksTarget(session);
  const sqs = createSqsClient(target.sqs);
  const lambda = createLambdaClient(target.lambda);
  const queue = new FailedTicksQueue(sqs, target.queueUrl);
  let unhandled: HeldMessage[] = [];
  try {
    const { messages } = await readQueue(session, queue, REPLAY_READ_HOLD_SECONDS);
    unhandled = messages;
    const chosen = messages.flatMap((message) => {
      const delivery = decodeFailedDelivery(message.body);
      const wanted =
        delivery.kind === 'tick' &&
        (options.pollerId === undefined || delivery.tick.pollerId === options.pollerId);
      return wanted ? [{ message, delivery }] : [];
    });
    if (chosen.length > 1 && !options.yes) {
      throw new CtlError(
        `${chosen.length} failed ticks would be fired again${options.pollerId === undefined ? ' (all pollers)' : ` for poller '${options.pollerId}'`}; list them with \`ctl failed list\`, then repeat with --yes (or narrow with --poller ID)`,
      );
    }
    const outcomes: ReplayOutcome[] = [];
    for (const { message, delivery } of chosen) {
      const outcome = await replayOne(lambda, queue, message, delivery);
      // A replayed tick's message is not released: deleted, or (its delete failed) left held until its
      // visibility timeout ends, so it is not fired again at once by a run right after this one.
      if (outcome.replayed) unhandled = unhandled.filter((held) => held !== message);
      outcomes.push(outcome);
    }
    return {
      command: 'failed-replay',
      queueUrl: target.queueUrl,
      pollerId: options.pollerId ?? null,
      outcomes,
      leftInQueue: unhandled.length,
    };
  } finally {
    try {
      await awsCall(session, `releasing the messages read from ${target.queueUrl}`, () =>
        queue.release(unhandled),
      );
    } finally {
      sqs.destroy();
      lambda.destroy();
    }
  }
}

async function replayOne(
  lambda: LambdaClient,
  queue: FailedTicksQueue,
  message: HeldMessage,
  delivery: FailedTick,
): Promise<ReplayOutcome> {
  const functionArn = unqualifiedFunction(delivery.functionArn);
  const base = {
    messageId: message.messageId,
    pollerId: delivery.tick.pollerId,
    seq: delivery.tick.seq,
    functionArn,
  };
  const notReplayed = (error: string): ReplayOutcome => ({ ...base, ok: false, replayed: false, error });
  try {
    if ((await queue.extend(message, REPLAY_INVOKE_HOLD_SECONDS)) === 'lapsed') {
      return notReplayed(
        `not fired: its hold on the queue ran out before its turn (another reader may have it); replay it again`,
      );
    }
  } catch (error) {
    return notReplayed(`not fired: holding its message failed: ${describeCause(error)}`);
  }
  const marker: ReplayMarker = { replayOf: delivery.requestId ?? message.messageId };
  try {
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: functionArn,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify({ ...delivery.requestPayload, ...marker })),
      }),
    );
    if (answer.StatusCode !== 202) {
      return notReplayed(`Lambda answered status ${answer.StatusCode ?? 'none'}, not 202`);
    }
  } catch (error) {
    return notReplayed(describeCause(error));
  }
  // Accepted: the tick is Lambda's again (retries and destination included), so the record can go.
  try {
    await queue.delete(message);
  } catch (error) {
    return {
      ...base,
      ok: false,
      replayed: true,
      error: `deleting message ${message.messageId} failed: ${describeCause(error)}`,
    };
  }
  return { ...base, ok: true, replayed: true };
}

function readQueue(session: CtlSession, queue: FailedTicksQueue, holdSeconds: number) {
  return awsCall(session, `reading the failed-ticks queue ${queue.queueUrl}`, () =>
    queue.holdAll(holdSeconds, FAILED_READ_LIMIT),
  );
}

function failedTicksTarget(session: CtlSession): FailedTicksTarget {
  const target = session.target.failedTicks;
  if (target === undefined) {
    throw new CtlError(
      'this stack has no FailedTicksQueueUrl output (deployed before the queue had one? update it); ctl failed needs --stack NAME or --local',
    );
  }
  return target;
}

function entryOf(message: HeldMessage): FailedEntry {
  return { messageId: message.messageId, sentAt: message.sentAt, ...decodeFailedDelivery(message.body) };
}
