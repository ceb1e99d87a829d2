#!/usr/bin/env node
// `npm run soak -- --minutes N`: steady whole logins for N minutes with faults on a schedule (the soak case of
// test/integration/resilience.test.ts); prints and appends to bench/RESULTS.md each process's RSS at start and end, errors and
// lost logins.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '30' } } });
const report = 'bench/RESULTS.md';
if (!existsSync(report)) appendFileSync(report, '# Bench and long-run results\n');
appendFileSync(report, '\n| date | soak |\n| --- | --- |\n');
const env = { ...process.env, SOAK_MINUTES: values.minutes, RESILIENCE_REPORT: report };
const run = spawnSync('npx', ['vitest', 'run', 'test/integration/resilience.test.ts', '-t', 'soak'], { stdio: 'inherit', env });
process.exit(run.status ?? 1);
