import { defineConfig } from 'vitest/config';

// Integration tests start real redis-server / HTTP / WS / simulator processes (and one spawns 8 processes at
// once), so they get generous timeouts; they mostly wait on sockets and TTLs, so three files run at once on the
// machine's two cores (measured: 46 s against 57 s with two; bounds in the tests are generous). The browser
// journeys run afterwards (groupOrder 1), two files at a time, instead of competing with the integration
// suites for the CPU; their timing-sensitive logic (fallback timers, backoff) is unit-tested without a browser.
const shared = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e-*.test.ts'],
          maxWorkers: 3,
          // Files share a worker's module graph (each starts its own servers and Redis; none mocks a module):
          // imports cost once per worker instead of once per file (≈ 47 s → 15 s of import time).
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'browser',
          // A journey is many steps through two browsers tabs and five processes on two busy cores.
          testTimeout: 60_000,
          include: ['test/e2e-*.test.ts'],
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
