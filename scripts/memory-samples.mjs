#!/usr/bin/env node
// `node scripts/memory-samples.mjs bench/soak/http2.jsonl [--every 10]`: the memory probe's samples (bench/memory-probe.ts,
// `npm run soak -- --probe http2`) as a table, one row per `--every` minutes of each process (a restarted role has a new
// pid): RSS and its anonymous and file-backed parts (the node binary's pages: shared, paged in as code runs and out when
// the machine needs memory), V8 heap total and used, external, array buffers, V8's malloc'd memory, and the anonymous RSS
// that none of them counts (allocator arenas and slack, thread stacks), all in MiB. heapUsed saw-tooths between collections: each
// row shows its lowest value over the window (≈ live heap) besides the last sample's. `--steps 1` lists instead every
// sample whose RSS rose by ≥ 1 MiB since the one before, with the soak's last fault before it (faults.jsonl beside it).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { every: { type: 'string', default: '10' }, steps: { type: 'string' } } });
if (positionals.length !== 1) {
  console.error('usage: node scripts/memory-samples.mjs <role>.jsonl [--every minutes]');
  process.exit(2);
}
const samples = readFileSync(positionals[0], 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
const mib = (b) => (b / 1048576).toFixed(1);
if (values.steps !== undefined) {
  const faultFile = path.join(path.dirname(positionals[0]), 'faults.jsonl');
  const faults = existsSync(faultFile)
    ? readFileSync(faultFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
  const min = Number(values.steps) * 1048576;
  console.log('pid | minute | rss before → after | heapTotal | anon | last fault before (s before the sample)');
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1], samples[i]];
    if (a.pid !== b.pid || b.rss - a.rss < min) continue;
    const t0 = samples.find((s) => s.pid === b.pid).t;
    const fault = faults.filter((f) => f.t <= b.t).at(-1);
    const why = fault ? `${fault.name} (${((b.t - fault.t) / 1000).toFixed(0)})` : '-';
    const anon = b.rssAnon === undefined ? '-' : `${mib(a.rssAnon)} → ${mib(b.rssAnon)}`;
    console.log(
      `${b.pid} | ${((b.t - t0) / 60_000).toFixed(1)} | ${mib(a.rss)} → ${mib(b.rss)} | ${mib(a.heapTotal)} → ${mib(b.heapTotal)} | ${anon} | ${why}`,
    );
  }
  process.exit(0);
}
const everyMs = Number(values.every) * 60_000;
console.log(
  'pid | minute | rss | anon | file | heapTotal | heapUsed (min in window) | external | arrayBuffers | malloced | anon − heapTotal − external',
);
for (const pid of new Set(samples.map((s) => s.pid))) {
  const mine = samples.filter((s) => s.pid === pid);
  const t0 = mine[0].t;
  let windowStart = t0;
  let minUsed = Number.POSITIVE_INFINITY;
  mine.forEach((s, i) => {
    minUsed = Math.min(minUsed, s.heapUsed);
    const last = i === mine.length - 1;
    if (i !== 0 && s.t - windowStart < everyMs && !last) return;
    const other = s.rssAnon === undefined ? '-' : mib(s.rssAnon - s.heapTotal - s.external);
    const minute = ((s.t - t0) / 60_000).toFixed(0);
    console.log(
      `${pid} | ${minute} | ${mib(s.rss)} | ${s.rssAnon === undefined ? '-' : mib(s.rssAnon)} | ${s.rssFile === undefined ? '-' : mib(s.rssFile)} | ${mib(s.heapTotal)} | ${mib(s.heapUsed)} (${mib(minUsed)}) | ${mib(s.external)} | ${mib(s.arrayBuffers)} | ${mib(s.malloced)} | ${other}`,
    );
    windowStart = s.t;
    minUsed = Number.POSITIVE_INFINITY;
  });
}
