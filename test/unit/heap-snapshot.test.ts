/**
 * The soak's heap-snapshot diff (bench/heap-snapshot.ts) on snapshots with a known answer: a worker thread (its own
 * small V8 heap) writes one snapshot, then keeps 1,500 objects of a class of its own in a Map it made before, lets
 * 3,000 others become garbage, and writes a second. The diff must find exactly the kept ones as new, hold them to the
 * Map, and not count the garbage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { byClass, holdersOf, loadSnapshot, newSince, pathTo } from '../../bench/heap-snapshot.js';

const dir = mkdtempSync(path.join(tmpdir(), 'heap-snapshot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const WORKER = `
const { writeHeapSnapshot } = require('node:v8');
const { parentPort, workerData } = require('node:worker_threads');
class KeptProbe { constructor(i) { this.i = i; this.label = 'kept-' + i; } }
class DroppedProbe { constructor(i) { this.i = i; } }
globalThis.keeper = new Map();
const a = writeHeapSnapshot(workerData + '/a.heapsnapshot');
// In functions of their own: a frame still running could hold the last object in a register.
(function drop() { const dropped = []; for (let i = 0; i < 3000; i++) dropped.push(new DroppedProbe(i)); })();
(function keep() { for (let i = 0; i < 1500; i++) globalThis.keeper.set(i, new KeptProbe(i)); })();
const b = writeHeapSnapshot(workerData + '/b.heapsnapshot');
parentPort.postMessage([a, b]);
`;

async function snapshots(): Promise<[string, string]> {
  const worker = new Worker(WORKER, { eval: true, workerData: dir });
  const [message] = await Promise.all([
    new Promise<[string, string]>((resolve, reject) => worker.once('message', resolve).once('error', reject)),
    new Promise((resolve) => worker.once('exit', resolve)),
  ]);
  return message;
}

describe('heap snapshot diff', () => {
  it('finds the objects kept between two snapshots, who holds them, and not the garbage', async () => {
    const [fileA, fileB] = await snapshots();
    const [a, b] = [loadSnapshot(fileA), loadSnapshot(fileB)];
    const isNew = newSince(a, b);
    expect(byClass(a).get('KeptProbe')).toBeUndefined();
    expect(byClass(b).get('KeptProbe')?.count).toBe(1500);
    expect(byClass(b, isNew).get('KeptProbe')?.count).toBe(1500);
    expect(byClass(b).get('DroppedProbe')).toBeUndefined(); // garbage is not counted
    // Objects A already had are not new: the Map existed before A.
    expect(byClass(b, isNew).get('Map')).toBeUndefined();
    // A Map keeps its entries in a backing table (an internal array) that it owns.
    const holders = holdersOf(b, 'KeptProbe', isNew);
    expect(holders.reduce((t, [, n]) => t + n, 0)).toBe(1500);
    let kept = 0;
    while (b.className(kept) !== 'KeptProbe' || b.dist[kept] === -1) kept++;
    expect(pathTo(b, kept, isNew)).toMatch(/keeper → Map\.table → .*KeptProbe$/);
  }, 60_000);
});
