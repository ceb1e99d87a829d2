/**
 * Preloaded (`node --import <this file>`) by bench/cluster.ts into the roles a long run watches (`npm run soak --
 * --probe http2`), so that memory growth can be put down to the JS heap, to buffers outside it, or to the native
 * side (allocator, code, threads) without a line of it in the servers: every MEMORY_PROBE_MS (default 10 s) one
 * JSON line of process.memoryUsage() and V8's heap figures is appended to MEMORY_PROBE_FILE. Nothing is forced
 * (no GC): the samples show what the process holds as it runs; the heap snapshots the run takes (node's own
 * `--heapsnapshot-signal`) show what is live.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

const file = process.env.MEMORY_PROBE_FILE;
const everyMs = Number(process.env.MEMORY_PROBE_MS ?? 10_000);

/**
 * The RSS split as Linux counts it: anonymous pages (heaps, stacks, the allocator's arenas) and file-backed ones
 * (the node binary and libraries, paged in as code runs and dropped again when the machine needs the memory).
 */
function rssParts(): { rssAnon?: number; rssFile?: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]) * 1024;
    return { rssAnon: kib('RssAnon'), rssFile: kib('RssFile') };
  } catch {
    return {}; // not Linux
  }
}

function sample(): void {
  const m = process.memoryUsage();
  const h = getHeapStatistics();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
  const line = {
    t: Date.now(),
    pid: process.pid,
    rss: m.rss,
    ...rssParts(),
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    // V8's own malloc'd memory (zones, compiler): part of the RSS that is neither heap nor external.
    malloced: h.malloced_memory,
    spaces,
  };
  appendFileSync(file!, `${JSON.stringify(line)}\n`);
}

if (file) {
  sample();
  setInterval(sample, everyMs).unref();
}
