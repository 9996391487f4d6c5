import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    env: {
      // The local GitHub stand-in has no secondary rate limit: no 1 s spacing of write calls (users keep it).
      ZERO_DOWNTIME_DEPLOY_GITHUB_WRITE_SPACING_MS: '0',
      ZERO_DOWNTIME_DEPLOY_FRESH_WORKER_S: '0',
    },
    // Each file's time and the suite's go to a JSON report that scripts/test-times.js reads (.ci/run's guard).
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    // Three files at a time on 2 cores: the integration files mostly wait (analysis windows, health checks, steps),
    // so two workers left the CPU idle about half the time. Every file has its own ports and folders, and the
    // product must not fail a request on a busy machine anyway (CONTRIBUTING.md, "Fast, parallel-safe tests").
    fileParallelism: true,
    maxWorkers: 3,
  },
});
