/**
 * The failure this project was founded on, reproduced and gone (docs/wechat.md §12.2): WeChat pushes the
 * component_verify_ticket to ONE server; every server needs it for the platform's token; servers that wrote and read
 * it in different formats reported "No component_verify_ticket found" forever. Here: two http nodes on one Redis, the
 * simulator pushing only to node A, node B serving logins on an account's behalf from its first request; a ticket in
 * another serializer's bytes reported as corrupt_value with its key, then healed by the next push; four OS processes
 * from cold fetching the platform's token once in all, and one authorizer token per account per period for the
 * whole fleet. Real redis-server, real simulator, real http roles (in-process and as child processes of dist/).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { DEV_DEFAULTS, loadConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { runHttp } from '../../server/roles/http.js';
import { runSim } from '../../server/roles/sim.js';
import type { Running } from '../../server/roles/running.js';
import { SIM_MERCHANT_APPIDS } from '../../server/sim/state/merchants.js';
import { startRedisServer, type RedisServerHandle } from '../../server/dev/redis-server.js';
import { rawClient } from '../helpers/redis.js';
import { keys } from '../../server/redis/keys.js';
import { ConfigFile } from '../helpers/roles.js';
import { freePort } from '../helpers/ports.js';
import { discoverRp, exchange, signIn, verifyIdToken } from '../helpers/oidc.js';
import {
  authorizeAccount,
  boundClient,
  COMPONENT_APPID,
  loginFor,
  platformEnv,
  platformHealth,
  simCalls,
  simControl,
  TICKET_KEY,
  untilTicket,
} from '../helpers/platform.js';

const M = SIM_MERCHANT_APPIDS;
const COFFEE = boundClient('coffee', M.coffee);
const SCHOOL = boundClient('school', M.school);
const COMPONENT_TOKEN = '/cgi-bin/component/api_component_token';
const AUTHORIZER_TOKEN = '/cgi-bin/component/api_authorizer_token';

/** The environment of one http node (port `port`) of a fleet sharing `file` (Redis + OIDC clients) and `simUrl`. */
function nodeEnv(
  port: number,
  simPort: number,
  file: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const simUrl = `http://127.0.0.1:${simPort}`;
  return {
    HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    SIM_PORT: String(simPort),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    WS_PUBLIC_URL: 'ws://127.0.0.1:9/ws',
    WECHAT_OPEN_BASE: simUrl,
    WECHAT_API_BASE: simUrl,
    ...DEV_DEFAULTS,
    SESSION_SECRET: 'test-session-secret-0123456789',
    LOG_LEVEL: 'silent',
    LOGIN_RATE_LIMIT: '0',
    OIDC_RATE_LIMIT: '0',
    CONFIG_FILE: file,
    ...platformEnv(1),
    ...extra,
  };
}

/** PHP's serialize of the ticket string, and igbinary's bytes of it: what the other servers of the story wrote. */
const PHP_SERIALIZED = 's:53:"ticket@@@aBcD1234efGH5678ijKL9012mnOP3456qrST7890uvWX";';
const IGBINARY = Buffer.concat([Buffer.from([0, 0, 0, 2, 0x11, 0x35]), Buffer.from('ticket@@@aBcD1234efGH5678ijKL')]);

describe('the founding failure: the ticket pushed to one node, every node serving', () => {
  let redis: RedisServerHandle;
  let raw: Redis;
  const file = new ConfigFile();
  const running: Running[] = [];
  let nodeA = '';
  let nodeB = '';
  let simUrl = '';

  beforeAll(async () => {
    redis = await startRedisServer();
    raw = rawClient(redis.url);
    file.write({ redis: { url: redis.url }, oidc: { clients: [COFFEE, SCHOOL] } });
    const [portA, portB, simPort] = [await freePort(), await freePort(), await freePort()];
    nodeA = `http://127.0.0.1:${portA}`;
    nodeB = `http://127.0.0.1:${portB}`;
    simUrl = `http://127.0.0.1:${simPort}`;
    // The simulator's platform settings name node A's URL: WeChat pushes to one URL.
    const configA = loadConfig(nodeEnv(portA, simPort, file.path));
    running.push(await runSim(configA, silentLogger()));
    running.push(await runHttp(configA, silentLogger()));
    running.push(await runHttp(loadConfig(nodeEnv(portB, simPort, file.path)), silentLogger()));
  });

  afterAll(async () => {
    for (const r of running.reverse()) await r.stop();
    raw?.disconnect();
    await redis?.stop();
  });

  it('the simulator pushes to node A only; node B reads the ticket and signs a person in for an account', async () => {
    const sim = (await (await fetch(`${simUrl}/sim/platform`)).json()) as { tickets: { url: string } };
    expect(sim.tickets.url).toBe(`${nodeA}/wechat/platform/events`);
    await untilTicket(nodeB);
    expect((await platformHealth(nodeB)).ticket.receivedBy).toMatch(/:\d+$/);
    await authorizeAccount(nodeA, M.coffee);
    // Node B: a site bound to the account, its first sign-in — the component exchange with the ticket A received.
    const rp = await discoverRp(nodeB, COFFEE.client_id, COFFEE.client_secret, COFFEE.redirect_uris[0]!);
    const { req, callback } = await signIn(rp, nodeB);
    const tokens = await exchange(rp, req, callback);
    expect(await verifyIdToken(rp, tokens.id_token!, req.nonce)).toMatchObject({ aud: 'coffee' });
    // …and the account's QR, with its authorizer token (the platform token behind it, from A's ticket).
    expect((await loginFor(nodeB, COFFEE, 'mp-qrcode')).status).toBe(201);
  });

  for (const [name, bytes] of [
    ['PHP serialize', PHP_SERIALIZED],
    ['igbinary', IGBINARY],
  ] as const) {
    it(`a ticket in ${name}'s format is reported as corrupt_value with its key, never "not found", and healed`, async () => {
      await untilTicket(nodeB);
      // Another program, sharing the Redis, writes the ticket its own way; the platform token is due meanwhile.
      await simControl(simUrl, '/sim/platform/ticket', { pause: true });
      await raw.set(TICKET_KEY, bytes);
      await raw.del(keys.platformToken('scanlogin:', COMPONENT_APPID), keys.authorizerToken('scanlogin:', M.coffee));
      const h = await platformHealth(nodeB);
      expect(h.ticket).toMatchObject({ state: 'corrupt', key: TICKET_KEY, bytes: Buffer.byteLength(bytes) });
      expect(h.problems.join('\n')).toContain(`corrupt_value: the component_verify_ticket at ${TICKET_KEY}`);
      expect(JSON.stringify(h)).not.toMatch(/not found/i);
      // A login needing the platform token (the account's QR: its authorizer token is refreshed with it) fails
      // loudly — 500, logged with the key — and health says why.
      const refused = await loginFor(nodeB, COFFEE, 'mp-qrcode');
      expect(refused.status).toBe(500);
      await expect
        .poll(async () => (await platformHealth(nodeB)).problem, { timeout: 10_000, interval: 100 })
        .toMatchObject({ code: 'corrupt_value', key: TICKET_KEY });
      // The next push (to A) replaces it: B's health clears and B fetches the token.
      await simControl(simUrl, '/sim/platform/ticket', { pause: false });
      await expect
        .poll(async () => (await platformHealth(nodeB)).ticket.state, { timeout: 15_000, interval: 100 })
        .toBe('ok');
      await expect
        .poll(async () => (await loginFor(nodeB, COFFEE, 'mp-qrcode')).status, { timeout: 15_000, interval: 200 })
        .toBe(201);
      await expect.poll(async () => (await platformHealth(nodeB)).problems, { timeout: 15_000 }).toEqual([]);
    });
  }
});

describe('four OS processes from cold', () => {
  let redis: RedisServerHandle;
  const file = new ConfigFile();
  const children: ChildProcess[] = [];
  let sim: Running;
  let simUrl = '';
  const nodes: string[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    file.write({ redis: { url: redis.url }, oidc: { clients: [COFFEE, SCHOOL] } });
    const simPort = await freePort();
    simUrl = `http://127.0.0.1:${simPort}`;
    const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
    // Short-lived tokens (8 s; a superseded one works 2 s more), so several refresh periods pass in the test.
    const tokens = { SIM_TOKEN_TTL: '8', SIM_TOKEN_OVERLAP: '2', WECHAT_TOKEN_MARGIN: '1' };
    for (const port of ports) {
      const env = { PATH: process.env.PATH ?? '', ...nodeEnv(port, simPort, file.path, tokens) };
      const child = spawn(process.execPath, ['dist/server/cli.js', 'http'], { env, stdio: 'ignore' });
      children.push(child);
      nodes.push(`http://127.0.0.1:${port}`);
    }
    for (const node of nodes) await untilReady(node);
    // WeChat starts pushing after the fleet is up: every node is cold, with no ticket and no token.
    sim = await runSim(loadConfig(nodeEnv(ports[0]!, simPort, file.path, tokens)), silentLogger());
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await sim?.stop();
    await redis?.stop();
  });

  it('one platform-token fetch in all, then one authorizer refresh per account per period for the fleet', async () => {
    for (const node of nodes) await untilTicket(node);
    await expect.poll(async () => (await simCalls(simUrl))[COMPONENT_TOKEN] ?? 0, { timeout: 10_000 }).toBe(1);
    await authorizeAccount(nodes[0]!, M.coffee);
    await authorizeAccount(nodes[1]!, M.school);
    // Every node makes both accounts' QR codes (each needs the account's authorizer token) at once.
    const started = Date.now();
    const made = await Promise.all(
      nodes.flatMap((node) => [loginFor(node, COFFEE, 'mp-qrcode'), loginFor(node, SCHOOL, 'mp-qrcode')]),
    );
    expect(made.map((m) => m.status)).toEqual(Array(8).fill(201));
    const first = await simCalls(simUrl);
    // Each authorization's own token (api_query_auth) drew the first QR codes: no refresh yet.
    const firstRefreshes = first[AUTHORIZER_TOKEN] ?? 0;
    expect(firstRefreshes).toBe(0);
    // Now every node refreshes both accounts' tokens in the background (due at half their 8 s life): wait for two
    // more rounds of both, then count — the fleet fetches at most one per account and period (four processes
    // refreshing on their own would fetch about four times as often), and the platform's token likewise.
    await expect
      .poll(async () => ((await simCalls(simUrl))[AUTHORIZER_TOKEN] ?? 0) - firstRefreshes, {
        timeout: 60_000,
        interval: 250,
      })
      .toBeGreaterThanOrEqual(4);
    const after = await simCalls(simUrl);
    const elapsedS = (Date.now() - started) / 1000;
    const periods = Math.ceil(elapsedS / 4) + 1;
    expect(after[AUTHORIZER_TOKEN]! - firstRefreshes).toBeLessThanOrEqual(2 * periods);
    expect(after[COMPONENT_TOKEN]!).toBeLessThanOrEqual(periods + 1);
    console.log(
      `fleet of 4 over ${elapsedS.toFixed(1)} s: ${after[AUTHORIZER_TOKEN]} authorizer fetches for 2 accounts, ` +
        `${after[COMPONENT_TOKEN]} platform-token fetches (bound: ${periods} periods)`,
    );
  });
});

async function untilReady(node: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${node}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${node} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
