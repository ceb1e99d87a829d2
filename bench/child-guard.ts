/**
 * Preloaded (`node --expose-gc --import <this file>`) into every server the scan bench starts, so that the
 * bench can measure and clean up processes it does not own the code of (scanlogin's roles):
 * - SIGUSR2 runs a full GC, so that an RSS read afterwards counts live memory rather than garbage, and then
 *   writes the heap's figures as one `bench-memory {json}` line on stderr (steadier than the RSS);
 * - the end of stdin (the bench's pipe, closed when the bench exits however it exits, even on SIGKILL) ends
 *   the process: no server outlives the bench.
 */
import { getHeapStatistics } from 'node:v8';

const gc = (globalThis as { gc?: () => void }).gc;
process.on('SIGUSR2', () => {
  gc?.();
  gc?.();
  // From V8, not process.memoryUsage(): that opens /proc/self/statm, which fails (EMFILE, and the process
  // dies) once the push process holds as many sockets as it may open files — the 20,000-watcher run.
  const h = getHeapStatistics();
  const line = JSON.stringify({ heapUsed: h.used_heap_size, external: h.external_memory });
  process.stderr.write(`bench-memory ${line}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
