import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
import { DEPLOY_CONF, NGINX_START, RESOLVER_INCLUDE, writeResolverConf } from '../helpers/nginx.js';
import { demoBaseUrl } from '../../server/roles/demo.js';

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
  healthcheck?: { test?: string[]; disable?: boolean };
  network_mode?: string;
}
function loadCompose(file: string): Record<string, Service> {
  return (parse(readFileSync(file, 'utf8'), { merge: true }) as { services: Record<string, Service> }).services;
}
const services = loadCompose('docker-compose.yml');
const appServices = ['sim', 'ws', 'http', 'demo'] as const;

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
/** A service's published ports as compose reads them: `hostIp:hostPort:containerPort`. */
function portsOf(name: string, vars: NodeJS.ProcessEnv = {}): { ip: string; host: number; container: number }[] {
  return (services[name]!.ports ?? []).map((p) => {
    const parts = interpolate(p, vars).split(':');
    expect(parts, p).toHaveLength(3); // always with a host address: never every interface by accident
    return { ip: parts[0]!, host: Number(parts[1]), container: Number(parts[2]) };
  });
}
/** The host port published for `containerPort` (compose's defaults, or `vars`); the same number on both sides. */
function published(name: string, containerPort: number, vars: NodeJS.ProcessEnv = {}): number {
  const port = portsOf(name, vars).find((p) => p.container === containerPort);
  expect(port, `${name} publishes ${containerPort}`).toBeDefined();
  expect(port!.host).toBe(containerPort);
  return port!.host;
}
/** Each role's configuration as the dev file gives it, under `vars` (the environment / .env compose reads). */
function devConfig(vars: NodeJS.ProcessEnv = {}) {
  return {
    http: loadConfig(envOf('http', services, vars), 'http'),
    ws: loadConfig(envOf('ws', services, vars), 'ws'),
    sim: loadConfig(envOf('sim', services, vars), 'sim'),
    demo: loadConfig(envOf('demo', services, vars), 'demo'),
  };
}
const OTHER_PORTS = { HTTP_PORT: '4100', WS_PORT: '4101', SIM_PORT: '4102', DEMO_PORT: '4103' };

describe('docker-compose.yml', () => {
  it('has redis, the key maker and one service per role, each running a role the CLI knows', () => {
    expect(Object.keys(services).sort()).toEqual(['demo', 'http', 'keys', 'redis', 'sim', 'ws']);
    const usage = execFileSync(process.execPath, ['dist/server/cli.js', 'help'], { encoding: 'utf8' });
    for (const name of [...appServices, 'keys']) {
      expect(services[name]!.build).toBe('.');
      expect(services[name]!.command![0]).toBe(name);
      expect(usage).toMatch(new RegExp(`^\\s+${name}\\s`, 'm'));
    }
    for (const name of appServices) expect(services[name]!.command).toEqual([name]);
    expect(services.redis!.image).toMatch(/^redis:7/);
  });

  it('gives every role only configuration keys the config module knows, and a valid configuration', () => {
    for (const name of appServices) {
      const env = envOf(name);
      for (const key of Object.keys(env)) expect(CONFIG_KEYS, `${name}: ${key}`).toContain(key);
      expect(() => loadConfig(env, name)).not.toThrow();
    }
  });

  for (const [label, vars] of [
    ['by default', {}],
    ['on other ports (HTTP_PORT, WS_PORT, SIM_PORT, DEMO_PORT)', OTHER_PORTS],
  ] as const) {
    it(`wires ports and URLs consistently ${label}: browser-facing URLs use published ports, server-to-server uses service names`, () => {
      const { http, ws, sim, demo } = devConfig(vars);
      expect(http.httpPort).toBe(published('http', http.httpPort, vars));
      expect(ws.wsPort).toBe(published('ws', ws.wsPort, vars));
      expect(sim.simPort).toBe(published('sim', sim.simPort, vars));
      expect(new URL(http.publicUrl).port).toBe(String(http.httpPort));
      expect(new URL(http.wsPublicUrl).port).toBe(String(ws.wsPort));
      expect(new URL(http.wsPublicUrl).pathname).toBe('/ws');
      expect(new URL(http.wechat.openBase).port).toBe(String(sim.simPort));
      expect(new URL(http.wechat.apiBase).host).toBe(`sim:${sim.simPort}`);
      expect(new URL(http.redis.url!).hostname).toBe('redis');
      expect(http.host).toBe('0.0.0.0');
      // Example Shop: its port is published on http (it lives in http's network namespace), and it is the client
      // the http role registers, redirecting back to where the browser reaches it.
      expect(published('http', demo.demoPort, vars)).toBe(demo.demoPort);
      expect(demoBaseUrl(demo)).toBe(`http://localhost:${demo.demoPort}`);
      expect(http.oidc.client?.redirect_uris).toEqual([`${demoBaseUrl(demo)}/callback`]);
      expect(demo.oidc.client).toEqual(http.oidc.client);
      // ...and the issuer it discovers is the http role's, which is its own localhost there.
      expect(demo.appUrl).toBe(http.appUrl);
      expect(new URL(demo.appUrl).hostname).toBe('localhost');
      // The health checks ask the ports the roles listen on.
      expect(services.sim!.healthcheck?.test?.map((a) => interpolate(a, vars)).join(' ')).toContain(
        `127.0.0.1:${sim.simPort}/sim/stats`,
      );
      // The shop's check asks its own port and, as its network namespace must be http's, the http role's.
      const shopCheck = services.demo!.healthcheck?.test?.map((a) => interpolate(a, vars)).join(' ');
      expect(shopCheck).toContain(`'${demo.demoPort}/'`);
      expect(shopCheck).toContain(`'${http.httpPort}/livez'`);
      expect(shopCheck).toContain("'http://127.0.0.1:'");
    });
  }

  it('publishes on BIND_ADDRESS, the loopback unless told; the simulator on the loopback whatever it says', () => {
    for (const name of ['http', 'ws', 'sim']) {
      for (const p of portsOf(name)) expect(p.ip, name).toBe('127.0.0.1');
    }
    const open = { BIND_ADDRESS: '0.0.0.0' };
    for (const name of ['http', 'ws']) for (const p of portsOf(name, open)) expect(p.ip, name).toBe('0.0.0.0');
    for (const p of portsOf('sim', open)) expect(p.ip).toBe('127.0.0.1');
    // Only these publish (redis, keys none; demo through http).
    const publishing = Object.keys(services).filter((n) => services[n]!.ports);
    expect(publishing.sort()).toEqual(['http', 'sim', 'ws']);
  });

  it("runs Example Shop in the http service's network namespace", () => {
    expect(services.demo!.network_mode).toBe('service:http');
    expect(services.demo!.ports).toBeUndefined();
    expect(services.demo!.depends_on?.http?.condition).toBe('service_healthy');
  });

  it('keeps the OpenID Connect signing keys in a volume made once by the keys service, read by every http replica', () => {
    const file = envOf('http').OIDC_JWKS_FILE!;
    const [keysVolume, keysDir] = services.keys!.volumes![0]!.split(':');
    expect(services.keys!.command).toEqual(['keys', file]);
    expect(path.posix.dirname(file)).toBe(keysDir);
    expect(services.http!.volumes).toEqual([`${keysVolume}:${keysDir}:ro`]);
    expect(services.http!.depends_on?.keys?.condition).toBe('service_completed_successfully');
    expect(services.keys!.healthcheck?.disable).toBe(true);
    const volumes = (parse(readFileSync('docker-compose.yml', 'utf8')) as { volumes: Record<string, unknown> }).volumes;
    expect(Object.keys(volumes)).toContain(keysVolume);
    // The image makes that folder the node user's, so the new volume is writable by the (non-root) role.
    expect(readFileSync('Dockerfile', 'utf8')).toMatch(new RegExp(`chown node:node ${keysDir}\\b`));
  });

  it("sends the simulator's event pushes and mini-program calls to the app by service name, not PUBLIC_URL", () => {
    // Inside the sim container PUBLIC_URL's localhost:3000 is the simulator itself.
    for (const vars of [{}, OTHER_PORTS]) {
      const { sim, http } = devConfig(vars);
      const app = new URL(sim.simAppUrl);
      expect(app.hostname).toBe('http');
      expect(Number(app.port)).toBe(http.httpPort);
      expect(sim.appUrl).toBe(`http://localhost:${http.httpPort}`); // phones are still redirected to the public origin
    }
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
  });

  it('starts http and ws only once redis is healthy', () => {
    expect(services.redis!.command).toEqual(expect.arrayContaining(['redis-server']));
    for (const name of ['ws', 'http']) expect(services[name]!.depends_on?.redis?.condition).toBe('service_healthy');
    // ...and http once the simulator answers (it fetches the access_token from it at start-up).
    expect(services.http!.depends_on?.sim?.condition).toBe('service_healthy');
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
    // Valid as mounted, not only as the test renders it (the service names resolve per request, not here): only
    // the resolver file the start script writes in the container is put elsewhere.
    const dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-nginx-t-'));
    mkdirSync(path.join(dir, 'logs'));
    const mounted = path.join(dir, 'nginx.conf');
    const { file } = writeResolverConf(dir, 'nameserver 127.0.0.11\n');
    expect(conf.split(RESOLVER_INCLUDE)).toHaveLength(2);
    writeFileSync(mounted, conf.replace(RESOLVER_INCLUDE, `include ${file};`));
    const t = spawnSync('nginx', ['-t', '-p', dir, '-c', mounted, '-g', `pid ${dir}/n.pid;`], { encoding: 'utf8' });
    expect(t.stderr).toContain('test is successful');
  });

  it("resolves the replicas through the container's own DNS server, on Docker and on podman alike", () => {
    // The start script, mounted beside the config, writes the resolver nginx.conf includes, then runs nginx.
    expect(prod.nginx!.command).toEqual(['sh', '/etc/nginx/scanlogin/nginx-start.sh']);
    expect(prod.nginx!.volumes).toContain(`./${NGINX_START}:/etc/nginx/scanlogin/nginx-start.sh:ro`);
    const dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-resolver-'));
    // Docker's embedded DNS on a compose network.
    expect(writeResolverConf(dir, 'search lan\nnameserver 127.0.0.11\noptions ndots:0\n').text).toBe(
      'resolver 127.0.0.11 valid=5s ipv6=off;\n',
    );
    // podman's aardvark-dns on the network's gateway, then the host's servers: only the first knows the services
    // (nginx would ask the others in turn, and get "Host not found" every other time).
    expect(writeResolverConf(dir, 'search dns.podman\nnameserver 10.89.0.1\nnameserver 10.255.255.53\n').text).toBe(
      'resolver 10.89.0.1 valid=5s ipv6=off;\n',
    );
    expect(writeResolverConf(dir, 'nameserver fe80::1%eth0\nnameserver fd00::1\nnameserver 10.0.0.2\n').text).toBe(
      'resolver [fd00::1] valid=5s ipv6=off;\n',
    );
    // No nameserver: nginx would start and fail every request; the container stops instead, saying why.
    expect(() => writeResolverConf(dir, '# nothing\n')).toThrow(/no nameserver/);
  });

  it('fails over from a replica that does not accept within seconds (a scale-down), instead of the default minute', () => {
    const conf = readFileSync(DEPLOY_CONF, 'utf8');
    const connect = /^\s*proxy_connect_timeout (\d+)s;/gm;
    const found = [...conf.matchAll(connect)];
    // Once, for every location (none sets its own), and short: a live replica accepts at once on the network.
    expect(found).toHaveLength(1);
    expect(conf.indexOf(found[0]![0])).toBeLessThan(conf.indexOf('server {'));
    expect(Number(found[0]![1])).toBeLessThanOrEqual(5);
    expect(conf).toMatch(/^\s*proxy_next_upstream error timeout;/m);
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

describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');
  it('shows the two commands and documents every configuration key', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
    for (const key of CONFIG_KEYS) expect(readme, key).toContain(`\`${key}\``);
  });
});
