import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';
import { buildSync } from 'esbuild';
import { type MinifyOptions, minify_sync } from 'terser';

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
 * compressed, behind a few bytes that decode, inflate and load it at init. A template sent without a bucket is
 * capped at 51,200 bytes and the control plane's minified bundle alone is more than that; Brotli (which the Node.js
 * runtime's zlib inflates) and basE91 text (6.5 bits a character where base64 has 6) bring it to about two fifths.
 * Decoding costs a few milliseconds of CPU once per sandbox, before the first invocation. The loader compiles the
 * bundle into its own module (`module._compile`, as Node does for any file), so `require('@aws-sdk/…')` resolves
 * to the SDK the runtime ships and the handler is exported, as for the plain bundle. Deterministic: the same
 * sources give the same bytes, so the committed template only changes when the code does.
 */
export function bundleFunction(entryPoint: string): string {
  return packSource(bundleSource(entryPoint));
}

/** CommonJS source → the self-inflating `index.js` bundleFunction inlines. */
export function packSource(source: string): string {
  const packed = encodeBase91(
    brotliCompressSync(source, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_LGWIN]: constants.BROTLI_MAX_WINDOW_BITS,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: Buffer.byteLength(source),
      },
    }),
  );
  return [
    // basE91 decoding (the inverse of encodeBase91), through a table of BASE91_ALPHABET's characters (the printable
    // ASCII codes but 34, 39 and 92, in order): a few ms at 128 MB's CPU share, not tens.
    `const Z=require('zlib'),P='${packed}',T=new Uint8Array(127);`,
    'for(let c=33,i=0;c<127;c++)if(c!=34&&c!=39&&c!=92)T[c]=i++;',
    'let v=-1,b=0,n=0;const o=[];for(let i=0;i<P.length;i++){const d=T[P.charCodeAt(i)];if(v<0)v=d;else{v+=d*91;b|=v<<n;n+=(v&8191)>88?13:14;do{o.push(b&255);b>>=8;n-=8}while(n>7);v=-1}}if(v>-1)o.push((b|v<<n)&255);',
    // Compiled into this very module: its require, lookup paths and exports are the bundle's.
    "module._compile(Z.brotliDecompressSync(Buffer.from(o))+'',__filename);",
  ].join('');
}

/**
 * The printable ASCII characters but the quote, the double quote and the backslash: 91 characters that need no
 * escaping in a JavaScript string between single quotes, nor in the template's YAML.
 */
export const BASE91_ALPHABET = Array.from({ length: 0x7e - 0x21 + 1 }, (_, index) =>
  String.fromCharCode(0x21 + index),
)
  .filter((char) => char !== "'" && char !== '"' && char !== '\\')
  .join('');

/** basE91 (Joachim Henke's encoding): 13 or 14 bits in two characters of BASE91_ALPHABET. */
export function encodeBase91(bytes: Uint8Array): string {
  let bits = 0;
  let bitCount = 0;
  let text = '';
  const charAt = (index: number) => BASE91_ALPHABET.charAt(index);
  for (const byte of bytes) {
    bits |= byte << bitCount;
    bitCount += 8;
    if (bitCount > 13) {
      let value = bits & 8191;
      if (value > 88) {
        bits >>= 13;
        bitCount -= 13;
      } else {
        value = bits & 16383;
        bits >>= 14;
        bitCount -= 14;
      }
      text += charAt(value % 91) + charAt(Math.floor(value / 91));
    }
  }
  if (bitCount > 0) {
    text += charAt(bits % 91);
    if (bitCount > 7 || bits > 90) text += charAt(Math.floor(bits / 91));
  }
  return text;
}

/**
 * Bundles one handler entry (e.g. functions/control-plane/handler.ts) into a single minified CommonJS file: the
 * code `bundleFunction` packs for the template.
 */
export function bundleSource(entryPoint: string): string {
  const result = buildSync({
    // The handler goes out on the module's own `exports`: an entry exporting it would have esbuild add its
    // ESM-to-CommonJS helpers (__export, __toCommonJS: a few hundred bytes of template per function). The entry
    // modules are ESM, whose code is strict: the banner keeps the bundle so.
    stdin: {
      contents: `import { handler } from ${JSON.stringify(`./${basename(entryPoint)}`)};\nexports.handler = handler;\n`,
      resolveDir: dirname(entryPoint),
      sourcefile: `${basename(entryPoint)} (exports.handler)`,
      loader: 'ts',
    },
    banner: { js: '"use strict";' },
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
  return minifiedFurther(output.text);
}

/**
 * Terser's safe passes after esbuild's minifier: about 6% fewer compressed bytes, which the 51,200-byte template
 * needs. `pure_getters`: reading a property has no side effect, so a read whose value is unused may go; true of
 * this code (it defines no getters, and what it reads of the SDK's and Node's objects is plain data). A third pass
 * finds what the second's changes make removable. It takes about a second for the control plane, so each result is
 * kept in the temp folder under a hash of its input (the local stack bundles the same code for every sandbox it
 * starts).
 */
const TERSER_OPTIONS: MinifyOptions = {
  compress: { passes: 3, pure_getters: true },
  mangle: { toplevel: true },
  ecma: 2020,
  toplevel: true,
};
const MINIFIED_CACHE = join(tmpdir(), 'sub-minute-lambda-executor-inline');

function minifiedFurther(source: string): string {
  const key = createHash('sha256').update(JSON.stringify(TERSER_OPTIONS)).update(source).digest('hex');
  const cached = join(MINIFIED_CACHE, `${key}.js`);
  try {
    return readFileSync(cached, 'utf8');
  } catch {
    // Not minified yet (or the cache is gone): minify and keep it.
  }
  const { code } = minify_sync(source, TERSER_OPTIONS);
  if (code === undefined) throw new Error('terser returned no code');
  try {
    mkdirSync(MINIFIED_CACHE, { recursive: true });
    // Written aside and renamed: a process reading the cache never sees half a file.
    const aside = `${cached}.${process.pid}.tmp`;
    writeFileSync(aside, code);
    renameSync(aside, cached);
  } catch {
    // A cache that cannot be written only costs the next bundling its second.
  }
  return code;
}
