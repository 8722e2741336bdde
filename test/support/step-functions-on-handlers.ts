import { LOCAL_REGION } from '../../functions/shared/aws-clients';
import { localFunctionArn } from '../../scripts/local-stack/local-endpoints';
import { LocalFunctions, type LocalHandler } from '../../scripts/local-stack/local-functions';
import { LocalServicesServer } from '../../scripts/local-stack/local-services-server';
import { type ExecutionEnded, LocalStepFunctions } from '../../scripts/local-stack/local-step-functions';

/** A definition run by LocalStepFunctions, its Lambda Tasks served by in-process handlers through the real endpoint. */
export interface StepFunctionsOnHandlers {
  readonly stepFunctions: LocalStepFunctions;
  /** Starts an execution named `name`; resolves with how it ended. */
  run(name: string): Promise<ExecutionEnded>;
  close(): Promise<void>;
}

/** The ARN a Task's Resource names for the handler registered as `name`. */
export const handlerArn = (name: string) => localFunctionArn(name, LOCAL_REGION);

export async function startStepFunctionsOnHandlers(
  definition: unknown,
  handlers: Readonly<Record<string, LocalHandler>>,
): Promise<StepFunctionsOnHandlers> {
  const functions = new LocalFunctions();
  for (const [name, handler] of Object.entries(handlers)) functions.register(name, handler);
  const ended = new Map<string, PromiseWithResolvers<ExecutionEnded>>();
  let stepFunctions: LocalStepFunctions | undefined;
  const services = new LocalServicesServer(
    functions,
    () => {
      if (stepFunctions === undefined) throw new Error('Step Functions is starting');
      return stepFunctions;
    },
    () => {},
  );
  const port = await services.listen('127.0.0.1', 0);
  const started = new LocalStepFunctions({
    region: LOCAL_REGION,
    controllerArn: handlerArn(Object.keys(handlers)[0] ?? 'none'),
    lambdaEndpoint: `http://127.0.0.1:${port}`,
    definition: JSON.stringify(definition),
    onExecutionEnded: (end) => ended.get(end.execution.name)?.resolve(end),
  });
  stepFunctions = started;
  return {
    stepFunctions: started,
    run(name) {
      const end = Promise.withResolvers<ExecutionEnded>();
      ended.set(name, end);
      started.startExecution({ stateMachineArn: started.stateMachineArn, name });
      return end.promise;
    },
    async close() {
      await started.shutdown();
      await services.close();
    },
  };
}
