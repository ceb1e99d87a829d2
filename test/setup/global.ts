/**
 * Once the whole run is over: kills every process still carrying this run's mark (test/setup/run-mark.ts sets it
 * before any worker starts, so everything a test spawned inherits it), and the rest of its process group when
 * that group is its own — what a worker that crashed or was killed could not stop itself. Never this process or
 * its direct children (vitest's own workers). (A redis-server or nginx, which overwrite their environment, whose
 * parent died outside a group of its own, is beyond its reach: test/setup/processes.ts gets those while their
 * parent lives.)
 */
import { describeProcesses, killAll, listProcesses, marked, RUN_VAR } from '../helpers/processes.js';

export async function teardown(): Promise<void> {
  const run = process.env[RUN_VAR];
  if (!run) return;
  const procs = listProcesses([RUN_VAR]);
  const own = procs.find((p) => p.pid === process.pid)?.pgid;
  const found = marked(RUN_VAR, run, procs).filter((p) => p.ppid !== process.pid);
  const groups = new Set(found.map((p) => p.pgid).filter((g) => g > 1 && g !== own));
  const left = [
    ...found,
    ...procs.filter((p) => groups.has(p.pgid) && p.state !== 'Z' && !found.some((f) => f.pid === p.pid)),
  ].filter((p) => p.pid !== process.pid && p.ppid !== process.pid);
  const killed = await killAll(left);
  if (killed.length) {
    process.stderr.write(
      `[test run] killed ${killed.length} process(es) left by the run:\n${describeProcesses(killed)}\n`,
    );
  }
}
