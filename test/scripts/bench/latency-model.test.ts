import { describe, expect, it } from 'vitest';
import {
  HARSH_FIGURES,
  mulberry32,
  SeededLatencyModel,
  scaleFigures,
} from '../../../scripts/bench/latency-model';

const draw = (model: SeededLatencyModel, count: number) =>
  Array.from({ length: count }, () => [
    model.dynamoDbRequestMs('GetItem'),
    model.asyncInvokeMs('worker'),
    model.taskStartMs('controller'),
  ]);

describe('SeededLatencyModel', () => {
  it('repeats the same draws for the same seed', () => {
    expect(draw(new SeededLatencyModel(42), 50)).toEqual(draw(new SeededLatencyModel(42), 50));
  });

  it('draws differently for another seed', () => {
    expect(draw(new SeededLatencyModel(42), 20)).not.toEqual(draw(new SeededLatencyModel(43), 20));
  });

  it('stays within each documented range', () => {
    const model = new SeededLatencyModel(7);
    for (let i = 0; i < 1_000; i += 1) {
      const dynamoDb = model.dynamoDbRequestMs('UpdateItem');
      const invoke = model.asyncInvokeMs('worker');
      expect(dynamoDb).toBeGreaterThanOrEqual(5);
      expect(dynamoDb).toBeLessThan(15);
      expect(invoke).toBeGreaterThanOrEqual(10);
      expect(invoke).toBeLessThan(40);
    }
  });

  it('adds the cold start to the 1st, 101st, 201st invocation of each controller only', () => {
    const model = new SeededLatencyModel(3);
    const starts = Array.from({ length: 201 }, () => model.taskStartMs('controller'));
    const cold = starts.flatMap((ms, index) => (ms >= 300 ? [index] : []));
    expect(cold).toEqual([0, 100, 200]);
    for (const ms of starts) expect(ms % 300).toBeGreaterThanOrEqual(20);
    expect(model.taskStartMs('other-controller')).toBeGreaterThanOrEqual(320);
  });

  it('adds nothing when scaled to zero', () => {
    const model = new SeededLatencyModel(1, scaleFigures(HARSH_FIGURES, 0));
    expect(
      draw(model, 5)
        .flat()
        .every((ms) => ms === 0),
    ).toBe(true);
  });

  it('reports the p99 of its invoke range', () => {
    expect(new SeededLatencyModel(1).asyncInvokeP99Ms()).toBeCloseTo(39.7, 6);
  });
});

describe('mulberry32', () => {
  it('returns floats in [0, 1)', () => {
    const random = mulberry32(0);
    for (let i = 0; i < 1_000; i += 1) {
      const value = random();
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
  });
});
