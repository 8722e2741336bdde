import { describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { shouldStart } from '../../../functions/starter/on-item-changes';

const withRunning = (running: boolean | undefined) => ({
  [FIELD.id]: { S: 'orders' },
  [FIELD.generation]: { N: '2' },
  ...(running === undefined ? {} : { [FIELD.running]: { BOOL: running } }),
});

describe('shouldStart', () => {
  it('starts a loop for an item created with running=true', () => {
    expect(shouldStart(undefined, withRunning(true))).toBe(true);
  });

  it('starts a loop when running flips from false to true', () => {
    expect(shouldStart(withRunning(false), withRunning(true))).toBe(true);
  });

  it('starts a loop when running appears as true on an item that had none', () => {
    expect(shouldStart(withRunning(undefined), withRunning(true))).toBe(true);
  });

  it('does nothing for changes that keep running=true on an item with a loop (the controller writing its progress)', () => {
    expect(shouldStart(withRunning(true), withRunning(true))).toBe(false);
  });

  it('starts on any change of a running item that never had a loop (its configuration may just have been fixed)', () => {
    const { [FIELD.generation]: _, ...neverStarted } = withRunning(true);
    expect(shouldStart(neverStarted, neverStarted)).toBe(true);
  });

  it('starts on any change of a running item whose loop recorded a stop', () => {
    const stopped = { ...withRunning(true), [FIELD.stoppedReason]: { S: 'control item invalid' } };
    expect(shouldStart(stopped, stopped)).toBe(true);
  });

  it('does nothing for a stop, a removal or a running flag that is not a boolean', () => {
    expect(shouldStart(withRunning(true), withRunning(false))).toBe(false);
    expect(shouldStart(withRunning(true), undefined)).toBe(false);
    expect(
      shouldStart(withRunning(false), { ...withRunning(undefined), [FIELD.running]: { S: 'true' } }),
    ).toBe(false);
  });
});
