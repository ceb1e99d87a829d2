import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import {
  descendants,
  describeProcesses,
  isRunning,
  listProcesses,
  marked,
  type ProcessInfo,
} from '../helpers/processes.js';
import { killGroup } from '../helpers/dev-runner.js';

const PROBE = 'SCANLOGIN_TEARDOWN_PROBE';
const VITEST = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

it('a test that times out leaves no process behind: npm start, its roles and its redis-server', async () => {
  // test/fixtures/teardown: one test starts two dev stacks (one through the helper, one with a bare spawn nobody
  // stops) and hangs until vitest times it out; another fails while a process the file started starts one more.
  // Everything they started carries PROBE.
  const probe = randomUUID();
  const inner = spawn(process.execPath, [VITEST, 'run', '--config', 'test/fixtures/teardown/vitest.config.ts'], {
    env: { ...process.env, [PROBE]: probe, FORCE_COLOR: undefined, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  onTestFinished(() => killGroup(inner));
  let out = '';
  inner.stdout.on('data', (b: Buffer) => (out += b.toString()));
  inner.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = once(inner, 'exit');
  // What ran meanwhile (vitest's own processes aside), to show the check below had something to find.
  const seen = new Map<number, ProcessInfo>();
  // (By its mark, or by descent from the inner vitest while their parents live: redis-server overwrites its
  // environment with its process title.)
  const started = () => {
    const procs = listProcesses([PROBE]);
    return [...marked(PROBE, probe, procs), ...descendants(inner.pid!, procs)].filter(
      (p) => !p.command.includes('vitest'),
    );
  };
  while (inner.exitCode === null) {
    // (Kept as last seen with a command: a process being killed reads with an empty one, and a child read between
    // its fork and its exec reads with its parent's — a busy machine shows a runner's role as a third `cli.js dev`.)
    for (const p of started()) if (p.command) seen.set(p.pid, p);
    await new Promise((r) => setTimeout(r, 250));
  }
  await exited;

  expect(out).toMatch(/Test timed out in \d+ms/);
  expect(out).toMatch(/Error: failing on purpose/);
  // A test's failure takes along what it started, not what the file had started (a browser's new renderer).
  expect(out).toMatch(/the keeper \d+ still runs/);
  expect(out).toMatch(/Tests {2}2 failed \| 1 passed \(3\)/);
  const pids = /started: helped (\d+), bare (\d+)/.exec(out);
  expect(pids, out).not.toBeNull();
  const commands = [...seen.values()].map((p) => p.command);
  const count = (re: RegExp) => commands.filter((c) => re.test(c)).length;
  expect(count(/cli\.js dev$/)).toBe(2);
  expect(count(/^redis-server /)).toBe(2);
  // (A machine busy enough may time the test out before every role is up.)
  if (out.includes('both stacks are running')) {
    for (const role of ['sim', 'http', 'ws', 'demo'])
      expect(
        count(new RegExp(`cli\\.js ${role}$`)),
        `${role} in:\n${describeProcesses([...seen.values()])}\n${out}`,
      ).toBe(2);
  }
  // The helper's stack went with its process group; the one nobody stopped was found by the net and killed.
  const report = out.slice(out.indexOf('[test teardown]'));
  expect(report).toContain(`  ${pids![2]} `);
  expect(report).not.toContain(`  ${pids![1]} `);
  const left = [...seen.values()].filter((p) => isRunning(p.pid));
  expect(describeProcesses(left)).toBe('');
  expect(describeProcesses(started())).toBe('');
}, 60_000);
