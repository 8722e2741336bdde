import type { AsyncInvokeConfig } from './local-functions';
import type { LocalQueues } from './local-queues';

/** How the stack's worker retries a failed tick, with no destination yet: what the CDK stack configures. */
export type WorkerRetryPolicy = Omit<AsyncInvokeConfig, 'onFailure'>;

/**
 * The worker's retry settings from the one place infra defines them (infra/constructs/poller-functions.ts
 * WORKER_ASYNC_RETRY), loaded on demand: aws-cdk-lib is heavy.
 */
export async function loadWorkerRetryPolicy(): Promise<WorkerRetryPolicy> {
  const { WORKER_ASYNC_RETRY } = await import('../../infra/constructs/poller-functions');
  return {
    retryAttempts: WORKER_ASYNC_RETRY.retryAttempts,
    maxEventAgeMs: WORKER_ASYNC_RETRY.maxEventAge.toMilliseconds(),
  };
}

/** An on-failure destination that sends each record, as JSON, to a local queue, as Lambda's SqsDestination does. */
export const queueDestination =
  (queues: LocalQueues, queueName: string) =>
  (record: unknown): void => {
    queues.send(queueName, JSON.stringify(record));
  };
