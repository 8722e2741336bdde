import type { ENV } from './contract';
import { InvalidEnvironmentError, MissingEnvironmentError } from './errors';

/** Environment variables as the runtime passes them (process.env), or as the local stack gives them. */
export type Environment = Readonly<Record<string, string | undefined>>;

export function requireEnv(variable: (typeof ENV)[keyof typeof ENV], env: Environment = process.env): string {
  const value = env[variable];
  if (!value) throw new MissingEnvironmentError(variable);
  return value;
}

/** A whole number from 1 in `variable`; `unset` when the variable is absent or empty. */
export function wholeNumberFromEnv(
  variable: (typeof ENV)[keyof typeof ENV],
  env: Environment,
  unset: number,
): number {
  const raw = env[variable];
  if (raw === undefined || raw === '') return unset;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidEnvironmentError(variable, raw, 'must be a whole number from 1');
  }
  return value;
}
