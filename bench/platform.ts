/**
 * The third-party platform (`npm run bench -- --only=platform`), absolute figures on this machine:
 *  1. a pushed ticket usable on every node: three http nodes on one Redis, the simulator pushing to node A only.
 *     Per round: "visible" = from the push until every node's /healthz shows that ticket; "usable from cold" = the
 *     ticket and the platform token deleted, then from the push until every node has done an operation that needs
 *     the platform token (the operator's "Authorize" → api_create_preauthcode), each node retrying every 5 ms —
 *     and the api_component_token calls that took (one is the fleet's goal).
 *  2. logins per second, on behalf of an authorized account (component authorize URL + component exchange) against
 *     direct `oauth` (the deployment's own account), same run, same path otherwise: an embedded-QR login of a client
 *     bound to the account / of a client with none, the scripted phone through the simulator's consent, the callback
 *     and the confirm page; `concurrency` logins at a time, the two kinds alternated in rounds.
 * In-process roles (one Node process): the figures include the bench's own client work.
 */
import { Redis } from 'ioredis';
import { DEV_COMPONENT, DEV_DEFAULTS, loadConfig } from '../server/config.js';
import { silentLogger } from '../server/log.js';
import { startRedisServer } from '../server/dev/redis-server.js';
import { runHttp } from '../server/roles/http.js';
import { runSim } from '../server/roles/sim.js';
import type { Running } from '../server/roles/running.js';
import { freePort } from '../server/util/free-port.js';
import { keys } from '../server/redis/keys.js';
import { Phone } from '../server/sim/scripted-phone.js';
import { SIM_MERCHANT_APPIDS } from '../server/sim/state/merchants.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface PlatformResult {
  nodes: number;
  rounds: number;
  visibleMs: { p50: number; p95: number; max: number };
  usableColdMs: { p50: number; p95: number; max: number };
  componentTokenCallsPerColdRound: number[];
  logins: { n: number; concurrency: number; directPerS: number; onBehalfPerS: number; ratio: number };
}

const COMPONENT = DEV_COMPONENT.WECHAT_COMPONENT_APPID;
const PREFIX = 'scanlogin:';
const embed = (id: string, account?: string) => ({
  client_id: id,
  client_secret: `${id}-secret-0123456789abcdef`,
  redirect_uris: [`http://${id}.example/cb`],
  embed_origins: [`http://${id}.example`],
  ...(account && { account }),
});
const DIRECT = embed('direct-site');
const ON_BEHALF = embed('coffee-site', SIM_MERCHANT_APPIDS.coffee);
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0';

function stats(xs: number[]): { p50: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: round(at(0.5)), p95: round(at(0.95)), max: round(s[s.length - 1]!) };
}
const round = (x: number) => Math.round(x * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function csrf(node: string): Promise<string> {
  return /name="csrf" value="([^"]+)"/.exec(await (await fetch(`${node}/admin/platform`)).text())![1]!;
}

/** The operator's "Authorize" (needs the platform token): the HTTP status. */
async function startAuthorization(node: string, token: string): Promise<number> {
  const res = await fetch(`${node}/admin/platform/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: token }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** An account's admin authorizes the platform through the operator page and the simulator's page. */
async function authorize(node: string, appid: string): Promise<void> {
  const res = await fetch(`${node}/admin/platform/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: await csrf(node) }),
  });
  const pc = /id="continue" href="([^"]+)"/.exec(await res.text())![1]!.replaceAll('&amp;', '&');
  const page = await (await fetch(pc, { headers: { referer: `${node}/admin/platform` } })).text();
  const field = (n: string) => new RegExp(`name="${n}" value="([^"]+)"`).exec(page)![1]!.replaceAll('&amp;', '&');
  const form = new URLSearchParams({
    component_appid: field('component_appid'),
    pre_auth_code: field('pre_auth_code'),
    redirect_uri: field('redirect_uri'),
    appid,
  });
  for (const id of [1, 2, 3, 4]) form.append('func', String(id));
  const approved = await fetch(`${new URL(pc).origin}/sim/platform/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
    redirect: 'manual',
  });
  await fetch(approved.headers.get('location')!, { redirect: 'manual' });
}

async function componentTokenCalls(simUrl: string): Promise<number> {
  const s = (await (await fetch(`${simUrl}/sim/stats`)).json()) as { calls: Record<string, number> };
  return s.calls['/cgi-bin/component/api_component_token'] ?? 0;
}

/** One whole login of an embedded-QR client, phone included; resolves when it is confirmed. */
async function oneLogin(node: string, c: { client_id: string; redirect_uris: string[] }): Promise<void> {
  const authorizeQuery = new URLSearchParams({
    client_id: c.client_id,
    redirect_uri: c.redirect_uris[0]!,
    response_type: 'code',
    scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  const created = await fetch(`${node}/api/logins`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': BROWSER },
    body: JSON.stringify({ interaction: `embed:${c.client_id}`, authorize: authorizeQuery.toString() }),
  });
  if (created.status !== 201) throw new Error(`create: HTTP ${created.status} ${await created.text()}`);
  const login = (await created.json()) as { scanUrl: string };
  await new Phone().login(login.scanUrl, node);
}

async function loginsPerSecond(
  node: string,
  c: { client_id: string; redirect_uris: string[] },
  n: number,
  concurrency: number,
): Promise<number> {
  let left = n;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await oneLogin(node, c);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

export async function benchPlatform(
  opts: { rounds?: number; logins?: number; concurrency?: number } = {},
): Promise<PlatformResult> {
  const rounds = opts.rounds ?? 20;
  const n = opts.logins ?? 300;
  const concurrency = opts.concurrency ?? 8;
  const redis = await startRedisServer();
  const raw = new Redis(redis.url);
  const dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-bench-platform-'));
  const file = path.join(dir, 'scanlogin.json');
  writeFileSync(file, JSON.stringify({ redis: { url: redis.url }, oidc: { clients: [DIRECT, ON_BEHALF] } }));
  const simPort = await freePort();
  const simUrl = `http://127.0.0.1:${simPort}`;
  const ports = [await freePort(), await freePort(), await freePort()];
  const nodes = ports.map((p) => `http://127.0.0.1:${p}`);
  const env = (port: number) => ({
    HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    SIM_PORT: String(simPort),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    WS_PUBLIC_URL: 'ws://127.0.0.1:9/ws',
    WECHAT_OPEN_BASE: simUrl,
    WECHAT_API_BASE: simUrl,
    ...DEV_DEFAULTS,
    ...DEV_COMPONENT,
    SIM_TICKET_INTERVAL: '86400',
    LOG_LEVEL: 'silent',
    LOGIN_RATE_LIMIT: '0',
    OIDC_RATE_LIMIT: '0',
    LOGIN_CONFIRM: 'page',
    CONFIG_FILE: file,
  });
  const running: Running[] = [];
  try {
    running.push(await runSim(loadConfig(env(ports[0]!)), silentLogger()));
    for (const p of ports) running.push(await runHttp(loadConfig(env(p)), silentLogger()));
    const ticketKey = keys.platformTicket(PREFIX, COMPONENT);
    const tokenKey = keys.platformToken(PREFIX, COMPONENT);
    const push = async () =>
      (await (await fetch(`${simUrl}/sim/platform/ticket`, { method: 'POST' })).json()) as { createTime: number };
    // The first push (at the simulator's start) may have met no node yet: push until one is stored.
    while (!(await raw.get(ticketKey))) {
      await push();
      await sleep(50);
    }
    const tokens = await Promise.all(nodes.map(csrf));
    const visible: number[] = [];
    const cold: number[] = [];
    const callsPerRound: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Visible: the push's new CreateTime on every node's /healthz.
      await sleep(1100); // a new CreateTime second, so the newest-wins script takes the push
      let t0 = performance.now();
      const pushed = push();
      const { createTime } = await pushed;
      await Promise.all(
        nodes.map(async (node) => {
          for (;;) {
            const h = (await (await fetch(`${node}/healthz`)).json()) as {
              platform: { ticket: { createTime?: number } };
            };
            if (h.platform.ticket.createTime === createTime) return;
            await sleep(2);
          }
        }),
      );
      visible.push(performance.now() - t0);
      // Usable from cold: no ticket, no platform token; every node asks until it works.
      await raw.del(ticketKey, tokenKey, `${tokenKey}:failure`);
      const before = await componentTokenCalls(simUrl);
      await sleep(1100);
      t0 = performance.now();
      const pushing = push();
      await Promise.all(
        nodes.map(async (node, i) => {
          while ((await startAuthorization(node, tokens[i]!)) !== 200) await sleep(5);
        }),
      );
      cold.push(performance.now() - t0);
      await pushing;
      await sleep(200);
      callsPerRound.push((await componentTokenCalls(simUrl)) - before);
    }
    // Logins per second: on behalf of the account against the deployment's own, alternated.
    await authorize(nodes[0]!, SIM_MERCHANT_APPIDS.coffee);
    for (const c of [DIRECT, ON_BEHALF]) await loginsPerSecond(nodes[0]!, c, 50, concurrency); // warm-up
    const direct: number[] = [];
    const behalf: number[] = [];
    for (let i = 0; i < 2; i++) {
      direct.push(await loginsPerSecond(nodes[0]!, DIRECT, n, concurrency));
      behalf.push(await loginsPerSecond(nodes[0]!, ON_BEHALF, n, concurrency));
    }
    const directPerS = round(Math.max(...direct));
    const onBehalfPerS = round(Math.max(...behalf));
    return {
      nodes: nodes.length,
      rounds,
      visibleMs: stats(visible),
      usableColdMs: stats(cold),
      componentTokenCallsPerColdRound: callsPerRound,
      logins: { n, concurrency, directPerS, onBehalfPerS, ratio: round((onBehalfPerS / directPerS) * 100) / 100 },
    };
  } finally {
    for (const r of running.reverse()) await r.stop();
    raw.disconnect();
    await redis.stop();
  }
}
