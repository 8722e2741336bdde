import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { shouldStart } from '../../functions/starter/on-item-changes';
import { START_FILTERS } from '../../infra/constructs/control-plane-triggers';
import { parseFilterPattern, passesAnyFilter } from '../../scripts/local-stack/event-filter';

const patterns = START_FILTERS.map((filter) => parseFilterPattern(String(filter.pattern)));
const passes = (record: unknown) => passesAnyFilter(patterns, record);

type Image = Record<string, AttributeValue> | undefined;
/** Items with a loop (a generation) and no recorded stop, unless the name says otherwise. */
const LOOP = { generation: { N: '3' } };
const RUNNING_VALUES: Record<string, Image> = {
  'running true': { id: { S: 'p' }, running: { BOOL: true }, ...LOOP },
  'running false': { id: { S: 'p' }, running: { BOOL: false }, ...LOOP },
  'no running': { id: { S: 'p' }, ...LOOP },
  'running "true" (a string)': { id: { S: 'p' }, running: { S: 'true' }, ...LOOP },
  'running true, never started': { id: { S: 'p' }, running: { BOOL: true } },
  'running true, loop stopped': {
    id: { S: 'p' },
    running: { BOOL: true },
    ...LOOP,
    stoppedReason: { S: 'control item invalid' },
  },
};

function record(eventName: string, oldImage: Image, newImage: Image) {
  return {
    eventName,
    eventSource: 'aws:dynamodb',
    dynamodb: {
      Keys: { id: { S: 'p' } },
      ...(oldImage ? { OldImage: oldImage } : {}),
      ...(newImage ? { NewImage: newImage } : {}),
    },
  };
}

const cases: [string, ReturnType<typeof record>][] = [
  ...Object.entries(RUNNING_VALUES).map(([name, image]): [string, ReturnType<typeof record>] => [
    `INSERT with ${name}`,
    record('INSERT', undefined, image),
  ]),
  ...Object.entries(RUNNING_VALUES).flatMap(([before, oldImage]) =>
    Object.entries(RUNNING_VALUES).map(([after, newImage]): [string, ReturnType<typeof record>] => [
      `MODIFY from ${before} to ${after}`,
      record('MODIFY', oldImage, newImage),
    ]),
  ),
  ...Object.entries(RUNNING_VALUES).map(([name, image]): [string, ReturnType<typeof record>] => [
    `REMOVE of an item with ${name}`,
    record('REMOVE', image, undefined),
  ]),
];

describe('the stream filters that start loops', () => {
  it.each(cases)('agree with the starter on %s', (_, change) => {
    // act
    const passed = passes(change);

    // assess
    expect(passed).toBe(shouldStart(change.dynamodb.OldImage, change.dynamodb.NewImage));
  });

  it('pass an item created running, one switched on, and changes of a running item without a live loop', () => {
    // act
    const passed = cases.filter(([, change]) => passes(change)).map(([name]) => name);

    // assess
    expect(passed).toEqual([
      'INSERT with running true',
      'INSERT with running true, never started',
      'INSERT with running true, loop stopped',
      'MODIFY from running true to running true, never started',
      'MODIFY from running true to running true, loop stopped',
      'MODIFY from running false to running true',
      'MODIFY from running false to running true, never started',
      'MODIFY from running false to running true, loop stopped',
      'MODIFY from no running to running true',
      'MODIFY from no running to running true, never started',
      'MODIFY from no running to running true, loop stopped',
      'MODIFY from running "true" (a string) to running true',
      'MODIFY from running "true" (a string) to running true, never started',
      'MODIFY from running "true" (a string) to running true, loop stopped',
      'MODIFY from running true, never started to running true, never started',
      'MODIFY from running true, never started to running true, loop stopped',
      'MODIFY from running true, loop stopped to running true, never started',
      'MODIFY from running true, loop stopped to running true, loop stopped',
    ]);
  });
});
