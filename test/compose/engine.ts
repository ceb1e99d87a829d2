import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The compose command this machine has: COMPOSE when set (e.g. "podman compose"), else `docker compose` (v2) when
 * the Docker CLI has it, else `docker-compose` (v1, what a podman machine here drives through docker-env.sh).
 */
export function composeCommand(): string[] {
  if (process.env.COMPOSE) return process.env.COMPOSE.split(/\s+/).filter(Boolean);
  const v2 = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8', timeout: 20_000 });
  if (v2.status === 0) return ['docker', 'compose'];
  const v1 = spawnSync('docker-compose', ['version'], { encoding: 'utf8', timeout: 20_000 });
  if (v1.status === 0) return ['docker-compose'];
  throw new Error(
    'no container engine: neither `docker compose` nor `docker-compose` answers. On a machine without a Docker ' +
      'daemon, see docs/deploy.md ("Testing the compose files") for SCANLOGIN_DOCKER_ENV.',
  );
}

export interface Ran {
  code: number;
  out: string;
}

/**
 * One compose project (`-p name`) over the given files, with its variables from `vars` only: an empty env file
 * keeps a developer's .env (production values, ports) out of the test, and no variable of this process's
 * environment that the files read is passed on unless `vars` names it.
 */
export class ComposeProject {
  readonly #cmd = composeCommand();
  readonly #envFile: string;
  /** The variables the files interpolate. */
  readonly #read: Set<string>;
  /** Seconds each `compose` call took, by label (the report at the end of a run). */
  readonly timings: [string, number][] = [];

  constructor(
    readonly name: string,
    readonly files: string[],
    readonly vars: Record<string, string>,
    readonly profiles: string[] = [],
  ) {
    const dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-compose-'));
    this.#envFile = path.join(dir, 'empty.env');
    writeFileSync(this.#envFile, '');
    this.#read = new Set(files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\$\{(\w+)/g)].map((m) => m[1]!)));
  }

  /** `compose <args>`; rejects with the output when it fails (unless `allowFail`). */
  async run(args: string[], opts: { label?: string; allowFail?: boolean } = {}): Promise<Ran> {
    const [bin, ...pre] = this.#cmd;
    const full = [
      ...pre,
      '--env-file',
      this.#envFile,
      '-p',
      this.name,
      ...this.files.flatMap((f) => ['-f', f]),
      ...this.profiles.flatMap((p) => ['--profile', p]),
      ...args,
    ];
    const started = performance.now();
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.vars };
    for (const name of this.#read) if (!(name in this.vars)) delete env[name];
    const child = spawn(bin!, full, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    if (opts.label) this.timings.push([opts.label, (performance.now() - started) / 1000]);
    if (code !== 0 && !opts.allowFail) throw new Error(`${this.#cmd.join(' ')} ${full.join(' ')} → ${code}\n${out}`);
    return { code, out };
  }

  /** Runs `command` in the service's container (the first, or replica `index` of a scaled service); its output. */
  async exec(service: string, command: string[], index = 1): Promise<string> {
    return (await this.run(['exec', '-T', `--index=${index}`, service, ...command])).out;
  }

  async logs(service?: string): Promise<string> {
    return (await this.run(['logs', '--no-color', ...(service ? [service] : [])], { allowFail: true })).out;
  }

  /**
   * Removes everything the project started: containers, networks, volumes. Never throws. Twice when the first
   * left something (podman may refuse to remove http while the demo, in its network namespace, is going).
   */
  async down(): Promise<Ran> {
    const args = ['down', '-v', '--remove-orphans', '--timeout', '10'];
    const first = await this.run(args, { label: 'down', allowFail: true });
    if (first.code === 0 && !/error|in use|being used|associated containers/i.test(first.out)) return first;
    return this.run(args, { allowFail: true });
  }
}

/** Polls `check` until it returns a value (not undefined), for at most `ms`; the last error in the failure. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s${last ? ` (${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** 200 from `url` (a readiness probe, a page), or undefined. */
export async function answers(url: string): Promise<true | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  await res.arrayBuffer();
  return res.status === 200 ? true : undefined;
}
