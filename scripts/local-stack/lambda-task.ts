import {
  InvokeCommand,
  type InvokeCommandOutput,
  type LambdaClient,
  LambdaServiceException,
} from '@aws-sdk/client-lambda';
import { SubMinuteError } from '../../functions/shared/errors';

/**
 * A Task state that invokes a Lambda function by its ARN, run the way Step Functions runs it: through the real
 * Lambda Invoke API (the local endpoint, so its fault injection applies) with one attempt per task attempt (the
 * state's Retry does the retrying), and with errors named as Step Functions names them, so Retry and Catch match
 * locally exactly what they match on AWS:
 *
 * - the function failed: Error is its `errorType` (`Lambda.Unknown` without one, as for a timeout or a crash),
 *   Cause is the error payload as JSON text;
 * - the Lambda service refused the invoke: `Lambda.<exception>` for the exceptions Lambda's API models
 *   (ServiceException, TooManyRequestsException, ResourceNotFoundException…), `Lambda.AWSLambdaException` for
 *   other service errors (AccessDeniedException), `Lambda.SdkClientException` when no answer came (connection
 *   refused or reset), `Lambda.ClientExecutionTimeoutException` when the client gave up waiting; Cause is the
 *   service's message with the Java SDK's "(Service: AWSLambda; Status Code: …)" suffix Step Functions adds.
 *
 * aws-local-stepfunctions matches Retry and Catch on the thrown error's `name` and reports its `message` as the
 * Cause, so a TaskFailure carries both.
 */
export class TaskFailure extends SubMinuteError {
  /** The error name Step Functions reports (and Retry/Catch match): the function's, or the service's. */
  override readonly name: string;

  constructor(
    readonly error: string,
    cause: string,
  ) {
    super(cause);
    this.name = error;
  }
}

export const LAMBDA_UNKNOWN_ERROR = 'Lambda.Unknown';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Invokes `functionArn` with `payload` and returns its result, or throws a TaskFailure. */
export async function invokeLambdaTask(
  lambda: LambdaClient,
  functionArn: string,
  payload: unknown,
): Promise<Json> {
  let output: InvokeCommandOutput;
  try {
    output = await lambda.send(
      new InvokeCommand({
        FunctionName: functionArn,
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
  } catch (error) {
    throw taskFailureFromInvokeError(error);
  }
  const text = output.Payload === undefined ? '' : new TextDecoder().decode(output.Payload);
  if (output.FunctionError !== undefined) throw taskFailureFromFunctionError(text);
  return text === '' ? null : (JSON.parse(text) as Json);
}

/** A function error: the name the function gave it, and its error payload as the Cause. */
export function taskFailureFromFunctionError(payloadText: string): TaskFailure {
  let errorType: unknown;
  try {
    errorType = (JSON.parse(payloadText) as { errorType?: unknown } | null)?.errorType;
  } catch {
    // Not JSON: a runtime that died before it could answer.
  }
  return new TaskFailure(
    typeof errorType === 'string' && errorType !== '' ? errorType : LAMBDA_UNKNOWN_ERROR,
    payloadText,
  );
}

/** An Invoke call that did not reach the function, named as Step Functions names it. */
export function taskFailureFromInvokeError(error: unknown): TaskFailure {
  if (error instanceof LambdaServiceException) {
    // The SDK builds a modeled exception's own class; an error code Lambda's API does not model stays the base.
    const modeled = Object.getPrototypeOf(error) !== LambdaServiceException.prototype;
    const { httpStatusCode, requestId } = error.$metadata;
    return new TaskFailure(
      modeled ? `Lambda.${error.name}` : 'Lambda.AWSLambdaException',
      `${error.message} (Service: AWSLambda; Status Code: ${httpStatusCode ?? 'null'}; Error Code: ${error.name}; Request ID: ${requestId ?? 'null'}; Proxy: null)`,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.name === 'TimeoutError') {
    return new TaskFailure(
      'Lambda.ClientExecutionTimeoutException',
      `Client execution did not complete before the specified timeout configuration: ${message}`,
    );
  }
  return new TaskFailure('Lambda.SdkClientException', `Unable to execute HTTP request: ${message}`);
}
