import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleFunction, bundleSource } from '../../infra/bundle-function';
import { HANDLER_ENTRY } from '../../infra/constructs/poller-functions';

const require = createRequire(import.meta.url);

/**
 * Loads the code exactly as the template inlines it, as `index.js` of a package, the way Lambda's Node.js runtime
 * does (CommonJS, `@aws-sdk/*` resolved outside the bundle). The folder sits under the project's node_modules so
 * the SDK resolves here as the runtime's copy does on AWS.
 */
function loadInline(code: string): { handler?: unknown } {
  const root = join(process.cwd(), 'node_modules', '.cache', 'inline-code-test');
  mkdirSync(root, { recursive: true });
  const file = join(mkdtempSync(join(root, 'fn-')), 'index.js');
  writeFileSync(file, code);
  return require(file) as { handler?: unknown };
}

describe('the inline code of each function', () => {
  it.each(Object.entries(HANDLER_ENTRY))('%s: loads as index.js and exports its handler', (_, entry) => {
    const loaded = loadInline(bundleFunction(entry));

    expect(typeof loaded.handler).toBe('function');
  });

  it('runs the worker handler it packs, unchanged', async () => {
    type Handler = { handler: (event: unknown) => Promise<unknown> };
    const { handler } = loadInline(bundleFunction(HANDLER_ENTRY.worker)) as Handler;
    const { handler: plain } = loadInline(bundleSource(HANDLER_ENTRY.worker)) as Handler;
    const tick = { pollerId: 'p', seq: 7, scheduledAt: '2030-01-01T00:00:00.000Z' };

    expect(await handler(tick)).toEqual(await plain(tick));
  });

  it('is less than half the size of the plain bundle for the control plane', () => {
    const packed = bundleFunction(HANDLER_ENTRY.controlPlane).length;
    const plain = bundleSource(HANDLER_ENTRY.controlPlane).length;

    expect(packed).toBeLessThan(plain / 2);
  });
});
