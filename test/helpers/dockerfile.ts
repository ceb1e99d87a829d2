import { cpSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';

/**
 * The Dockerfile as the tests need it: its stages, what each COPYs and RUNs. Reading it this way, instead of
 * building the image, lets `npm test` check on a machine without a container engine that the files the Dockerfile
 * copies are the ones the build needs (a missing COPY once left the image unbuildable while every test passed).
 * Only the instructions this repository's Dockerfile uses are understood; anything else fails loudly.
 */
export interface Copy {
  /** `--from=<stage>`, or undefined for the build context. */
  from?: string;
  sources: string[];
  /** Absolute, in the image (WORKDIR applied). */
  dest: string;
  /** The destination is a folder the sources go into (`./`, or several sources), not the name of the copy. */
  intoDir: boolean;
}

export interface Stage {
  name?: string;
  image: string;
  steps: (({ kind: 'copy' } & Copy) | { kind: 'run'; command: string })[];
}

const KNOWN = new Set(['FROM', 'WORKDIR', 'COPY', 'RUN', 'ENV', 'USER', 'HEALTHCHECK', 'ENTRYPOINT', 'CMD', 'EXPOSE']);

export function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  let workdir = '/';
  for (const line of lines) {
    const [instruction = '', ...rest] = line.split(/\s+/);
    const op = instruction.toUpperCase();
    if (!KNOWN.has(op)) throw new Error(`Dockerfile: ${op} is not understood by test/helpers/dockerfile.ts`);
    const stage = stages.at(-1);
    if (op === 'FROM') {
      const [image, as, name] = rest;
      stages.push({ image: image!, ...(as?.toUpperCase() === 'AS' && { name }), steps: [] });
      workdir = '/';
    } else if (!stage) {
      throw new Error(`Dockerfile: ${op} before FROM`);
    } else if (op === 'WORKDIR') {
      workdir = path.posix.resolve(workdir, rest[0]!);
    } else if (op === 'RUN') {
      stage.steps.push({ kind: 'run', command: rest.join(' ') });
    } else if (op === 'COPY') {
      const flags = rest.filter((a) => a.startsWith('--'));
      const args = rest.filter((a) => !a.startsWith('--'));
      for (const f of flags) if (!/^--(from|chown|chmod)=/.test(f)) throw new Error(`Dockerfile: COPY ${f}`);
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      const dest = args.pop()!;
      stage.steps.push({
        kind: 'copy',
        ...(from && { from }),
        sources: args,
        dest: path.posix.resolve(workdir, dest),
        intoDir: dest.endsWith('/') || args.length > 1,
      });
    }
  }
  return stages;
}

/** .dockerignore's patterns as matchers of context-relative paths (`*` within a segment, `**` across them). */
export function dockerignore(contextDir: string): (rel: string) => boolean {
  const file = path.join(contextDir, '.dockerignore');
  const patterns = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
    : [];
  if (patterns.some((p) => p.startsWith('!'))) throw new Error('.dockerignore: exceptions (!) are not understood');
  const res = patterns.map((p) => {
    const body = p
      .replace(/^\/+|\/+$/g, '')
      .split('**')
      .map((part) =>
        part
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]'),
      )
      .join('.*');
    return new RegExp(`^${body}(/.*)?$`); // a matched folder excludes everything under it
  });
  return (rel) => res.some((re) => re.test(rel));
}

/**
 * Does what `stage`'s COPY steps from the build context do, into `root` (standing for the image's filesystem:
 * `/app` → `<root>/app`), skipping what .dockerignore excludes. Copies from other stages are left to the caller
 * (`fromStage`), which gets the source path in that stage and the destination under `root`.
 */
export function copyFromContext(
  stage: Stage,
  contextDir: string,
  root: string,
  fromStage: (stage: string, source: string, dest: string) => void = () => undefined,
): void {
  const ignored = dockerignore(contextDir);
  for (const step of stage.steps) {
    if (step.kind !== 'copy') continue;
    for (const source of step.sources) {
      const dest = path.join(root, step.dest, step.intoDir ? path.posix.basename(source) : '');
      if (step.from) {
        fromStage(step.from, source, dest);
        continue;
      }
      const rel = path.posix.normalize(source).replace(/^\.?\/+/, '');
      const src = path.join(contextDir, rel);
      if (!existsSync(src) || ignored(rel)) throw new Error(`COPY ${source}: not in the build context`);
      mkdirSync(path.dirname(dest), { recursive: true });
      cpSync(src, dest, {
        recursive: true,
        filter: (from) => !ignored(path.relative(contextDir, from).split(path.sep).join('/')),
      });
    }
  }
}

/**
 * A node_modules of links to `from`'s packages that package-lock.json marks as production ones (no "dev"): the
 * tree `npm ci --omit=dev` installs, without installing anything.
 */
export function linkProductionModules(lockFile: string, from: string, to: string): string[] {
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean }>;
  };
  const linked: string[] = [];
  for (const [key, meta] of Object.entries(lock.packages)) {
    // Top-level packages only: a nested node_modules comes along inside its parent's folder.
    const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(key);
    if (!m || meta.dev) continue;
    const src = path.join(from, m[1]!);
    if (!existsSync(src) && meta.optional) continue; // another platform's binary
    if (!statSync(src).isDirectory()) throw new Error(`${src}: missing (run npm ci)`);
    mkdirSync(path.dirname(path.join(to, m[1]!)), { recursive: true });
    symlinkSync(src, path.join(to, m[1]!), 'dir');
    linked.push(m[1]!);
  }
  return linked;
}
