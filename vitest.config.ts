import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Integration tests start real HAProxy, nginx and app processes under load, with timing assertions: one file at
    // a time. Two at a time on 2 cores was tried (12 minutes instead of 15) and let keep-alive races fail requests.
    fileParallelism: false,
  },
});
