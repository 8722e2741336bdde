import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    // First: a Node older than package.json's engines.node stops with one line saying what to install.
    globalSetup: ['test/support/require-node-setup.ts'],
    // Integration tests run real timing on the local stack; each file gets its own process and ports.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
