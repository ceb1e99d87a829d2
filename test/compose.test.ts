import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_KEYS, loadConfig } from '../server/config.js';

// No Docker engine runs on the CI machines, so the compose file is kept honest statically here, and the same
// topology (separate redis, sim, ws and http processes) runs for real in the browser end-to-end test.
interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const appServices = ['sim', 'ws', 'http'] as const;

/** Compose's `${VAR:-default}` interpolation, for the values in this file. */
function interpolate(v: string | number): string {
  return String(v).replace(/\$\{(\w+):-([^}]*)\}/g, (_, name: string, def: string) => process.env[name] ?? def);
}
function envOf(name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, interpolate(v)]));
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

  it('binds the simulator to every interface itself (its default is 127.0.0.1, unreachable through a port map)', () => {
    expect(loadConfig(envOf('sim')).simHost).toBe('0.0.0.0');
    // ...and the host publishes it on its own loopback only, as `npm start` keeps it.
    expect(services.sim!.ports![0]).toMatch(/^127\.0\.0\.1:/);
  });

  it('starts http and ws only once redis is healthy', () => {
    expect(services.redis!.command).toEqual(expect.arrayContaining(['redis-server']));
    for (const name of ['ws', 'http']) expect(services[name]!.depends_on?.redis?.condition).toBe('service_healthy');
  });

  it('builds an image that runs the compiled CLI and ships the page', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    expect(dockerfile).toMatch(/FROM node:20/);
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "dist\/server\/cli\.js"\]/);
    expect(dockerfile).toMatch(/COPY .*web\/public/);
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
