import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EnginesFieldError, nodeTooOldMessage, parseMinimumNode } from '../../scripts/require-node';

const MINIMUM = { major: 22, minor: 12, patch: 0 };

describe('require-node: one line instead of a later crash on a Node that is too old', () => {
  it('reads the minimum from package.json’s engines.node, the one source of it', () => {
    const manifest: unknown = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    );
    const engines =
      typeof manifest === 'object' && manifest !== null && 'engines' in manifest ? manifest.engines : null;
    const node = typeof engines === 'object' && engines !== null && 'node' in engines ? engines.node : null;

    expect(parseMinimumNode(node)).toEqual(MINIMUM);
  });

  it('says which Node is needed, which one runs, and how to get one', () => {
    expect(nodeTooOldMessage('20.20.2', MINIMUM)).toBe(
      'Node ≥ 22.12 is needed (this is 20.20.2): on Linux x64 `npm ci` installs it; elsewhere install Node 22 or later',
    );
    expect(nodeTooOldMessage('22.11.9', MINIMUM)).toContain('(this is 22.11.9)');
  });

  it.each(['22.12.0', '22.13.1', '23.0.0', '24.21.0', 'v24.1.0'])('lets Node %s run', (version) => {
    expect(nodeTooOldMessage(version, MINIMUM)).toBeUndefined();
  });

  it('compares the patch when the minimum names one', () => {
    const minimum = parseMinimumNode('>=22.12.3');

    expect(nodeTooOldMessage('22.12.2', minimum)).toContain('Node ≥ 22.12.3 is needed');
    expect(nodeTooOldMessage('22.12.3', minimum)).toBeUndefined();
  });

  it.each<[string, unknown]>([
    ['a range it cannot read', '^22.12 || >=24'],
    ['no engines.node', undefined],
    ['a number', 22],
  ])('refuses %s with the value found', (_name, engines) => {
    expect(() => parseMinimumNode(engines)).toThrow(EnginesFieldError);
    expect(() => parseMinimumNode(engines)).toThrow(`got ${JSON.stringify(engines)}`);
  });
});
