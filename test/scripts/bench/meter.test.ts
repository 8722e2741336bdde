import { describe, expect, it } from 'vitest';
import { BenchMeter, stateMachineNameOf } from '../../../scripts/bench/meter';

const meter = () =>
  new BenchMeter({
    stateMachines: { ours: 'OursMachine', recipe: 'RecipeMachine' },
    controllers: { ours: 'ours-controller', recipe: 'recipe-controller' },
    workerName: 'worker',
    controllerSize: { memoryMb: 128, architecture: 'arm64' },
  });

const arn = (machine: string) => `arn:aws:states:us-east-1:000000000000:execution:${machine}:run-1`;

describe('BenchMeter', () => {
  it('attributes history events by state machine and counts a transition per StateEntered', () => {
    const subject = meter();
    subject.historyEvent(arn('OursMachine'), 'ExecutionStarted', undefined);
    subject.historyEvent(arn('OursMachine'), 'StateEntered', 'RunController');
    subject.historyEvent(arn('OursMachine'), 'StateExited', 'RunController');
    subject.historyEvent(arn('RecipeMachine'), 'StateEntered', 'RecipeController');

    const { designs } = subject.read();
    expect(designs.ours).toMatchObject({
      historyEvents: 3,
      stateTransitions: 1,
      transitionsByState: { RunController: 1 },
    });
    expect(designs.recipe).toMatchObject({ historyEvents: 1, stateTransitions: 1 });
  });

  it('bills controller duration per started ms at the controller size, and keeps the worker apart', () => {
    const subject = meter();
    subject.lambdaInvocation('ours-controller', 'RequestResponse', 1_999.2);
    subject.lambdaInvocation('worker', 'Event', 3);

    const reading = subject.read();
    expect(reading.designs.ours.controllerGbSeconds).toBeCloseTo(2 * 0.125, 12);
    expect(reading.designs.ours.controllerInvocations).toBe(1);
    expect(reading.workerInvocations).toBe(1);
  });

  it('gives ours the DynamoDB requests no owned client claimed, and excludes Scan', () => {
    const subject = meter();
    for (const operation of ['GetItem', 'GetItem', 'UpdateItem', 'Scan']) subject.dynamoDbRequest(operation);

    const reading = subject.read();
    expect(reading.designs.ours).toMatchObject({ readUnits: 2, writeUnits: 1 });
    expect(reading.excludedDynamoDbRequests).toEqual({ Scan: 1 });
  });

  it('starts a new window on reset', () => {
    const subject = meter();
    subject.dynamoDbRequest('UpdateItem');
    subject.reset();
    expect(subject.read().designs.ours.writeUnits).toBe(0);
  });
});

describe('stateMachineNameOf', () => {
  it('reads the state machine name from an execution ARN', () => {
    expect(stateMachineNameOf(arn('OursMachine'))).toBe('OursMachine');
  });
});
