import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFromContext, linkProductionModules, parseDockerfile, type Stage } from '../helpers/dockerfile.js';

// The image is built for real by `npm run test:compose` (test/compose/, a container engine needed). Here, on any
// machine, the cheaper guard: the build stage's steps run on exactly the files its COPY lines bring in (an import of
// a file the Dockerfile does not copy fails here as it would in `docker build`), and the last stage, assembled from
// what it copies with only the production dependencies, loads every role.
const stages = parseDockerfile(readFileSync('Dockerfile', 'utf8'));
const byName = (name: string) => stages.find((s) => s.name === name)!;
const runtime = stages.at(-1)!;
const nvmrc = readFileSync('.nvmrc', 'utf8').trim();

/** The stage's RUN steps in `appDir`; `npm ci` is stood in for by the checkout's node_modules (same lock file). */
function runSteps(stage: Stage, appDir: string): { status: number | null; output: string } {
  for (const step of stage.steps) {
    if (step.kind !== 'run') continue;
    if (/^npm ci\b/.test(step.command)) {
      symlinkSync(path.resolve('node_modules'), path.join(appDir, 'node_modules'), 'dir');
      continue;
    }
    const r = spawnSync('sh', ['-c', step.command], { cwd: appDir, encoding: 'utf8' });
    if (r.status !== 0) return { status: r.status, output: `${step.command}: ${r.stdout}${r.stderr}` };
  }
  return { status: 0, output: '' };
}

/** A temp root standing for the stage's filesystem, its context COPYs done; returns the app folder in it. */
function contextCopies(stage: Stage, root: string, fromStage?: (s: string, src: string, dest: string) => void) {
  copyFromContext(stage, '.', root, fromStage);
  return root;
}

describe('Dockerfile', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'scanlogin-dockerfile-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('builds from the Node LTS that .nvmrc names in every stage; package.json, CI and the docs say the same', () => {
    expect(nvmrc).toMatch(/^\d+$/);
    for (const s of stages) expect(s.image, s.name ?? 'last stage').toBe(`node:${nvmrc}-bookworm-slim`);
    const engines = (JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
    const min = Number(/^>=(\d+)$/.exec(engines)?.[1]);
    expect(min, `engines.node "${engines}"`).toBeLessThanOrEqual(Number(nvmrc));
    expect(readFileSync('.ci/run', 'utf8')).toContain('.nvmrc');
    expect(readFileSync('docs/deploy.md', 'utf8')).toContain(`Node ${nvmrc}`);
  });

  it('runs the compiled CLI as an unprivileged user and ships the page', () => {
    const text = readFileSync('Dockerfile', 'utf8');
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^ENTRYPOINT \["node", "dist\/server\/cli\.js"\]$/m);
    const copies = runtime.steps.filter((s) => s.kind === 'copy');
    expect(copies.some((c) => c.sources.includes('web/public'))).toBe(true);
  });

  it('the files the build stage copies are enough to build (npm run build on exactly them)', () => {
    const app = path.join(contextCopies(byName('build'), path.join(root, 'build')), 'app');
    const built = runSteps(byName('build'), app);
    expect(built.output).toBe('');
    expect(existsSync(path.join(app, 'dist/server/cli.js'))).toBe(true);
  }, 180_000);

  it('...and a COPY left out fails that build (the guard can fail)', () => {
    const stage = byName('build');
    const without: Stage = {
      ...stage,
      // The cheapest to fail (tsc stops at once); any other would fail as surely, later.
      steps: stage.steps.filter((s) => !(s.kind === 'copy' && s.sources.includes('tsconfig.json'))),
    };
    expect(without.steps.length).toBe(stage.steps.length - 1);
    const app = path.join(contextCopies(without, path.join(root, 'broken')), 'app');
    const built = runSteps(without, app);
    expect(built.status).not.toBe(0);
    expect(built.output).toMatch(/tsconfig\.json/);
  }, 180_000);

  it('the last stage, only what it copies and the production dependencies, loads every role', () => {
    const built = path.join(root, 'build', 'app');
    expect(existsSync(path.join(built, 'dist/server/cli.js')), 'the build test ran first').toBe(true);
    const runRoot = path.join(root, 'runtime');
    contextCopies(runtime, runRoot, (from, source, dest) => {
      mkdirSync(path.dirname(dest), { recursive: true });
      if (from === 'deps' && source === '/app/node_modules') {
        // What the deps stage's `npm ci --omit=dev` installs.
        const deps = byName('deps').steps.filter((s) => s.kind === 'run');
        expect(deps.map((s) => s.kind === 'run' && s.command)).toEqual([expect.stringMatching(/^npm ci --omit=dev\b/)]);
        mkdirSync(dest);
        linkProductionModules('package-lock.json', path.resolve('node_modules'), dest);
        return;
      }
      expect(from).toBe('build');
      cpSync(path.join(built, path.posix.relative('/app', source)), dest, { recursive: true });
    });
    const app = path.join(runRoot, 'app');
    expect(existsSync(path.join(app, 'node_modules/typescript'))).toBe(false); // no dev dependency
    expect(existsSync(path.join(app, 'dist/bench'))).toBe(false);
    // The roles' modules (the CLI loads http and demo on demand) and the page's files, as the http role serves them.
    const roles = ['http', 'ws', 'sim', 'demo'].map((r) => `./dist/server/roles/${r}.js`);
    const load = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `for (const m of ${JSON.stringify(roles)}) await import(m);`],
      { cwd: app, encoding: 'utf8' },
    );
    expect(load.stderr.replace(/^.*Unsupported runtime.*$/m, '').trim()).toBe('');
    expect(load.status).toBe(0);
    const help = spawnSync(process.execPath, ['dist/server/cli.js', 'help'], { cwd: app, encoding: 'utf8' });
    expect(help.stdout).toMatch(/^\s+http\s/m);
    for (const f of ['web/public/index.html', 'dist/web/scanlogin.js', 'dist/server/healthcheck.js'])
      expect(existsSync(path.join(app, f)), f).toBe(true);
  }, 60_000);
});
