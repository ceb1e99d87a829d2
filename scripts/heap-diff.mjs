#!/usr/bin/env node
// `node scripts/heap-diff.mjs A.heapsnapshot B.heapsnapshot [--top 25] [--retainers 6] [--paths 3] [--class Name ...]`: what grew between two
// V8 heap snapshots of the same process (node's `--heapsnapshot-signal`, e.g. `npm run soak -- --probe http2 --snapshots`).
// Prints, per class (an object's constructor name; other kinds as "(string)", "(closure)", "(array)", ...), the count and
// self size in A and in B and how much of B is objects A did not have (V8 keeps an object's id across snapshots of one
// process); then, for the classes that grew most, who holds the new objects (retainer class and edge name) and a few
// paths from the GC roots to one of them (--class: for these classes instead). Hand-written: a few hundred lines over the documented snapshot format, where
// the npm tools for it (memlab and the like) come with a browser driver and far more than a diff.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '25' },
    retainers: { type: 'string', default: '6' },
    paths: { type: 'string', default: '3' },
    class: { type: 'string', multiple: true, default: [] },
  },
});
if (positionals.length !== 2) {
  console.error('usage: node scripts/heap-diff.mjs A.heapsnapshot B.heapsnapshot [--top N] [--retainers N] [--paths N]');
  process.exit(2);
}

/** A snapshot as flat arrays (the file's own layout) plus each node's first edge and its retainers. */
function load(file) {
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  const { meta } = raw.snapshot;
  const nf = meta.node_fields;
  const ef = meta.edge_fields;
  const N = nf.length;
  const E = ef.length;
  const nodes = raw.nodes;
  const edges = raw.edges;
  const strings = raw.strings;
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const count = nodes.length / N;
  const iType = nf.indexOf('type');
  const iName = nf.indexOf('name');
  const iId = nf.indexOf('id');
  const iSize = nf.indexOf('self_size');
  const iEdges = nf.indexOf('edge_count');
  const eType = ef.indexOf('type');
  const eName = ef.indexOf('name_or_index');
  const eTo = ef.indexOf('to_node');
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) firstEdge[i + 1] = firstEdge[i] + nodes[i * N + iEdges];
  // Retainers: for each node, the edges that point at it (reverse adjacency, counting sort).
  const retCount = new Uint32Array(count + 1);
  for (let e = 0; e < edges.length; e += E) retCount[edges[e + eTo] / N + 1]++;
  for (let i = 0; i < count; i++) retCount[i + 1] += retCount[i];
  const retEdge = new Uint32Array(edges.length / E);
  const retFrom = new Uint32Array(edges.length / E);
  const fill = retCount.slice();
  for (let n = 0; n < count; n++) {
    for (let k = firstEdge[n]; k < firstEdge[n + 1]; k++) {
      const to = edges[k * E + eTo] / N;
      const slot = fill[to]++;
      retEdge[slot] = k;
      retFrom[slot] = n;
    }
  }
  const type = (n) => nodeTypes[nodes[n * N + iType]];
  const name = (n) => strings[nodes[n * N + iName]];
  const edgeType = (k) => edgeTypes[edges[k * E + eType]];
  const edgeName = (k) => {
    const t = edgeType(k);
    const v = edges[k * E + eName];
    return t === 'element' || t === 'hidden' ? `[${v}]` : String(strings[v]);
  };
  const className = (n) => {
    const t = type(n);
    if (t === 'object' || t === 'native') return name(n);
    if (t === 'concatenated string' || t === 'sliced string') return '(string)';
    return `(${t})`;
  };
  // Distance from the root over strong edges: retainer paths follow it back down, as DevTools does.
  const dist = new Int32Array(count).fill(-1);
  dist[0] = 0;
  const queue = new Uint32Array(count);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  while (head < tail) {
    const n = queue[head++];
    for (let k = firstEdge[n]; k < firstEdge[n + 1]; k++) {
      if (edgeType(k) === 'weak') continue;
      const to = edges[k * E + eTo] / N;
      if (dist[to] === -1) {
        dist[to] = dist[n] + 1;
        queue[tail++] = to;
      }
    }
  }
  return {
    count,
    id: (n) => nodes[n * N + iId],
    size: (n) => nodes[n * N + iSize],
    type,
    name,
    className,
    edgeType,
    edgeName,
    dist,
    retainers: (n) => {
      const out = [];
      for (let s = retCount[n]; s < retCount[n + 1]; s++) out.push([retFrom[s], retEdge[s]]);
      return out;
    },
  };
}

const mib = (b) => (b / 1048576).toFixed(2);
const [a, b] = positionals.map(load);

/** Per class: count and bytes; `onlyNew` keeps B's objects whose id A did not have. */
function byClass(s, keep = () => true) {
  const m = new Map();
  for (let n = 0; n < s.count; n++) {
    if (s.dist[n] === -1 || !keep(n)) continue; // unreachable: garbage the snapshot still listed
    const c = s.className(n);
    const row = m.get(c) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += s.size(n);
    m.set(c, row);
  }
  return m;
}
const idsA = new Set();
for (let n = 0; n < a.count; n++) if (a.dist[n] !== -1) idsA.add(a.id(n));
const isNew = (n) => !idsA.has(b.id(n));
const ca = byClass(a);
const cb = byClass(b);
const cn = byClass(b, isNew);
const total = (m) => [...m.values()].reduce((t, r) => t + r.bytes, 0);
console.log(`A ${positionals[0]}: ${mib(total(ca))} MiB reachable in ${a.count} nodes`);
console.log(`B ${positionals[1]}: ${mib(total(cb))} MiB reachable in ${b.count} nodes, ${mib(total(cn))} MiB of it new`);

const rows = [...new Set([...ca.keys(), ...cb.keys()])].map((c) => {
  const ra = ca.get(c) ?? { count: 0, bytes: 0 };
  const rb = cb.get(c) ?? { count: 0, bytes: 0 };
  const rn = cn.get(c) ?? { count: 0, bytes: 0 };
  return { c, ra, rb, rn, dBytes: rb.bytes - ra.bytes, dCount: rb.count - ra.count };
});
rows.sort((x, y) => y.dBytes - x.dBytes);
const top = Number(values.top);
console.log('\nclass | count A → B (Δ) | self KiB A → B (Δ) | new in B: count, KiB');
for (const r of rows.slice(0, top)) {
  const k = (x) => (x / 1024).toFixed(1);
  console.log(
    `${r.c.slice(0, 60)} | ${r.ra.count} → ${r.rb.count} (${r.dCount >= 0 ? '+' : ''}${r.dCount}) | ${k(r.ra.bytes)} → ${k(r.rb.bytes)} (${r.dBytes >= 0 ? '+' : ''}${k(r.dBytes)}) | ${r.rn.count}, ${k(r.rn.bytes)}`,
  );
}
console.log('… shrank most:');
for (const r of rows.slice(-5).reverse()) console.log(`${r.c.slice(0, 60)} | Δ count ${r.dCount} | Δ KiB ${(r.dBytes / 1024).toFixed(1)}`);

/** Who holds B's new objects of class `c`: retainer class + edge, counted, strong edges only. */
function retainersOf(c, limit) {
  const m = new Map();
  const samples = [];
  for (let n = 0; n < b.count; n++) {
    if (b.dist[n] === -1 || b.className(n) !== c || !isNew(n)) continue;
    if (samples.length < 200) samples.push(n);
    for (const [from, k] of b.retainers(n)) {
      if (b.edgeType(k) === 'weak') continue;
      const key = `${b.className(from)}${isNew(from) ? '' : ' (old)'} .${b.edgeName(k)}`;
      m.set(key, (m.get(key) ?? 0) + 1);
    }
  }
  return { top: [...m.entries()].sort((x, y) => y[1] - x[1]).slice(0, limit), samples };
}

/** One path from a GC root to `n`: each step the retainer nearest the root. */
function pathTo(n) {
  const steps = [];
  let cur = n;
  while (cur !== 0 && steps.length < 30) {
    let best;
    for (const [from, k] of b.retainers(cur)) {
      if (b.edgeType(k) === 'weak' || b.dist[from] === -1) continue;
      if (!best || b.dist[from] < b.dist[best[0]]) best = [from, k];
    }
    if (!best) break;
    steps.push(`${b.className(best[0]).slice(0, 40)}${isNew(best[0]) ? '*' : ''}.${b.edgeName(best[1]).slice(0, 40)}`);
    cur = best[0];
  }
  return `${steps.reverse().join(' → ')} → ${b.className(n)} (* new since A)`;
}

const grown =
  values.class.length > 0
    ? rows.filter((r) => values.class.includes(r.c))
    : rows.filter((r) => r.dBytes > 0 && r.rn.count > 0).slice(0, Number(values.retainers));
for (const r of grown) {
  const { top: held, samples } = retainersOf(r.c, 8);
  console.log(`\n${r.c}: +${r.dCount} objects, +${(r.dBytes / 1024).toFixed(1)} KiB; new ones held by:`);
  for (const [key, n] of held) console.log(`  ${n}× ${key}`);
  const step = Math.max(1, Math.floor(samples.length / Number(values.paths)));
  for (let i = 0; i < Math.min(Number(values.paths), samples.length); i++) console.log(`  path: ${pathTo(samples[i * step])}`);
}
