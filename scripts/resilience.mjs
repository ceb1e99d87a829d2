#!/usr/bin/env node
// `npm run resilience [-- --pages N --pause-ms M]`: test/integration/resilience.test.ts at full size (200 pages, Redis paused
// 5 s); its figures are appended to bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { pages: { type: 'string', default: '200' }, 'pause-ms': { type: 'string', default: '5000' } },
});
const report = 'bench/RESULTS.md';
if (!existsSync(report)) appendFileSync(report, '# Bench and long-run results\n');
appendFileSync(report, '\n| date | faults (2 http + 2 ws processes, one Redis) |\n| --- | --- |\n');
const env = {
  ...process.env,
  RESILIENCE_PAGES: values.pages,
  RESILIENCE_PAUSE_MS: values['pause-ms'],
  RESILIENCE_REPORT: report,
};
const run = spawnSync('npx', ['vitest', 'run', 'test/integration/resilience.test.ts'], { stdio: 'inherit', env });
process.exit(run.status ?? 1);
