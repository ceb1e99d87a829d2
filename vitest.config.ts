import { defineConfig } from 'vitest/config';

// Integration tests start real redis-server / HTTP / WS / browser processes, so they get generous timeouts
// and run file-parallel only up to the machine's two cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
