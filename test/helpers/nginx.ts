import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The nginx config of the production compose (docker-compose.prod.yml mounts it). */
export const DEPLOY_CONF = 'deploy/nginx.conf';
/** The nginx service's command there: writes the resolver DEPLOY_CONF includes, then starts nginx. */
export const NGINX_START = 'deploy/nginx-start.sh';
/** Where DEPLOY_CONF includes the resolver from (written by NGINX_START in the container). */
export const RESOLVER_INCLUDE = 'include /etc/nginx/resolver.conf;';

/**
 * Runs NGINX_START as the container would, on `resolvConf`'s text instead of /etc/resolv.conf, with `true` for
 * nginx; returns the resolver file it wrote (in `dir`) and its text.
 */
export function writeResolverConf(dir: string, resolvConf: string): { file: string; text: string } {
  const resolv = path.join(dir, 'resolv.conf');
  const file = path.join(dir, 'resolver.conf');
  writeFileSync(resolv, resolvConf);
  execFileSync('sh', [NGINX_START, 'true'], {
    env: { ...process.env, RESOLV_CONF: resolv, RESOLVER_CONF: file },
    stdio: ['ignore', 'pipe', 'pipe'], // its complaint is in the error thrown, not on the test's stderr
  });
  return { file, text: readFileSync(file, 'utf8') };
}

/**
 * deploy/nginx.conf with what differs on a test machine swapped in: addresses, a private prefix for nginx's
 * own files (pid, logs, temp, the resolver file), no Docker DNS names. Each swap must match exactly once, so an edit of the file
 * that the test could no longer follow fails loudly instead of testing something else.
 */
export function renderNginxConf(
  text: string,
  opts: { port: number; httpPort: number; wsPort: number; basePath?: string; dir: string },
): string {
  const d = opts.dir;
  const swaps: [string, string][] = [
    [
      'worker_processes auto;',
      `worker_processes 1;\npid ${d}/nginx.pid;\nerror_log ${d}/error.log warn;${process.getuid?.() === 0 ? '\nuser root;' : ''}`,
    ],
    [
      '\nhttp {',
      `\nhttp {\n  access_log off;\n${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
        .map((t) => `  ${t}_temp_path ${d}/${t === 'client_body' ? 'body' : t};`)
        .join('\n')}`,
    ],
    // The upstreams below are addresses: the resolver is written as in the container, never asked.
    [RESOLVER_INCLUDE, `include ${writeResolverConf(d, 'nameserver 127.0.0.11\n').file};`],
    ['listen 80;', `listen 127.0.0.1:${opts.port};\n    proxy_bind 127.0.0.2;`],
    ['set $scanlogin_ws ws:3001;', `set $scanlogin_ws 127.0.0.1:${opts.wsPort};`],
    ['set $scanlogin_http http:3000;', `set $scanlogin_http 127.0.0.1:${opts.httpPort};`],
    ['location / {', `location ${opts.basePath ?? ''}/ {`],
  ];
  for (const [from, to] of swaps) {
    const parts = text.split(from);
    if (parts.length !== 2) throw new Error(`${DEPLOY_CONF}: expected "${from.trim()}" exactly once`);
    text = parts.join(to);
  }
  return text;
}

export interface NginxHandle {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A private nginx running deploy/nginx.conf — the file the production compose mounts — rendered for this machine:
 * it listens on 127.0.0.1:`port`, sends `/ws` to the push server and the rest to the http role on loopback, and
 * reaches them from 127.0.0.2, so a role that ignored X-Forwarded-For would see a different address than the
 * client's 127.0.0.1. With `basePath` (the http role's BASE_PATH) only `location <basePath>/` goes to the http
 * role, path unchanged, as in docs/deploy.md "Serving under a path"; the rest of the site is nginx's own (404).
 */
export async function startNginx(opts: {
  port: number;
  httpPort: number;
  wsPort: number;
  basePath?: string;
}): Promise<NginxHandle> {
  const dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-nginx-'));
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, d));
  const conf = renderNginxConf(readFileSync(DEPLOY_CONF, 'utf8'), { ...opts, dir });
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', file, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  await waitPort(opts.port, child, () => stderr);
  return {
    url: `http://127.0.0.1:${opts.port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGQUIT'); // graceful: finish open requests
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on ${port}: ${stderr()}`);
}
