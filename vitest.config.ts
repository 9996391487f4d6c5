import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Integration tests start real HAProxy and app processes; two cores, so keep files sequential.
    fileParallelism: false,
  },
});
