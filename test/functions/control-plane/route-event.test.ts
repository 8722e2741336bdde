import { describe, expect, it } from 'vitest';
import { routeEvent } from '../../../functions/control-plane/route-event';

describe('routeEvent', () => {
  it('routes a CloudFormation custom resource request to the seeder', () => {
    const event = {
      RequestType: 'Create',
      ResponseURL: 'https://example.com/presigned',
      ResourceProperties: {},
    };

    expect(routeEvent(event).kind).toBe('seed');
  });

  it('routes a DynamoDB stream batch to the starter', () => {
    const event = { Records: [{ eventSource: 'aws:dynamodb', eventName: 'MODIFY', dynamodb: {} }] };

    expect(routeEvent(event).kind).toBe('start');
  });

  it('routes the scheduled EventBridge event to the watchdog', () => {
    const event = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };

    expect(routeEvent(event).kind).toBe('watchdog');
  });

  it('routes Step Functions input (a fresh start or a previous round) to the controller', () => {
    expect(routeEvent({ state: { pollerId: 'orders' }, executionId: 'arn:…' }).kind).toBe('round');
    expect(routeEvent({}).kind).toBe('round');
    expect(routeEvent(null).kind).toBe('round');
  });

  it('does not mistake look-alikes: records from another source, or a stray source field', () => {
    expect(routeEvent({ Records: [{ eventSource: 'aws:sqs' }] }).kind).toBe('round');
    expect(routeEvent({ state: { pollerId: 'x' }, source: 'aws.events' }).kind).toBe('round');
    expect(routeEvent({ RequestType: 'Create' }).kind).toBe('round');
  });
});

describe('routeEvent: the decoded event each entry point takes', () => {
  it('hands the starter the decoded stream records', () => {
    // prepare
    const keys = { id: { S: 'orders' } };
    const event = {
      Records: [
        { eventSource: 'aws:dynamodb', eventName: 'INSERT', dynamodb: { Keys: keys, SequenceNumber: '7' } },
        { eventSource: 'aws:dynamodb', eventName: 'MODIFY', dynamodb: 'not a change' },
      ],
    };

    // act
    const routed = routeEvent(event);

    // assess
    expect(routed).toEqual({
      kind: 'start',
      records: [
        { eventName: 'INSERT', dynamodb: { Keys: keys, SequenceNumber: '7' } },
        { eventName: 'MODIFY', dynamodb: undefined },
      ],
    });
  });

  it('hands the seeder the request as it came (the seeder decodes it, to answer CloudFormation)', () => {
    const event = { RequestType: 'Delete', ResponseURL: 'https://example.com/presigned', StackId: 's' };

    expect(routeEvent(event)).toEqual({ kind: 'seed', request: event });
  });

  it('hands a round its input as it came (the round decodes it, to stop cleanly on a bad one)', () => {
    const input = { state: { pollerId: 'orders' }, executionId: 'arn:…' };

    expect(routeEvent(input)).toEqual({ kind: 'round', input });
    expect(routeEvent('text')).toEqual({ kind: 'round', input: 'text' });
  });

  it('routes an empty stream batch to the starter, with nothing to start', () => {
    expect(routeEvent({ Records: [] })).toEqual({ kind: 'start', records: [] });
  });
});
