import { defineConfig } from 'vitest/config';
import './test/setup/run-mark.js';

// Three kinds, one folder each, each runnable alone (`npm run test:unit`, `test:integration`, `test:browser`):
// - unit: in-process code, no redis-server and no child process;
// - integration: real redis-server processes, real HTTP/WS servers and the simulator. Most of their time is
//   spent waiting on sockets, TTLs and child processes (CPU seconds are a fraction of their wall time, see
//   TEST_CPU_REPORT in test/setup/processes.ts), so four files run at once on the machine's two cores, the unit
//   files among them;
// - browser: journeys in Debian's Chromium, afterwards (groupOrder 2), two files at a time, instead of competing
//   with the integration suites for the CPU; their timing-sensitive logic (fallback timers, backoff) is
//   unit-tested without a browser.
// Bounds that only limit a hang: tests wait for the state they mean (expect.poll, vi.waitFor, helpers), never for
// a time, and a machine busy with other work may take many times longer than a quiet one.
const shared = { testTimeout: 30_000, hookTimeout: 60_000, expect: { poll: { timeout: 20_000 } } };
// Tests that start processes and make hundreds of requests: a minute is a hang, however busy the machine.
const spawningTimeouts = { testTimeout: 60_000, hookTimeout: 120_000 };
// Projects that start processes: the net that kills what a test left running (test/setup/processes.ts).
const spawning = { ...shared, ...spawningTimeouts, setupFiles: ['test/setup/processes.ts'] };

export default defineConfig({
  test: {
    reporters: ['default'],
    globalSetup: ['test/setup/global.ts'],
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Beside the integration files (the same group shares one worker count): a few seconds of CPU that
          // need not wait for them or hold them up.
          maxWorkers: 4,
          isolate: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          ...spawning,
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          maxWorkers: 4,
          // Files share a worker's module graph (each starts its own servers and Redis; none mocks a module):
          // imports cost once per worker instead of once per file (≈ 47 s → 15 s of import time).
          isolate: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          ...spawning,
          name: 'browser',
          // A journey is many steps through two browsers tabs and five processes on two busy cores.
          testTimeout: 90_000,
          include: ['test/browser/**/*.test.ts'],
          maxWorkers: 2,
          // Like the integration files: each starts its own browser and dev stack, none mocks a module.
          isolate: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
