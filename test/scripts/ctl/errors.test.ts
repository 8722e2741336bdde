import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { AwsCallError, CtlError, errorLine, exitCodeFor, UsageError } from '../../../scripts/ctl/errors';

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' });

describe('AwsCallError', () => {
  it('names the action and the AWS error name and message', () => {
    const cause = new DynamoDBServiceException({
      name: 'ResourceNotFoundException',
      $fault: 'client',
      $metadata: {},
      message: 'Requested resource not found',
    });

    const error = new AwsCallError("reading poller 'default' from table T", cause, 'is `npm start` running?');

    expect(error.message).toBe(
      "reading poller 'default' from table T failed: ResourceNotFoundException: Requested resource not found",
    );
  });

  it('adds the connection hint to a refused connection', () => {
    const error = new AwsCallError('reading', refused(), 'is `npm start` running?');

    expect(error.message).toBe(
      'reading failed: connect ECONNREFUSED 127.0.0.1:8000 (is `npm start` running?)',
    );
  });

  it('finds a refused connection inside an AggregateError (several addresses tried)', () => {
    const error = new AwsCallError('reading', new AggregateError([refused()], ''), 'hint');

    expect(error.message).toBe('reading failed: connect ECONNREFUSED 127.0.0.1:8000 (hint)');
  });

  it('says how to fix missing credentials', () => {
    const cause = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });

    const error = new AwsCallError('reading the outputs of stack S', cause);

    expect(error.message).toMatch(
      /^reading the outputs of stack S failed: CredentialsProviderError: Could not load credentials from any providers \(configure AWS credentials: /,
    );
  });

  it('says how to fix a missing region', () => {
    const error = new AwsCallError('reading', new Error('Region is missing'));

    expect(error.message).toBe('reading failed: Region is missing (give --region R or set AWS_REGION)');
  });
});

describe('errorLine and exitCodeFor', () => {
  it('turn any error into one line prefixed with ctl:', () => {
    expect(errorLine(new CtlError('first\n  second'))).toBe('ctl: first second');
    expect(errorLine(new TypeError('unexpected'))).toBe('ctl: TypeError: unexpected');
  });

  it('exit 2 for usage errors and 1 for everything else', () => {
    expect(exitCodeFor(new UsageError('bad'))).toBe(2);
    expect(exitCodeFor(new CtlError('failed'))).toBe(1);
    expect(exitCodeFor(new Error('unexpected'))).toBe(1);
  });
});
