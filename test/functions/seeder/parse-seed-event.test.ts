import { describe, expect, it } from 'vitest';
import { parseSeedEvent } from '../../../functions/seeder/seed-control-item';
import { InvalidSeedEventError } from '../../../functions/shared/errors';

const request = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  RequestType: 'Update',
  ResponseURL: 'https://cloudformation-custom-resource-response.example/presigned',
  StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/SubMinute/1',
  RequestId: 'req-1',
  LogicalResourceId: 'ControlItemSeed',
  PhysicalResourceId: 'table/default',
  ResourceProperties: { PollerId: 'default' },
  OldResourceProperties: { PollerId: 'old' },
  ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:control-plane',
  ...overrides,
});

function refusal(value: unknown): InvalidSeedEventError {
  try {
    parseSeedEvent(value);
  } catch (error) {
    if (error instanceof InvalidSeedEventError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(value)}`);
}

describe('parseSeedEvent', () => {
  it('decodes the fields the seeder uses, and leaves the properties to parseSeedProperties', () => {
    expect(parseSeedEvent(request())).toEqual({
      RequestType: 'Update',
      ResponseURL: 'https://cloudformation-custom-resource-response.example/presigned',
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/SubMinute/1',
      RequestId: 'req-1',
      LogicalResourceId: 'ControlItemSeed',
      PhysicalResourceId: 'table/default',
      ResourceProperties: { PollerId: 'default' },
      OldResourceProperties: { PollerId: 'old' },
    });
  });

  it.each([
    { label: 'missing (a Create has none yet)', value: undefined },
    { label: 'a number', value: 7 },
  ])('reads a PhysicalResourceId that is $label as absent', ({ value }) => {
    expect(parseSeedEvent(request({ PhysicalResourceId: value })).PhysicalResourceId).toBeUndefined();
  });

  it.each([
    {
      label: 'not an object',
      value: 'Create',
      message: 'the event is not a custom resource request; got "Create"',
    },
    { label: 'null', value: null, message: 'the event is not a custom resource request; got null' },
    {
      label: 'no RequestType',
      value: request({ RequestType: undefined }),
      message: 'RequestType must be Create, Update or Delete; got undefined',
    },
    {
      label: 'an unknown RequestType',
      value: request({ RequestType: 'Replace' }),
      message: 'RequestType must be Create, Update or Delete; got "Replace"',
    },
    ...['ResponseURL', 'StackId', 'RequestId', 'LogicalResourceId'].flatMap((field) => [
      {
        label: `no ${field}`,
        value: request({ [field]: undefined }),
        message: `${field} must be a non-empty string; got undefined`,
      },
      {
        label: `an empty ${field}`,
        value: request({ [field]: '' }),
        message: `${field} must be a non-empty string; got ""`,
      },
      {
        label: `a numeric ${field}`,
        value: request({ [field]: 5 }),
        message: `${field} must be a non-empty string; got 5`,
      },
    ]),
  ])('refuses an event with $label, saying what was wrong and what it got', ({ value, message }) => {
    // act
    const error = refusal(value);

    // assess
    expect(error.name).toBe('InvalidSeedEventError');
    expect(error.message).toBe(message);
  });
});
