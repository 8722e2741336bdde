import { describe, expect, it } from 'vitest';
import { OUTPUT } from '../../../infra/sub-minute-executor-stack';
import { STACK_OUTPUT } from '../../../scripts/ctl/target';

describe('the stack outputs ctl reads', () => {
  // ctl keeps the keys literal so that it does not load the CDK; this holds them to the stack's own names.
  it.each(Object.entries(STACK_OUTPUT))('%s is an output the stack declares', (_key, outputKey) => {
    expect(Object.values(OUTPUT)).toContain(outputKey);
  });
});
