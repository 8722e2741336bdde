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
 * Bundles one handler entry (e.g. functions/control-plane/handler.ts) into a single minified CommonJS file for
 * `Code.fromInline` (CloudFormation's ZipFile). Deterministic: the same sources give the same bytes, so the
 * committed template only changes when the code does.
 */
export function bundleFunction(entryPoint: string): string {
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
