import { describe, expect, it } from 'vitest';
import { routeEvent } from '../../../functions/control-plane/route-event';

describe('routeEvent', () => {
  it('routes a CloudFormation custom resource request to the seeder', () => {
    const event = {
      RequestType: 'Create',
      ResponseURL: 'https://example.com/presigned',
      ResourceProperties: {},
    };

    expect(routeEvent(event)).toBe('seed');
  });

  it('routes a DynamoDB stream batch to the starter', () => {
    const event = { Records: [{ eventSource: 'aws:dynamodb', eventName: 'MODIFY', dynamodb: {} }] };

    expect(routeEvent(event)).toBe('start');
  });

  it('routes the scheduled EventBridge event to the watchdog', () => {
    const event = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };

    expect(routeEvent(event)).toBe('watchdog');
  });

  it('routes Step Functions input (a fresh start or a previous round) to the controller', () => {
    expect(routeEvent({ state: { pollerId: 'orders' }, executionId: 'arn:…' })).toBe('round');
    expect(routeEvent({})).toBe('round');
    expect(routeEvent(null)).toBe('round');
  });

  it('does not mistake look-alikes: records from another source, or a stray source field', () => {
    expect(routeEvent({ Records: [{ eventSource: 'aws:sqs' }] })).toBe('round');
    expect(routeEvent({ state: { pollerId: 'x' }, source: 'aws.events' })).toBe('round');
    expect(routeEvent({ RequestType: 'Create' })).toBe('round');
  });
});
