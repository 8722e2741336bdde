import type { ENV } from './contract';

/** Thrown at cold start when the stack did not set an environment variable the function needs. */
export class MissingEnvironmentError extends Error {
  override readonly name = 'MissingEnvironmentError';
  constructor(variable: string) {
    super(
      `environment variable ${variable} is not set; the function was deployed without its stack configuration`,
    );
  }
}

export function requireEnv(
  variable: (typeof ENV)[keyof typeof ENV],
  env: NodeJS.ProcessEnv = process.env,
): string {
  const value = env[variable];
  if (!value) throw new MissingEnvironmentError(variable);
  return value;
}
