/**
 * `node dist/bench/heap-diff.js A.heapsnapshot B.heapsnapshot [--top 25] [--holders 6] [--paths 3] [--class Name …]`
 * (after `npm run build`): what grew between two heap snapshots of one process, e.g. those of
 * `npm run soak -- --probe http2 --snapshots`. Prints per class (constructor name; other kinds as "(string)",
 * "(closure)", "(code)", …) the count and self size in A and in B and how much of B is objects A did not have; then,
 * for the classes that grew most (or those named by --class), who holds their new objects and a few paths from the
 * GC roots to one of them.
 */
import { parseArgs } from 'node:util';
import { byClass, type ClassFigures, holdersOf, loadSnapshot, newSince, pathTo } from './heap-snapshot.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '25' },
    holders: { type: 'string', default: '6' },
    paths: { type: 'string', default: '3' },
    class: { type: 'string', multiple: true, default: [] },
  },
});
if (positionals.length !== 2) {
  console.error(
    'usage: node dist/bench/heap-diff.js A.heapsnapshot B.heapsnapshot [--top N] [--holders N] [--paths N]',
  );
  process.exit(2);
}
const [a, b] = positionals.map(loadSnapshot) as [ReturnType<typeof loadSnapshot>, ReturnType<typeof loadSnapshot>];
const isNew = newSince(a, b);
const [ca, cb, cn] = [byClass(a), byClass(b), byClass(b, isNew)];
const none: ClassFigures = { count: 0, bytes: 0 };
const total = (m: Map<string, ClassFigures>) => [...m.values()].reduce((t, r) => t + r.bytes, 0);
const mib = (x: number) => (x / 1048576).toFixed(2);
const kib = (x: number) => (x / 1024).toFixed(1);
const signed = (x: number, f: (x: number) => string = String) => `${x >= 0 ? '+' : ''}${f(x)}`;
console.log(`A ${positionals[0]}: ${mib(total(ca))} MiB reachable`);
console.log(`B ${positionals[1]}: ${mib(total(cb))} MiB reachable, ${mib(total(cn))} MiB of it new since A`);

const rows = [...new Set([...ca.keys(), ...cb.keys()])].map((c) => {
  const [ra, rb, rn] = [ca.get(c) ?? none, cb.get(c) ?? none, cn.get(c) ?? none];
  return { c, ra, rb, rn, dBytes: rb.bytes - ra.bytes, dCount: rb.count - ra.count };
});
rows.sort((x, y) => y.dBytes - x.dBytes);
console.log('\nclass | count A → B (Δ) | self KiB A → B (Δ) | new in B: count, KiB');
for (const r of rows.slice(0, Number(values.top))) {
  console.log(
    `${r.c.slice(0, 60)} | ${r.ra.count} → ${r.rb.count} (${signed(r.dCount)}) | ${kib(r.ra.bytes)} → ${kib(r.rb.bytes)} (${signed(r.dBytes, kib)}) | ${r.rn.count}, ${kib(r.rn.bytes)}`,
  );
}
console.log('… shrank most:');
for (const r of rows.slice(-5).reverse())
  console.log(`${r.c.slice(0, 60)} | Δ count ${r.dCount} | Δ KiB ${kib(r.dBytes)}`);

const chosen =
  values.class.length > 0
    ? rows.filter((r) => values.class.includes(r.c))
    : rows.filter((r) => r.dBytes > 0 && r.rn.count > 0).slice(0, Number(values.holders));
for (const r of chosen) {
  console.log(`\n${r.c}: ${signed(r.dCount)} objects, ${signed(r.dBytes, kib)} KiB; the new ones held by:`);
  for (const [key, n] of holdersOf(b, r.c, isNew).slice(0, 8)) console.log(`  ${n}× ${key}`);
  const samples: number[] = [];
  for (let n = 0; n < b.count; n++) if (b.dist[n] !== -1 && b.className(n) === r.c && isNew(n)) samples.push(n);
  const paths = Math.min(Number(values.paths), samples.length);
  for (let i = 0; i < paths; i++) {
    console.log(`  path: ${pathTo(b, samples[Math.floor((i * samples.length) / paths)]!, isNew)} (* new)`);
  }
}
