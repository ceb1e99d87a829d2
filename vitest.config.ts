import { defineConfig } from 'vitest/config';
import './test/setup/run-mark.js';
import './test/setup/compile-cache.js';
import { MixedSequencer } from './test/setup/sequencer.js';

// Three kinds, one folder each, each runnable alone (`npm run test:unit`, `test:integration`, `test:browser`):
// - unit: in-process code, no redis-server and no child process;
// - integration: real redis-server processes, real HTTP/WS servers and the simulator;
// - browser: journeys in Debian's Chromium; their timing-sensitive logic (fallback timers, backoff) is unit-tested
//   without a browser.
// `npm test` runs them as one group, four files at a time, the longest first whatever their kind
// (test/setup/sequencer.ts): most files spend most of their time waiting on sockets, TTLs, pages and child
// processes (CPU seconds are a fraction of their wall time: TEST_CPU_REPORT, test/setup/processes.ts), so the
// journeys run beside the integration files instead of after them.
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
    sequence: { sequencer: MixedSequencer },
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // (One group shares one worker count.)
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
          maxWorkers: 4,
          // Like the integration files: each starts its own browser and dev stack, none mocks a module.
          isolate: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
