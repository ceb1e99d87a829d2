#!/usr/bin/env node
// `npm run soak -- --minutes N [--probe http2,ws2 [--snapshots]] [--dir bench/soak]`: steady whole logins for N minutes with faults on a
// schedule (the soak case of test/integration/resilience.test.ts); prints and appends to bench/RESULTS.md each process's
// RSS at start and end, errors and lost logins. --probe names roles (sim, http1, http2, ws1, ws2) to watch: each writes
// memory samples every 10 s to <dir>/<role>.jsonl; with --snapshots also heap snapshots at start, warm (after the first
// round of faults) and end into <dir> (tens of MB each; bench/soak*/ is not committed). A snapshot raises the process's
// RSS for the rest of the run (the writer's buffers stay with the allocator): watch RSS in a run without them. Each
// fault's time goes to <dir>/faults.jsonl. Read them with scripts/memory-samples.mjs, scripts/proc-maps.mjs (a live
// process's RSS by mapping) and `node dist/bench/heap-diff.js A.heapsnapshot B.heapsnapshot`.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
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
if (!existsSync(report)) appendFileSync(report, '# Bench and long-run results\n');
appendFileSync(report, '\n| date | soak |\n| --- | --- |\n');
const env = {
  ...process.env,
  SOAK_MINUTES: values.minutes,
  SOAK_PROBE: values.probe,
  SOAK_SNAPSHOTS: values.snapshots ? '1' : '',
  SOAK_DIR: values.dir,
  RESILIENCE_REPORT: report,
};
const run = spawnSync('npx', ['vitest', 'run', 'test/integration/resilience.test.ts', '-t', 'soak'], { stdio: 'inherit', env });
process.exit(run.status ?? 1);
