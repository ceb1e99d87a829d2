#!/usr/bin/env node
// `node scripts/proc-maps.mjs <pid> [--json]`: where a Linux process's RSS lives, read from outside (/proc/<pid>/smaps,
// nothing in the process is touched): file-backed pages per file (the node binary's code, ICU data, libraries: shared,
// paged in as code runs and out under memory pressure), the main malloc arena ([heap]), thread malloc arenas (glibc
// reserves them 64 MiB at a time, aligned), stacks, and the other anonymous mappings (mostly V8's heap pages), in MiB.
// Use it beside the memory probe (bench/memory-probe.ts) to put a growing RSS down to one of them.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { json: { type: 'boolean' } } });
const pid = positionals[0];
if (!pid) {
  console.error('usage: node scripts/proc-maps.mjs <pid> [--json]');
  process.exit(2);
}
const ARENA = 64 * 1024 * 1024;
const groups = new Map();
let region;
const flush = () => {
  if (!region) return;
  const g = groups.get(region.group) ?? { rss: 0, regions: 0 };
  g.rss += region.rss;
  g.regions++;
  groups.set(region.group, g);
};
const lines = readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n');
for (let i = 0; i < lines.length; i++) {
  const line = lines[i];
  const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
  if (head) {
    flush();
    const start = BigInt(`0x${head[1]}`);
    const end = BigInt(`0x${head[2]}`);
    const file = head[4];
    let group;
    if (file.startsWith('/')) group = `file ${file.split('/').pop()}`;
    else if (file === '[heap]') group = 'malloc main arena [heap]';
    else if (file.startsWith('[stack')) group = 'stack';
    else if (file) group = file;
    // A thread arena: a 64 MiB-aligned reservation; its used part is a read-write mapping at the aligned start.
    else if (start % BigInt(ARENA) === 0n && end - start <= BigInt(ARENA) && head[3].startsWith('rw')) group = 'malloc thread arenas';
    else group = 'other anonymous (V8 heap, buffers, …)';
    region = { group, rss: 0 };
    continue;
  }
  const rss = /^Rss:\s+(\d+) kB/.exec(line);
  if (rss && region) region.rss += Number(rss[1]) * 1024;
}
flush();
const rows = [...groups.entries()].filter(([, g]) => g.rss > 0).sort((a, b) => b[1].rss - a[1].rss);
if (values.json) {
  console.log(JSON.stringify({ t: Date.now(), pid: Number(pid), ...Object.fromEntries(rows.map(([k, g]) => [k, g.rss])) }));
} else {
  const total = rows.reduce((t, [, g]) => t + g.rss, 0);
  console.log(`pid ${pid}: RSS ${(total / 1048576).toFixed(1)} MiB`);
  for (const [k, g] of rows) console.log(`${(g.rss / 1048576).toFixed(1).padStart(7)}  ${k} (${g.regions} mappings)`);
}
