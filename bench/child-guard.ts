/**
 * Preloaded (`node --expose-gc --import <this file>`) into every server the scan bench starts, so that the
 * bench can measure and clean up processes it does not own the code of (scanlogin's roles):
 * - SIGUSR2 runs a full GC, so that an RSS read afterwards counts live memory rather than garbage, and then
 *   writes the heap's figures as one `bench-memory {json}` line on stderr (steadier than the RSS);
 * - the end of stdin (the bench's pipe, closed when the bench exits however it exits, even on SIGKILL) ends
 *   the process: no server outlives the bench.
 */
const gc = (globalThis as { gc?: () => void }).gc;
process.on('SIGUSR2', () => {
  gc?.();
  gc?.();
  const { heapUsed, external, arrayBuffers } = process.memoryUsage();
  process.stderr.write(`bench-memory ${JSON.stringify({ heapUsed, external, arrayBuffers })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
