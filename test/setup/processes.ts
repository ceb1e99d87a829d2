/**
 * The safety net under every test file that starts processes (integration, browser): whatever a test or a file
 * started and did not stop is killed. A file's own teardown (afterEach/afterAll, `stop()`) is the first line; this
 * catches what it missed — a test that timed out while its body still awaited, a `finally` never reached, a dev
 * runner whose roles outlived it. Each file (and each running test) puts its scope in `process.env`, which every
 * process spawned meanwhile inherits, down to grandchildren; and what this worker spawned since is its children
 * (helpers/processes.ts, leftBehind).
 *  - a test that failed or timed out: what it started is killed after its own teardown (afterEach,
 *    onTestFinished) ran;
 *  - the end of a file: everything the file started is killed — and named on stderr, since a passing file that
 *    leaves a process running has a teardown to fix.
 * test/setup/global.ts kills whatever still carries the run's mark once the whole run is over.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import {
  describeProcesses,
  killAll,
  leftBehind,
  type ProcessInfo,
  RUN_VAR,
  SCOPE_VAR,
  ticksNow,
} from '../helpers/processes.js';

const run = process.env[RUN_VAR] ?? 'no-run';
let fileScope = '';
let fileStart = 0;
let fileName = 'this file';

function report(what: string, killed: readonly ProcessInfo[]): void {
  if (killed.length)
    process.stderr.write(
      `[test teardown] killed ${killed.length} process(es) ${what}:\n${describeProcesses(killed)}\n`,
    );
}

/** This process's CPU time and that of its reaped children (ticks): a file's CPU cost, its processes' included. */
function cpuTicks(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((n, i) => n + Number(f[i]), 0);
}
let cpuStart = 0;
let wallStart = 0;

beforeAll(() => {
  // Each scope ends with '/', so one is never a prefix of another (file 1 of file 10, test 1 of test 10).
  fileScope = `${run}:${process.pid}:${randomUUID().slice(0, 8)}/`;
  process.env[SCOPE_VAR] = fileScope;
  fileStart = ticksNow();
  fileName = 'this file';
  cpuStart = cpuTicks();
  wallStart = Date.now();
});

beforeEach(({ task, onTestFailed }) => {
  fileName = task.file.name;
  const scope = `${fileScope}${task.id}/`;
  // From the next tick: one started in this tick may be a hook's (a describe's beforeAll runs just before).
  const since = ticksNow() + 1;
  process.env[SCOPE_VAR] = scope;
  // Last of the test's teardown (after afterEach and onTestFinished): only what those missed is left.
  onTestFailed(async () =>
    report(`left by the failed test "${task.name}"`, await killAll(leftBehind(SCOPE_VAR, scope, since))),
  );
});

afterEach(() => {
  process.env[SCOPE_VAR] = fileScope;
});

afterAll(async () => {
  report(`left by ${fileName}`, await killAll(leftBehind(SCOPE_VAR, fileScope, fileStart)));
  delete process.env[SCOPE_VAR];
  // TEST_CPU_REPORT=<file>: one line per test file, "CPU seconds (its processes' included) <tab> wall seconds
  // <tab> file" — what a file costs, which a busy machine's wall-clock durations do not tell.
  if (process.env.TEST_CPU_REPORT) {
    const cpu = ((cpuTicks() - cpuStart) / 100).toFixed(1);
    appendFileSync(
      process.env.TEST_CPU_REPORT,
      `${cpu}\t${((Date.now() - wallStart) / 1000).toFixed(1)}\t${fileName}\n`,
    );
  }
});
