import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, type ConfigRole, loadConfig } from '../../server/config.js';
import { parseConfigFile } from '../../server/reload/config-file.js';
import { envOf, loadCompose } from '../helpers/compose-file.js';
import { DEPLOY_CONF, NGINX_START, RESOLVER_INCLUDE, writeResolverConf } from '../helpers/nginx.js';

// docker-compose.prod.yml, statically (on any machine): test/compose/prod.test.ts brings it up for real, and
// deploy/nginx.conf runs in front of the roles in test/integration/nginx.test.ts. docker-compose.yml:
// compose-dev.test.ts.
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
  const prodEnv = (name: keyof typeof roles, vars = dotEnv) => envOf(prod, name, vars);
  const sentinels = ['sentinel-1', 'sentinel-2', 'sentinel-3'];
  const clusterNodes = [1, 2, 3, 4, 5, 6].map((i) => `redis-node-${i}`);

  it('runs nginx in front of http and ws on Redis, with no simulator or demo', () => {
    const cluster = [...clusterNodes, 'redis-cluster-init'];
    expect(Object.keys(prod).sort()).toEqual(
      ['http', 'nginx', 'redis', 'redis-replica', ...sentinels, ...cluster, 'ws'].sort(),
    );
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

  it('has a cluster profile: six cluster nodes on volumes of their own, formed by a one-shot service', () => {
    const volumes = new Set<string>();
    for (const name of clusterNodes) {
      const node = prod[name]!;
      expect(node.profiles, name).toEqual(['cluster']);
      const args = node.command!.join(' ');
      expect(args).toMatch(/^redis-server .*--cluster-enabled yes/);
      // nodes.conf (the node's id, its view of the cluster) and the AOF on the node's own volume.
      expect(args).toMatch(/--cluster-config-file nodes\.conf/);
      expect(args).toMatch(/--appendonly yes/);
      expect(args).toMatch(/--maxmemory-policy volatile-lru/);
      expect(node.volumes).toHaveLength(1);
      expect(node.volumes![0]).toMatch(/:\/data$/);
      volumes.add(node.volumes![0]!);
    }
    expect(volumes.size).toBe(clusterNodes.length);
    const init = prod['redis-cluster-init']!;
    expect(init.profiles).toEqual(['cluster']);
    expect(init.restart).toBe('no');
    expect(init.command).toEqual(['sh', '/etc/scanlogin-cluster/redis-cluster-init.sh']);
    expect(init.volumes).toContain('./deploy/redis-cluster-init.sh:/etc/scanlogin-cluster/redis-cluster-init.sh:ro');
    expect(String(envOf(prod, 'redis-cluster-init', dotEnv).REDIS_CLUSTER_HOSTS).split(' ')).toEqual(clusterNodes);
    expect(Object.keys(init.depends_on!).sort()).toEqual([...clusterNodes].sort());
    // The script is POSIX sh (the redis image may be Alpine's busybox or Debian's dash).
    const check = spawnSync('sh', ['-n', 'deploy/redis-cluster-init.sh'], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    // The CONFIG_FILE to switch to: a cluster target naming every node as a seed.
    const alt = 'deploy/config/scanlogin.cluster.json';
    const target = parseConfigFile(readFileSync(alt, 'utf8'), alt, 'scanlogin:');
    expect(target.kind).toBe('cluster');
    if (target.kind !== 'cluster') return;
    expect(target.nodes).toEqual(clusterNodes.map((host) => ({ host, port: 6379 })));
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
