#!/usr/bin/env node
// `node scripts/memory-samples.mjs bench/soak/http2.jsonl [--every 10]`: the memory probe's samples (bench/memory-probe.ts,
// `npm run soak -- --probe http2`) as a table, one row per `--every` minutes of each process (a restarted role has a new
// pid): RSS and its anonymous and file-backed parts (the node binary's pages: shared, paged in as code runs and out when
// the machine needs memory), V8 heap total and used, external, array buffers, V8's malloc'd memory, and the anonymous RSS
// that none of them counts (allocator arenas and slack, thread stacks), all in MiB. heapUsed saw-tooths between collections: each
// row shows its lowest value over the window (≈ live heap) besides the last sample's.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { every: { type: 'string', default: '10' } } });
if (positionals.length !== 1) {
  console.error('usage: node scripts/memory-samples.mjs <role>.jsonl [--every minutes]');
  process.exit(2);
}
const samples = readFileSync(positionals[0], 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
const mib = (b) => (b / 1048576).toFixed(1);
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
