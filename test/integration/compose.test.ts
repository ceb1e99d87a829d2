import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { silentLogger } from '../../server/log.js';
import { runSim } from '../../server/roles/sim.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_KEYS, type ConfigRole, loadConfig } from '../../server/config.js';
import { parseConfigFile } from '../../server/reload/config-file.js';
import { DEPLOY_CONF } from '../helpers/nginx.js';

// No Docker engine runs on the CI machines, so the compose files are kept honest statically here, and the same
// topologies run for real elsewhere: separate redis, sim, ws and http processes in the browser end-to-end test,
// deploy/nginx.conf in front of the roles in test/integration/nginx.test.ts.
interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  secrets?: string[];
  profiles?: string[];
  container_name?: string;
  user?: string;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
function loadCompose(file: string): Record<string, Service> {
  return (parse(readFileSync(file, 'utf8'), { merge: true }) as { services: Record<string, Service> }).services;
}
const services = loadCompose('docker-compose.yml');
const appServices = ['sim', 'ws', 'http'] as const;

/**
 * Compose's interpolation for the forms these files use: `${VAR:-default}`, and `${VAR:?message}`, which stops
 * compose with the message when VAR is unset or empty.
 */
function interpolate(v: string | number, vars: NodeJS.ProcessEnv = process.env): string {
  return String(v).replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg = '') => {
    const value = vars[name];
    if (value) return value;
    if (op === '?') throw new Error(`required variable ${name} is missing a value: ${arg}`);
    return op === '-' ? arg : '';
  });
}
function envOf(name: string, svc = services, vars?: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(svc[name]!.environment ?? {}).map(([k, v]) => [k, interpolate(v, vars)]));
}
function published(name: string): number {
  // `[hostIp:]hostPort:containerPort`
  const [hostPort, containerPort] = services[name]!.ports![0]!.split(':').slice(-2);
  expect(hostPort).toBe(containerPort);
  return Number(hostPort);
}

describe('docker-compose.yml', () => {
  it('has redis plus one service per role, each running a role the CLI knows', () => {
    expect(Object.keys(services).sort()).toEqual(['http', 'redis', 'sim', 'ws']);
    const usage = execFileSync(process.execPath, ['dist/server/cli.js', 'help'], { encoding: 'utf8' });
    for (const name of appServices) {
      expect(services[name]!.build).toBe('.');
      expect(services[name]!.command).toEqual([name]);
      expect(usage).toMatch(new RegExp(`^\\s+${name}\\s`, 'm'));
    }
    expect(services.redis!.image).toMatch(/^redis:7/);
  });

  it('gives every role only configuration keys the config module knows, and a valid configuration', () => {
    for (const name of appServices) {
      const env = envOf(name);
      for (const key of Object.keys(env)) expect(CONFIG_KEYS, `${name}: ${key}`).toContain(key);
      expect(() => loadConfig(env)).not.toThrow();
    }
  });

  it('wires ports and URLs consistently: browser-facing URLs use published ports, server-to-server uses service names', () => {
    const http = loadConfig(envOf('http'));
    expect(http.httpPort).toBe(published('http'));
    expect(loadConfig(envOf('ws')).wsPort).toBe(published('ws'));
    expect(loadConfig(envOf('sim')).simPort).toBe(published('sim'));
    expect(new URL(http.publicUrl).port).toBe(String(published('http')));
    expect(new URL(http.wsPublicUrl).port).toBe(String(published('ws')));
    expect(new URL(http.wsPublicUrl).pathname).toBe('/ws');
    expect(new URL(http.wechat.openBase).port).toBe(String(published('sim')));
    expect(new URL(http.wechat.apiBase).host).toBe('sim:3002');
    expect(new URL(http.redis.url!).hostname).toBe('redis');
    expect(http.host).toBe('0.0.0.0');
  });

  it("sends the simulator's event pushes and mini-program calls to the app by service name, not PUBLIC_URL", () => {
    // Inside the sim container PUBLIC_URL's localhost:3000 is the simulator itself.
    const sim = loadConfig(envOf('sim'), 'sim');
    const app = new URL(sim.simAppUrl);
    expect(app.hostname).toBe('http');
    expect(Number(app.port)).toBe(loadConfig(envOf('http'), 'http').httpPort);
    expect(sim.appUrl).toBe('http://localhost:3000'); // phones are still redirected to the public origin
  });

  it('the simulator role pushes scan events to SIM_APP_URL (here a local stand-in for the http service)', async () => {
    const received: string[] = [];
    const app = createServer((req, res) => {
      received.push(`${req.method} ${req.url?.split('?')[0]}`);
      req.resume().on('end', () => res.end('success'));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const env = { ...envOf('sim'), SIM_PORT: '0', SIM_HOST: '127.0.0.1', SIM_APP_URL: appUrl };
    const sim = await runSim(loadConfig(env, 'sim'), silentLogger());
    try {
      const res = await fetch(`http://127.0.0.1:${sim.port}/sim/mp/scan`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ scene: 'slogin1' }),
      });
      expect(((await res.json()) as { delivered: boolean }).delivered).toBe(true);
      expect(received).toEqual(['POST /wechat/events']);
    } finally {
      await sim.stop();
      app.close();
    }
  });

  it('binds the simulator to every interface itself (its default is 127.0.0.1, unreachable through a port map)', () => {
    expect(loadConfig(envOf('sim')).simHost).toBe('0.0.0.0');
    // ...and the host publishes it on its own loopback only, as `npm start` keeps it.
    expect(services.sim!.ports![0]).toMatch(/^127\.0\.0\.1:/);
  });

  it('starts http and ws only once redis is healthy', () => {
    expect(services.redis!.command).toEqual(expect.arrayContaining(['redis-server']));
    for (const name of ['ws', 'http']) expect(services[name]!.depends_on?.redis?.condition).toBe('service_healthy');
    // ...and http once the simulator answers (it fetches the access_token from it at start-up).
    expect(services.http!.depends_on?.sim?.condition).toBe('service_healthy');
    expect(services.sim!.healthcheck?.test.join(' ')).toContain(`127.0.0.1:${published('sim')}/sim/stats`);
  });

  it('builds an image that runs the compiled CLI and ships the page', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    expect(dockerfile).toMatch(/FROM node:20/);
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "dist\/server\/cli\.js"\]/);
    expect(dockerfile).toMatch(/COPY .*web\/public/);
  });
});

describe('docker-compose.prod.yml', () => {
  const prod = loadCompose('docker-compose.prod.yml');
  // What an operator puts in .env (every required variable; none of the published dev values).
  const dotEnv: NodeJS.ProcessEnv = {
    PUBLIC_URL: 'https://login.example.com',
    WS_PUBLIC_URL: 'wss://login.example.com/ws',
    SESSION_SECRET: 'b1e0c7f4a9d2e8f3c6b5a4d7e0f1c2b3',
    WECHAT_APPID: 'wx0123456789abcdef',
    WECHAT_SECRET: '00112233445566778899aabbccddeeff',
  };
  const roles = { http: 'http', ws: 'ws' } as const satisfies Record<string, ConfigRole>;
  const prodEnv = (name: keyof typeof roles, vars = dotEnv) => envOf(name, prod, vars);
  const sentinels = ['sentinel-1', 'sentinel-2', 'sentinel-3'];

  it('runs nginx in front of http and ws on Redis, with no simulator or demo', () => {
    expect(Object.keys(prod).sort()).toEqual(['http', 'nginx', 'redis', 'redis-replica', ...sentinels, 'ws'].sort());
    for (const name of Object.keys(roles)) {
      expect(prod[name]!.build).toBe('.');
      expect(prod[name]!.command).toEqual([name]);
    }
    expect(prod.nginx!.image).toMatch(/^nginx:/);
  });

  it('gives each role a production configuration that loads, from .env; a missing secret stops compose', () => {
    for (const name of Object.keys(roles) as (keyof typeof roles)[]) {
      const env = prodEnv(name);
      for (const key of Object.keys(env)) expect(CONFIG_KEYS, `${name}: ${key}`).toContain(key);
      const config = loadConfig(env, roles[name]);
      expect(config.production).toBe(true);
      expect(config.devMode).toBe(false);
      expect(config.publicUrl).toBe(dotEnv.PUBLIC_URL);
      expect(config.trustProxy.length).toBeGreaterThan(0); // nginx's X-Forwarded-For is believed
    }
    // The secrets go only to the role that uses them.
    expect(Object.keys(prodEnv('ws'))).not.toContain('SESSION_SECRET');
    expect(prodEnv('http').OIDC_JWKS_FILE).toBe('/run/secrets/oidc_jwks');
    expect(prod.http!.secrets).toContain('oidc_jwks');
    expect(prod.ws!.secrets).toBeUndefined();
    for (const key of Object.keys(dotEnv)) {
      expect(() => prodEnv('http', { ...dotEnv, [key]: '' }), key).toThrow(new RegExp(`${key} in \\.env`));
    }
    // .env.example names every variable the file reads.
    const example = readFileSync('.env.example', 'utf8');
    const used = readFileSync('docker-compose.prod.yml', 'utf8').matchAll(/\$\{(\w+)/g);
    for (const [, name] of used) expect(example, name).toMatch(new RegExp(`^${name}=`, 'm'));
  });

  it('publishes only nginx: http and ws scale with --scale (no host ports, no fixed names)', () => {
    for (const name of Object.keys(prod).filter((n) => n !== 'nginx')) expect(prod[name]!.ports, name).toBeUndefined();
    for (const name of Object.keys(roles)) expect(prod[name]!.container_name).toBeUndefined();
    expect(prod.nginx!.ports).toHaveLength(1);
  });

  it('mounts deploy/nginx.conf — the file the nginx test runs — pointing at the services and their ports', () => {
    expect(prod.nginx!.volumes).toContain(`./${DEPLOY_CONF}:/etc/nginx/nginx.conf:ro`);
    const conf = readFileSync(DEPLOY_CONF, 'utf8');
    expect(conf).toContain(`set $scanlogin_http http:${loadConfig(prodEnv('http'), 'http').httpPort};`);
    expect(conf).toContain(`set $scanlogin_ws ws:${loadConfig(prodEnv('ws'), 'ws').wsPort};`);
    const wsBlock = conf.slice(conf.indexOf('location /ws'), conf.indexOf('location / {'));
    expect(wsBlock).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(wsBlock).toMatch(/proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/);
    // The push server pings every 30 s: the proxy must not cut an idle socket before that.
    const wsTimeout = Number(/proxy_read_timeout (\d+)s;/.exec(wsBlock)?.[1]);
    expect(wsTimeout).toBeGreaterThan(30);
    // Docker's DNS, so new replicas are used without reloading nginx.
    expect(conf).toMatch(/resolver 127\.0\.0\.11 valid=\d+s/);
    // Valid as mounted, not only as the test renders it (the service names resolve per request, not here).
    const dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-nginx-t-'));
    mkdirSync(path.join(dir, 'logs'));
    const t = spawnSync('nginx', ['-t', '-p', dir, '-c', path.resolve(DEPLOY_CONF), '-g', `pid ${dir}/n.pid;`], {
      encoding: 'utf8',
    });
    expect(t.stderr).toContain('test is successful');
  });

  it('mounts one CONFIG_FILE folder in every container, naming the compose Redis (or its Sentinels)', () => {
    for (const name of Object.keys(roles) as (keyof typeof roles)[]) {
      const [host, inContainer] = prod[name]!.volumes![0]!.split(':');
      const file = prodEnv(name).CONFIG_FILE!;
      expect(path.posix.dirname(file)).toBe(inContainer);
      const hostFile = path.join(host!, path.posix.basename(file));
      const target = parseConfigFile(readFileSync(hostFile, 'utf8'), hostFile, 'scanlogin:');
      expect(target.kind === 'standalone' && new URL(target.url).hostname).toBe('redis');
    }
    const alt = 'deploy/config/scanlogin.sentinel.json';
    const target = parseConfigFile(readFileSync(alt, 'utf8'), alt, 'scanlogin:');
    expect(target.kind).toBe('sentinel');
    if (target.kind !== 'sentinel') return;
    expect(target.sentinels.map((s) => s.host).sort()).toEqual(sentinels);
    expect(readFileSync('deploy/sentinel.conf', 'utf8')).toMatch(
      new RegExp(`^sentinel monitor ${target.name} redis 6379 2$`, 'm'),
    );
  });

  it('keeps Redis on disk with AOF, and a Sentinel profile with three sentinels and a replica', () => {
    expect(prod.redis!.command).toEqual(expect.arrayContaining(['redis-server', '--appendonly', 'yes']));
    expect(prod.redis!.volumes?.[0]).toMatch(/:\/data$/);
    expect(prod['redis-replica']!.command).toEqual(expect.arrayContaining(['--replicaof', 'redis', '6379']));
    for (const name of ['redis-replica', ...sentinels]) expect(prod[name]!.profiles).toEqual(['sentinel']);
    for (const name of sentinels) expect(prod[name]!.command!.join(' ')).toMatch(/--sentinel/);
  });
});

describe('README and docs/config.md', () => {
  it('the README shows the two commands; docs/config.md documents every configuration key', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
    const config = readFileSync('docs/config.md', 'utf8');
    for (const key of CONFIG_KEYS) expect(config, key).toContain(`\`${key}\``);
    // …and its table names nothing else: the first cell of each row is the variables it documents.
    const documented = [...config.matchAll(/^\| ([^|]+) \|/gm)].flatMap((row) =>
      [...row[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!),
    );
    expect(documented.filter((key) => !CONFIG_KEYS.includes(key))).toEqual([]);
    expect(new Set(documented).size).toBe(CONFIG_KEYS.length);
  });
});
