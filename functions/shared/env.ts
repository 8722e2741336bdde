import type { ENV } from './contract';
import { MissingEnvironmentError } from './errors';

/** Environment variables as the runtime passes them (process.env), or as the local stack gives them. */
export type Environment = Readonly<Record<string, string | undefined>>;

export function requireEnv(variable: (typeof ENV)[keyof typeof ENV], env: Environment = process.env): string {
  const value = env[variable];
  if (!value) throw new MissingEnvironmentError(variable);
  return value;
}
