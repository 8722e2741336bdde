import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BASE91_ALPHABET, bundleFunction, bundleSource, packSource } from '../../infra/bundle-function';
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

    // The same answer but for the timing the worker kit measures (run to run, it differs by a millisecond).
    const timingFree = (answer: unknown) => ({ ...(answer as object), at: 'at', durationMs: 0 });
    expect(timingFree(await handler(tick))).toEqual(timingFree(await plain(tick)));
  });

  it('packs in 91 characters that need no escaping between single quotes or in YAML', () => {
    expect(BASE91_ALPHABET).toHaveLength(91);
    expect(new Set(BASE91_ALPHABET).size).toBe(91);
    expect(BASE91_ALPHABET).not.toMatch(/['"\\\s]/);
  });

  it('gives back exactly the source it packed, whatever its bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 3_000 }), (text) => {
        const loaded = loadInline(packSource(`module.exports.handler=()=>${JSON.stringify(text)};`)) as {
          handler: () => string;
        };
        expect(loaded.handler()).toBe(text);
      }),
      { numRuns: 60 },
    );
  });

  // Method names survive minification (only local names are mangled), so they show which writes a bundle carries.
  it.each([
    {
      entry: 'controlPlane',
      carries: ['writeSeed', 'scanEveryImage', 'takeGeneration', 'recordRound', 'recordError'],
      leavesOut: ['switchOn', 'createPoller', 'editOperatorFields', 'deletePoller'],
    },
    {
      entry: 'fleetControlPlane',
      carries: ['writeSeed', 'scanEveryImage', 'switchOffIfRunning', 'takeLease', 'writePoller'],
      leavesOut: ['takeGeneration', 'recordRound', 'recordError', 'switchOn', 'createPoller', 'deletePoller'],
    },
  ] as const)(
    '$entry: carries the control table writes it makes and no other',
    ({ entry, carries, leavesOut }) => {
      const source = bundleSource(HANDLER_ENTRY[entry]);

      for (const method of carries) expect(source, method).toContain(`${method}(`);
      for (const method of leavesOut) expect(source, method).not.toContain(`${method}(`);
    },
  );

  it('is less than half the size of the plain bundle for the control plane', () => {
    const packed = bundleFunction(HANDLER_ENTRY.controlPlane).length;
    const plain = bundleSource(HANDLER_ENTRY.controlPlane).length;

    expect(packed).toBeLessThan(plain * 0.45);
  });
});
