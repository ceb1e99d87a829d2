/**
 * `/wechat/events` while Redis recovers (docs/wechat.md §6.3): WeChat retries a push only when no answer came
 * within 5 s, never after a 5xx (which shows the user "该公众号暂时无法提供服务"). So the app holds a push while
 * Redis is unavailable (up to 4 s), and when Redis is still gone it answers nothing, leaving the retry to WeChat;
 * the simulator retries only on a missing answer. Real redis-server paused with SIGSTOP, real servers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEV_APPID, DEV_SECRET } from '../../server/config.js';
import { SimServer } from '../../server/sim/server.js';
import { PUSH_FAILED_MESSAGE } from '../../server/sim/routes/mp-push.js';
import { parseWechatXml } from '../../server/wechat/push/xml.js';
import { createLogin, startStack, type CreatedLogin, type TestStack } from '../helpers/stack.js';

const TOKEN = 'holdtoken123';

interface Attempt {
  status?: number;
  body?: string;
  error?: string;
}
interface PushResult {
  delivered: boolean;
  userSees: string;
  attempts: Attempt[];
  reply?: { link: string };
  userMessage?: string;
}

async function scan(simUrl: string, body: Record<string, unknown>): Promise<PushResult> {
  const res = await fetch(`${simUrl}/sim/mp/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as PushResult;
}

async function view(s: TestStack, login: CreatedLogin): Promise<{ status: string; rev: number }> {
  const res = await fetch(`${s.httpUrl}/api/logins/${login.id}`, {
    headers: { authorization: `Bearer ${login.watchToken}` },
  });
  return (await res.json()) as { status: string; rev: number };
}

/** Polls /healthz until the app's Redis link shows `status`. */
async function linkShows(s: TestStack, status: string): Promise<void> {
  await expect
    .poll(
      async () => ((await (await fetch(`${s.httpUrl}/healthz`)).json()) as { redis: { status: string } }).redis.status,
      { interval: 100 },
    )
    .toBe(status);
}

/**
 * A pass-through proxy in front of the app's public origin (the simulator pushes only there) that counts the
 * pushes it has seen: how a test knows that WeChat's next try has arrived. A push WeChat gives up on is given up on
 * here too, so the app sees its caller hang up.
 */
async function countingProxy(appPort: () => number): Promise<{ url: string; pushes: () => number; close(): void }> {
  let pushes = 0;
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/wechat/events') && req.method === 'POST') pushes++;
    const upstream = http.request(
      { host: '127.0.0.1', port: appPort(), path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pushes: () => pushes,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('/wechat/events holds a push while Redis recovers', () => {
  let s: TestStack;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  beforeAll(async () => {
    proxy = await countingProxy(() => s.config.httpPort);
    s = await startStack({ WECHAT_TOKEN: TOKEN, PUBLIC_URL: proxy.url });
  });
  afterAll(async () => {
    await s?.stop();
    proxy?.close();
  });
  let resume: (() => void) | undefined;
  afterEach(() => resume?.()); // never leave a stopped redis-server behind

  it('no 5xx while Redis is gone: unanswered tries, then the retry that meets Redis again acts once', async () => {
    const lost = await createLogin(s.httpUrl, { mode: 'mp-qrcode' });
    const held = await createLogin(s.httpUrl, { mode: 'mp-qrcode' });
    s.redis.process.kill('SIGSTOP');
    let resumed = false;
    resume = () => {
      if (!resumed) s.redis.process.kill('SIGCONT');
      resumed = true;
    };
    await linkShows(s, 'reconnecting');

    // Redis stays away for all three tries (WeChat's timeout shortened to 0.3 s): no try is answered at all —
    // neither 503 (the user would see an error and WeChat would not retry) nor a `success` that drops the scan.
    const gone = await scan(s.simUrl, { url: lost.scanUrl, timeoutMs: 300 });
    expect(gone.attempts).toHaveLength(3);
    for (const a of gone.attempts) expect(a).toMatchObject({ error: 'no answer within 300 ms' });
    expect(gone).toMatchObject({ delivered: false, userSees: 'error', userMessage: PUSH_FAILED_MESSAGE });

    // Redis comes back during WeChat's second try: the first try is held (up to 4 s) and left unanswered, WeChat
    // gives up on it after 4.5 s and tries again; once that second try has arrived, Redis is resumed, and the
    // second try — held until Redis is ready — is answered with the confirm link.
    const before = proxy.pushes();
    const pending = scan(s.simUrl, { url: held.scanUrl, timeoutMs: 4500 });
    await expect.poll(() => proxy.pushes() - before, { timeout: 30_000 }).toBe(2);
    resume();
    const push = await pending;
    expect(push.attempts).toHaveLength(2);
    expect(push.attempts[0]).toMatchObject({ error: 'no answer within 4500 ms' });
    expect(push.attempts[1]).toMatchObject({ status: 200 });
    expect(push).toMatchObject({ delivered: true, userSees: 'ok' });
    expect(push.reply?.link).toMatch(/\/mp\?t=/);
    await linkShows(s, 'ready');
    expect(await view(s, held)).toMatchObject({ status: 'scanned', rev: 2 }); // created + one transition
    // The tries abandoned while Redis was gone never acted, even once Redis was back.
    expect(await view(s, lost)).toMatchObject({ status: 'pending', rev: 1 });
  });
});

describe('the simulator delivers pushes like WeChat (retries only a missing answer)', () => {
  let sim: SimServer;
  let simUrl: string;
  let target: http.Server;
  let targetUrl: string;
  const seen: { path: string; body: string }[] = [];
  let answer: 'error' | 'silent' = 'error';

  beforeAll(async () => {
    target = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString() });
        if (answer === 'error') res.writeHead(500).end('internal error');
        // 'silent': never answers; the simulator's timeout ends the try.
      });
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/wechat/events`;
    // A bare simulator pushes to loopback targets (state/app-urls.ts).
    sim = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET });
    simUrl = (await sim.start({ port: 0, host: '127.0.0.1' })).url;
  });
  afterAll(async () => {
    await sim?.stop();
    target?.closeAllConnections();
    await new Promise((r) => target?.close(r));
  });

  it('a 5xx is final: one try, and the user sees "该公众号暂时无法提供服务，请稍后再试"', async () => {
    seen.length = 0;
    answer = 'error';
    const push = await scan(simUrl, { scene: 'slogin5xx', target: targetUrl, token: TOKEN });
    expect(push.attempts).toEqual([expect.objectContaining({ status: 500 })]);
    expect(push).toMatchObject({ delivered: false, userSees: 'error', userMessage: PUSH_FAILED_MESSAGE });
    expect(seen).toHaveLength(1);
  });

  it('no answer: 3 tries of the same push (same FromUserName + CreateTime, byte for byte)', async () => {
    seen.length = 0;
    answer = 'silent';
    const push = await scan(simUrl, { scene: 'sloginquiet', target: targetUrl, token: TOKEN, timeoutMs: 200 });
    expect(push.attempts).toHaveLength(3);
    expect(push).toMatchObject({ delivered: false, userMessage: PUSH_FAILED_MESSAGE });
    expect(seen).toHaveLength(3);
    const first = parseWechatXml(seen[0]!.body);
    expect(first).toMatchObject({ FromUserName: expect.any(String), CreateTime: expect.stringMatching(/^\d+$/) });
    for (const s of seen) expect(s).toEqual(seen[0]);
  });
});
