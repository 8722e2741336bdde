import { deflateRawSync } from 'node:zlib';
import { buildSync } from 'esbuild';

/**
 * The Lambda runtime the bundles target. The nodejs24.x runtime ships the AWS SDK v3, so it stays out of the
 * bundle: that keeps inline code small enough for the pre-generated template.
 */
export const BUNDLE_TARGET = 'node24';

/** Node.js built-ins are always there; the SDK v3 comes with the runtime. */
const RUNTIME_PROVIDED = ['@aws-sdk/*'];

/** Inline code is 'index.js' in the function's package, so the handler is always 'index.handler'. */
export const INLINE_HANDLER = 'index.handler';

/**
 * The code of one function as the template inlines it (CloudFormation's ZipFile, `index.js`): the bundle,
 * compressed, behind a few bytes that inflate and load it at init. A template sent without a bucket is capped at
 * 51,200 bytes and the control plane's minified bundle alone is about two thirds of that; compressed and in
 * base64 it takes less than half. The loader compiles the bundle as a module of its own with the same lookup
 * paths, so `require('@aws-sdk/…')` resolves to the SDK the runtime ships, as it would for the plain bundle.
 * Deterministic: the same sources give the same bytes, so the committed template only changes when the code does.
 */
export function bundleFunction(entryPoint: string): string {
  const source = bundleSource(entryPoint);
  const packed = deflateRawSync(source, { level: 9 }).toString('base64');
  return [
    "const M=require('module'),Z=require('zlib');",
    `const s=Z.inflateRawSync(Buffer.from('${packed}','base64')).toString('utf8');`,
    'const m=new M(__filename,module);m.filename=__filename;m.paths=module.paths;',
    'm._compile(s,__filename);module.exports=m.exports;',
  ].join('');
}

/**
 * Bundles one handler entry (e.g. functions/control-plane/handler.ts) into a single minified CommonJS file: the
 * code `bundleFunction` packs for the template.
 */
export function bundleSource(entryPoint: string): string {
  const result = buildSync({
    entryPoints: [entryPoint],
    write: false,
    bundle: true,
    platform: 'node',
    target: BUNDLE_TARGET,
    format: 'cjs',
    minify: true,
    external: RUNTIME_PROVIDED,
    sourcemap: false,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (output === undefined || result.outputFiles.length !== 1) {
    throw new Error(
      `bundling ${entryPoint} produced ${result.outputFiles.length} files; expected exactly one`,
    );
  }
  return output.text;
}
