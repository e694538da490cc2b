import { defineConfig } from 'vitest/config';

// Tests run real toolchains in real sandboxes on a 2-core machine: generous timeouts, few workers.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
