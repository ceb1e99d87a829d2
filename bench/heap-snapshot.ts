/**
 * A V8 heap snapshot (`.heapsnapshot`, as node's `--heapsnapshot-signal` or v8.writeHeapSnapshot writes it) read
 * for one question: what does the later of two snapshots of one process hold that the earlier did not, and who
 * holds it. Hand-written over the snapshot's documented layout (flat node and edge arrays described by
 * `snapshot.meta`): the npm tools that read it (memlab and the like) bring a browser driver and far more than a
 * diff, and this is a few dozen lines. V8 keeps an object's id across snapshots of one process, so "new" is exact.
 */
import { readFileSync } from 'node:fs';

export interface Snapshot {
  /** Nodes (objects, strings, code, …); node 0 is the synthetic root. */
  readonly count: number;
  id(n: number): number;
  size(n: number): number;
  /** The class an object is counted under: its constructor's name, else its kind in brackets ("(string)"). */
  className(n: number): string;
  /** Hops from the root over strong edges; -1: unreachable (garbage the snapshot still lists). */
  readonly dist: Int32Array;
  /** Strong edges pointing at `n`, as [retaining node, edge name]. */
  retainers(n: number): [number, string][];
}

interface RawSnapshot {
  snapshot: {
    meta: { node_fields: string[]; edge_fields: string[]; node_types: [string[]]; edge_types: [string[]] };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export function loadSnapshot(file: string): Snapshot {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
  const { meta } = raw.snapshot;
  const { nodes, edges, strings } = raw;
  const N = meta.node_fields.length;
  const E = meta.edge_fields.length;
  const [iType, iName, iId, iSize, iEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) =>
    meta.node_fields.indexOf(f),
  ) as [number, number, number, number, number];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const count = nodes.length / N;
  const firstEdge = new Uint32Array(count + 1);
  for (let n = 0; n < count; n++) firstEdge[n + 1] = firstEdge[n]! + nodes[n * N + iEdges]!;
  const to = (k: number) => edges[k * E + eTo]! / N;
  const weak = (k: number) => edgeTypes[edges[k * E + eType]!] === 'weak';
  const edgeName = (k: number) => {
    const type = edgeTypes[edges[k * E + eType]!];
    const v = edges[k * E + eName]!;
    return type === 'element' || type === 'hidden' ? `[${v}]` : String(strings[v]);
  };
  // Reverse adjacency (a counting sort of the edges by target): who points at each node.
  const retStart = new Uint32Array(count + 1);
  for (let k = 0; k < edges.length / E; k++) retStart[to(k) + 1]!++;
  for (let n = 0; n < count; n++) retStart[n + 1]! += retStart[n]!;
  const retEdge = new Uint32Array(edges.length / E);
  const retFrom = new Uint32Array(edges.length / E);
  const fill = retStart.slice();
  for (let n = 0; n < count; n++) {
    for (let k = firstEdge[n]!; k < firstEdge[n + 1]!; k++) {
      const slot = fill[to(k)]!++;
      retEdge[slot] = k;
      retFrom[slot] = n;
    }
  }
  // Breadth-first from the root over strong edges: what is reachable, and how far (paths follow it back).
  const dist = new Int32Array(count).fill(-1);
  const queue = new Uint32Array(count);
  let head = 0;
  let tail = 0;
  dist[0] = 0;
  queue[tail++] = 0;
  while (head < tail) {
    const n = queue[head++]!;
    for (let k = firstEdge[n]!; k < firstEdge[n + 1]!; k++) {
      if (weak(k) || dist[to(k)] !== -1) continue;
      dist[to(k)] = dist[n]! + 1;
      queue[tail++] = to(k);
    }
  }
  return {
    count,
    dist,
    id: (n) => nodes[n * N + iId]!,
    size: (n) => nodes[n * N + iSize]!,
    className(n) {
      const type = nodeTypes[nodes[n * N + iType]!]!;
      if (type === 'object' || type === 'native') return strings[nodes[n * N + iName]!]!;
      return type.endsWith(' string') ? '(string)' : `(${type})`;
    },
    retainers(n) {
      const out: [number, string][] = [];
      for (let s = retStart[n]!; s < retStart[n + 1]!; s++) {
        if (!weak(retEdge[s]!)) out.push([retFrom[s]!, edgeName(retEdge[s]!)]);
      }
      return out;
    },
  };
}

export interface ClassFigures {
  count: number;
  bytes: number;
}

/** Reachable objects per class (count and self size), only those `keep` accepts. */
export function byClass(s: Snapshot, keep: (n: number) => boolean = () => true): Map<string, ClassFigures> {
  const m = new Map<string, ClassFigures>();
  for (let n = 0; n < s.count; n++) {
    if (s.dist[n] === -1 || !keep(n)) continue;
    const row = m.get(s.className(n)) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += s.size(n);
    m.set(s.className(n), row);
  }
  return m;
}

/** A test for B's nodes: true for an object that A (an earlier snapshot of the same process) did not hold. */
export function newSince(a: Snapshot, b: Snapshot): (n: number) => boolean {
  const old = new Set<number>();
  for (let n = 0; n < a.count; n++) if (a.dist[n] !== -1) old.add(a.id(n));
  return (n) => !old.has(b.id(n));
}

/** Who holds `s`'s objects of class `c` that `isNew` accepts: "retainer class (old)? .edge" → how many, most first. */
export function holdersOf(s: Snapshot, c: string, isNew: (n: number) => boolean): [string, number][] {
  const m = new Map<string, number>();
  for (let n = 0; n < s.count; n++) {
    if (s.dist[n] === -1 || s.className(n) !== c || !isNew(n)) continue;
    for (const [from, edge] of s.retainers(n)) {
      const key = `${s.className(from)}${isNew(from) ? '' : ' (old)'} .${edge}`;
      m.set(key, (m.get(key) ?? 0) + 1);
    }
  }
  return [...m.entries()].sort((x, y) => y[1] - x[1]);
}

/**
 * One path from the root to `n`, each step through the retainer nearest the root ("*": new per `isNew`); a step
 * repeated (a linked list) is written once with its count.
 */
export function pathTo(s: Snapshot, n: number, isNew: (n: number) => boolean = () => false): string {
  const steps: string[] = [];
  let cur = n;
  while (cur !== 0 && steps.length < 10_000) {
    let best: [number, string] | undefined;
    for (const r of s.retainers(cur)) {
      if (s.dist[r[0]] !== -1 && (!best || s.dist[r[0]]! < s.dist[best[0]]!)) best = r;
    }
    if (!best) break;
    steps.push(`${s.className(best[0]).slice(0, 40)}${isNew(best[0]) ? '*' : ''}.${best[1].slice(0, 40)}`);
    cur = best[0];
  }
  const runs: [string, number][] = [];
  for (const step of steps.reverse()) {
    const last = runs.at(-1);
    if (last?.[0] === step) last[1]++;
    else runs.push([step, 1]);
  }
  return [...runs.map(([step, k]) => (k > 1 ? `${step} ×${k}` : step)), s.className(n)].join(' → ');
}
