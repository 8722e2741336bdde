import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { bundleFunction, INLINE_HANDLER } from '../bundle-function';

export interface InlineFunctionProps {
  /** Path of the handler module, bundled into the template as inline code. */
  readonly entry: string;
  readonly timeout: Duration;
  readonly description: string;
  /** @default - no environment variables */
  readonly environment?: Record<string, string>;
  /** A number or a parameter's token. @default FUNCTION_DEFAULTS.memorySize */
  readonly memorySize?: number;
  /** @default FUNCTION_DEFAULTS.logRetention */
  readonly logRetention?: logs.RetentionDays;
}

/** Every function of the stack: small, arm64, inline code, and a log group that is retained a month. */
export const FUNCTION_DEFAULTS = {
  runtime: lambda.Runtime.NODEJS_24_X,
  architecture: lambda.Architecture.ARM_64,
  memorySize: 128,
  logRetention: logs.RetentionDays.ONE_MONTH,
} as const;

/**
 * A Lambda function whose bundled code sits in the template (CloudFormation ZipFile): no asset, no bucket, no
 * bootstrap. Its log group is explicit so retention needs no custom resource (the `logRetention` prop adds one),
 * and its role may write to that log group only (AWSLambdaBasicExecutionRole would allow every log group).
 */
export class InlineFunction extends Construct {
  readonly function: lambda.Function;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: InlineFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? FUNCTION_DEFAULTS.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.logGroup.grantWrite(role);
    this.function = new lambda.Function(this, 'Function', {
      role,
      code: lambda.Code.fromInline(bundleFunction(props.entry)),
      handler: INLINE_HANDLER,
      runtime: FUNCTION_DEFAULTS.runtime,
      architecture: FUNCTION_DEFAULTS.architecture,
      memorySize: props.memorySize ?? FUNCTION_DEFAULTS.memorySize,
      timeout: props.timeout,
      description: props.description,
      environment: props.environment,
      logGroup: this.logGroup,
    });
  }
}
