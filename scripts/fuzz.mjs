#!/usr/bin/env node
// `npm run fuzz -- --runs N [--seed S]`: the fuzz suite (test/integration/fuzz.test.ts) with N inputs of each kind; its
// result lines are appended to bench/RESULTS.md. It also runs the fault phase (Redis paused under the stack).
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10000' }, seed: { type: 'string' } } });
const report = 'bench/RESULTS.md';
if (!existsSync(report)) appendFileSync(report, '# Bench and long-run results\n');
appendFileSync(report, '\n| date | run | inputs | result |\n| --- | --- | --- | --- |\n');
const env = { ...process.env, FUZZ_RUNS: values.runs, FUZZ_REPORT: report, FUZZ_FAULTS: '1', ...(values.seed && { FUZZ_SEED: values.seed }) };
const run = spawnSync('npx', ['vitest', 'run', 'test/integration/fuzz.test.ts'], { stdio: 'inherit', env });
process.exit(run.status ?? 1);
