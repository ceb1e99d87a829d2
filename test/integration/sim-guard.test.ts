import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { runSim } from '../../server/roles/sim.js';
import { freePort } from '../helpers/ports.js';
import { createLogin, startStack, type TestStack } from '../helpers/stack.js';

// The simulator is a dev tool, but it runs next to real services: it must not fetch or redirect to
// wherever a request asks (SSRF, open redirect), and by default only this machine reaches it.
let s: TestStack;
let bystander: http.Server;
let bystanderUrl: string;
let hits = 0;
beforeAll(async () => {
  s = await startStack();
  // Stands for an internal service next to the simulator (a metadata endpoint, an admin port, …).
  bystander = http.createServer((_req, res) => {
    hits++;
    res.end('success');
  });
  await new Promise<void>((r) => bystander.listen(0, '127.0.0.1', r));
  bystanderUrl = `http://127.0.0.1:${(bystander.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => bystander?.close(() => r()));
  await s?.stop();
});

async function post(path: string, body: unknown) {
  const res = await fetch(`${s.simUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('POST /sim/mp/scan {target}', () => {
  it('pushes only to the configured app: any other target is 400 and nothing is sent', async () => {
    const login = await createLogin(s.httpUrl, { mode: 'mp-qrcode' });
    const token = s.config.wechat.token!;
    for (const target of [
      `${bystanderUrl}/wechat/events`,
      'http://169.254.169.254/latest/meta-data',
      'file:///etc/passwd',
    ]) {
      const res = await post('/sim/mp/scan', { url: login.scanUrl, target, token });
      expect(res.status, target).toBe(400);
      expect(String(res.body.error)).toMatch(/not the registered app/);
    }
    expect(hits).toBe(0);
    // The app's own server URL named explicitly still works.
    const ok = await post('/sim/mp/scan', { url: login.scanUrl, target: `${s.httpUrl}/wechat/events`, token });
    expect(ok.body).toMatchObject({ delivered: true });
  });
});

describe('OAuth redirect_uri', () => {
  const authorize = (redirectUri: string) =>
    new URLSearchParams({
      appid: s.config.wechat.appid,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'snsapi_userinfo',
      state: 'abc',
    });

  it("another origin is refused like WeChat does (10003, the domain is not the app's), never redirected to", async () => {
    for (const uri of ['https://evil.example/cb', `${bystanderUrl}/cb`]) {
      const page = await fetch(`${s.simUrl}/connect/oauth2/authorize?${authorize(uri)}`);
      expect(await page.text()).toContain('10003');
      const approve = await fetch(`${s.simUrl}/sim/oauth2/approve`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...Object.fromEntries(authorize(uri)), action: 'deny' }).toString(),
      });
      expect(approve.status).toBe(400);
      expect(approve.headers.get('location')).toBeNull();
    }
    const own = await fetch(`${s.simUrl}/connect/oauth2/authorize?${authorize(`${s.httpUrl}/wechat/oauth/callback`)}`);
    expect(await own.text()).not.toContain('10003');
  });
});

describe('where the simulator listens', () => {
  it('SIM_HOST defaults to 127.0.0.1 whatever HOST says; compose sets 0.0.0.0 itself', async () => {
    expect(loadConfig({ DEV_MODE: '1', HOST: '0.0.0.0' }).simHost).toBe('127.0.0.1');
    expect(loadConfig({ DEV_MODE: '1', SIM_HOST: '0.0.0.0' }).simHost).toBe('0.0.0.0');
    const port = await freePort();
    const sim = await runSim(loadConfig({ DEV_MODE: '1', HOST: '0.0.0.0', SIM_PORT: String(port) }), silentLogger());
    try {
      expect(await reachable('127.0.0.1', port)).toBe(true);
      // Another interface of this machine, when it has one, does not reach it.
      const external = Object.values(os.networkInterfaces())
        .flat()
        .find((i) => i && i.family === 'IPv4' && !i.internal);
      if (external) expect(await reachable(external.address, port)).toBe(false);
    } finally {
      await sim.stop();
    }
  });
});

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
