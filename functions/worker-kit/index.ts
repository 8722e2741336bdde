/**
 * The worker kit: what a worker function needs to be fired by the sub-minute executor. Wrap the work with
 * `tickHandler` and export the result as the Lambda handler:
 *
 *   export const handler = tickHandler(async (tick) => {
 *     await process(tick.payload, { idempotencyKey: tick.idempotencyKey });
 *   });
 *
 * Throw for a failed tick (a `TickFailedError` carries a short reason); see README "Tick outcomes".
 */
export { TickFailedError } from '../shared/errors';
export { OutcomeSampler } from './outcome-sampler';
export { idempotencyKeyOf, parseWorkerEvent } from './tick-event';
export {
  createTickHandler,
  type Tick,
  type TickKitDeps,
  type TickReport,
  type TickSucceeded,
  type TickWork,
  tickHandler,
} from './tick-handler';
