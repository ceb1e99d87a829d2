import module from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Imported by a vitest config: Node's module compile cache (V8 code cache on disk, Node ≥ 22.1) for every process
 * of the run — the vitest workers and each `node dist/server/cli.js …` a test spawns, which inherit the variable.
 * A run starts many Node processes (each dev stack alone is five), and loading their modules is most of their
 * start-up CPU; with the cache a module is compiled once, not once per process (≈ 10–20 % of a stack's start). Entries are keyed
 * by the source's hash, so a rebuilt dist/ is never served stale code. Node 20 ignores the variable. A developer's
 * own NODE_COMPILE_CACHE (or NODE_DISABLE_COMPILE_CACHE=1) wins.
 */
process.env.NODE_COMPILE_CACHE ??= path.join(tmpdir(), 'scanlogin-test-compile-cache');
// This process too, for what it loads from here on (the config's imports, the sequencer, the reporters).
(module as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache?.(process.env.NODE_COMPILE_CACHE);
