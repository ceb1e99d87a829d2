#!/usr/bin/env node
// `npm run soak -- --minutes N [--probe http2,ws2 [--snapshots]] [--dir bench/soak]`: steady whole logins for N
// minutes with faults on a schedule (the soak case of test/integration/resilience.test.ts); prints and appends to
// bench/RESULTS.md each process's RSS at start, after the first round of faults (warm) and at the end, errors and lost
// logins. --probe names roles (sim, http1, http2, ws1, ws2) to watch: each writes memory samples every 10 s to
// <dir>/<role>.jsonl, and each fault's time goes to <dir>/faults.jsonl; with --snapshots the probed roles also write heap
// snapshots at start, warm and end into <dir> (tens of MB each; bench/soak*/ is not committed). A snapshot raises the
// process's RSS for the rest of the run (the writer's buffers stay with the allocator): watch RSS in a run without them.
// Read them with scripts/memory-samples.mjs, scripts/proc-maps.mjs (a live process's RSS by mapping, from outside) and
// `node dist/bench/heap-diff.js A.heapsnapshot B.heapsnapshot`.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    probe: { type: 'string', default: '' },
    snapshots: { type: 'boolean', default: false },
    dir: { type: 'string', default: 'bench/soak' },
  },
});
const report = 'bench/RESULTS.md';
// The run's line goes to a file of its own first, and into the report with its header once the run has ended: a run
// that fails to start leaves no empty table, and runs side by side do not interleave their lines.
const own = path.join(mkdtempSync(path.join(tmpdir(), 'soak-')), 'line.md');
const env = {
  ...process.env,
  SOAK_MINUTES: values.minutes,
  SOAK_PROBE: values.probe,
  SOAK_SNAPSHOTS: values.snapshots ? '1' : '',
  SOAK_DIR: values.dir,
  RESILIENCE_REPORT: own,
};
const run = spawnSync('npx', ['vitest', 'run', 'test/integration/resilience.test.ts', '-t', 'soak'], { stdio: 'inherit', env });
if (existsSync(own)) {
  if (!existsSync(report)) appendFileSync(report, '# Bench and long-run results\n');
  appendFileSync(report, `\n| date | soak |\n| --- | --- |\n${readFileSync(own, 'utf8')}`);
}
rmSync(path.dirname(own), { recursive: true, force: true });
process.exit(run.status ?? 1);
