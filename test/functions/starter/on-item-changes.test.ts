import { describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { shouldStart } from '../../../functions/starter/on-item-changes';

const withRunning = (running: boolean | undefined) => ({
  [FIELD.id]: { S: 'orders' },
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

  it('does nothing for changes that keep running=true (the controller writing its progress)', () => {
    expect(shouldStart(withRunning(true), withRunning(true))).toBe(false);
  });

  it('does nothing for a stop, a removal or a running flag that is not a boolean', () => {
    expect(shouldStart(withRunning(true), withRunning(false))).toBe(false);
    expect(shouldStart(withRunning(true), undefined)).toBe(false);
    expect(
      shouldStart(withRunning(false), { ...withRunning(undefined), [FIELD.running]: { S: 'true' } }),
    ).toBe(false);
  });
});
