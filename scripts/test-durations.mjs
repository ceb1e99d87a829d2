#!/usr/bin/env node
// Writes test/setup/durations.json from a vitest JSON report (`npm test -- --reporter=json --outputFile=r.json`;
// .ci/run writes one): each file's wall time on the run that made the report, which the test sequencer uses to
// start the longest files first on a fresh clone, where vitest has no results cache yet. Run it on a quiet machine.
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

const [report] = process.argv.slice(2);
if (!report) {
  console.error('usage: node scripts/test-durations.mjs <vitest JSON report>');
  process.exit(2);
}
const { testResults } = JSON.parse(readFileSync(report, 'utf8'));
const durations = {};
for (const file of testResults) {
  const path = relative(process.cwd(), file.name);
  // The project is the folder below test/ (unit, integration, browser): vitest.config.ts names them so.
  durations[`${path.split('/')[1]}:${path}`] = Math.round(file.endTime - file.startTime);
}
const sorted = Object.fromEntries(Object.entries(durations).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync('test/setup/durations.json', `${JSON.stringify(sorted, null, 2)}\n`);
console.log(`test/setup/durations.json: ${testResults.length} files`);
