import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface NginxHandle {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A private nginx in front of the http and ws roles, configured as the README recommends for production:
 * `/ws` upgraded to the push server, everything else to the http role, X-Forwarded-For/-Proto set. It reaches
 * the upstreams from 127.0.0.2, so a role that ignored X-Forwarded-For would see a different address than the
 * client's 127.0.0.1. With `basePath` (the http role's BASE_PATH) only `location <basePath>/` goes to the http
 * role, path unchanged, as in the README's "Serving under a path"; the rest of the site is nginx's own (404).
 */
export async function startNginx(opts: {
  port: number;
  httpPort: number;
  wsPort: number;
  basePath?: string;
}): Promise<NginxHandle> {
  const dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-nginx-'));
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, d));
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${opts.port};
    proxy_bind 127.0.0.2;
    proxy_set_header Host $host:$server_port;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    location /ws {
      proxy_pass http://127.0.0.1:${opts.wsPort};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      # A location with its own proxy_set_header inherits none from the server block: repeat the client's IP.
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Host $host:$server_port;
      proxy_read_timeout 3600s;
    }
    location ${opts.basePath ?? ''}/ {
      proxy_pass http://127.0.0.1:${opts.httpPort};
      proxy_http_version 1.1;
      proxy_read_timeout 60s;
    }
  }
}
`;
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
