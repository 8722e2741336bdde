/**
 * The package's entry for CDK apps of your own (package.json "exports"): the scheduler construct and what its
 * props and grants name. See examples/cdk-app/ for a whole app.
 */
export {
  type FleetProps,
  type PollerDeclaration,
  READ_EXECUTION_ACTIONS,
  READ_POLLER_ACTIONS,
  STEER_POLLER_ACTIONS,
  SubMinuteScheduler,
  type SubMinuteSchedulerProps,
  TRIGGER_INVOKE_ACTIONS,
  TRIGGER_POLLER_ACTIONS,
} from './sub-minute-scheduler';
