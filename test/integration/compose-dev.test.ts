import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_KEYS, type ConfigRole, loadConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { demoBaseUrl } from '../../server/roles/demo.js';
import { runSim } from '../../server/roles/sim.js';
import { envOf as envIn, interpolate, loadCompose } from '../helpers/compose-file.js';

// docker-compose.yml, statically (on any machine); test/compose/dev.test.ts brings it up for real.
const services = loadCompose('docker-compose.yml');
const appServices = ['sim', 'ws', 'http', 'demo'] as const satisfies readonly ConfigRole[];
const envOf = (name: string, vars: NodeJS.ProcessEnv = {}) => envIn(services, name, vars);
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
    http: loadConfig(envOf('http', vars), 'http'),
    ws: loadConfig(envOf('ws', vars), 'ws'),
    sim: loadConfig(envOf('sim', vars), 'sim'),
    demo: loadConfig(envOf('demo', vars), 'demo'),
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
      // The shop is the http role's client with the very secret the demo role signs in with (the demo role refuses
      // to start without one).
      expect(http.oidc.demoClient?.redirect_uris).toEqual([`${demoBaseUrl(demo)}/callback`]);
      expect(demo.oidc.demoClient?.client_secret).toBeTruthy();
      expect(demo.oidc.demoClient).toEqual(http.oidc.demoClient);
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
