import { randomUUID } from 'node:crypto';
import { RUN_VAR } from '../helpers/processes.js';

/**
 * Imported by a vitest config: this run's mark, set before any worker starts, so every process a test spawns
 * inherits it (and so do their children) — how test/setup/ finds what a run left behind. A nested run (a test
 * running vitest) gets its own: the mark is made once per vitest process, never taken from the environment.
 */
const self = globalThis as { scanloginTestRun?: string };
self.scanloginTestRun ??= randomUUID();
process.env[RUN_VAR] = self.scanloginTestRun;
