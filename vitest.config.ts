import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Integration tests start real HAProxy, nginx and app processes under bounded load: two files at a time (two
    // cores) keep `npm test` under 10 minutes. Ports are claimed across workers (test/helpers/ports.ts).
    fileParallelism: true,
    maxWorkers: 2,
  },
});
