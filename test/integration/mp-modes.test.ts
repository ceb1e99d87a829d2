/**
 * The two WeChat-drawn login modes end to end — http + ws + simulator + redis, real servers, no mocks:
 * Official Account parametric QR (`mp-qrcode`: WeChat's pushed scan event marks it scanned and is answered with a
 * link to the confirm page, whose Confirm confirms it) and mini-program code (`miniprogram`, confirmed through
 * `/api/mp/*`), each to a redeemed session.
 */
import { randomInt } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_APPID, DEV_MP_APPID, DEV_MP_SECRET, DEV_SECRET } from '../../server/config.js';
import { SIGNATURE_MAX_SKEW_S } from '../../server/wechat/push/authenticate.js';
import { eventSignature } from '../../server/wechat/push/crypto.js';
import { buildWechatXml, parseWechatXml } from '../../server/wechat/push/xml.js';
import { freePort } from '../helpers/ports.js';
import {
  createLogin,
  startStack,
  type CreatedLogin,
  type TestStack,
  suiteStack,
  storedTicket,
} from '../helpers/stack.js';
import { rawClient } from '../helpers/redis.js';
import { SimUsers } from '../../server/sim/state/users.js';
import { WatchClient } from '../helpers/ws-client.js';

const AES_KEY = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
const TOKEN = 'eventtoken123';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ WECHAT_TOKEN: TOKEN });
});
afterAll(() => stack?.stop());

async function json(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...init.headers },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}

async function stats(s: TestStack = stack): Promise<Record<string, number>> {
  return ((await json(`${s.simUrl}/sim/stats`)).body as { calls: Record<string, number> }).calls;
}

/** Redeems the ticket, then proves the session with /api/me; returns the user. */
async function redeemToSession(s: TestStack, login: CreatedLogin, ticket: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.httpUrl}/api/logins/${login.id}/redeem`, {
    method: 'POST',
    headers: { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ticket }),
  });
  expect(res.status).toBe(200);
  const cookie = res.headers
    .getSetCookie()
    .find((c) => c.startsWith('sl_session='))!
    .split(';')[0]!;
  const me = await json(`${s.httpUrl}/api/me`, { headers: { cookie } });
  expect(me.status).toBe(200);
  return (me.body as { user: Record<string, unknown> }).user;
}

async function view(s: TestStack, login: CreatedLogin) {
  return (
    await json(`${s.httpUrl}/api/logins/${login.id}`, { headers: { authorization: `Bearer ${login.watchToken}` } })
  ).body as {
    status: string;
    rev: number;
  };
}

const nowS = () => Math.floor(Date.now() / 1000);

/** The unionid of the first sample user (the default scanner), as the mini program's list shows it. */
async function firstUnionid(s: TestStack = stack): Promise<string> {
  const list = (await json(`${s.simUrl}/sim/miniprogram/users`)).body as { users: { unionid: string }[] };
  return list.users[0]!.unionid;
}

/** The confirm link in a plaintext passive reply (the answer to a scan event). */
function replyLink(answer: string): string | undefined {
  const content = parseWechatXml(answer)?.Content ?? '';
  return /<a href="([^"]+)">/.exec(content)?.[1];
}

/** The phone taps the reply's link and then Confirm on the page it opens; returns the outcome page's state. */
async function confirmByLink(link: string): Promise<string | undefined> {
  const page = await (await fetch(link)).text();
  const t = /name="t" value="([^"]+)"/.exec(page)?.[1] ?? '';
  const action = /action="([^"]+\/confirm)"/.exec(page)?.[1] ?? '';
  const res = await fetch(new URL(action, link), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ t }),
  });
  return /data-page="([^"]+)"/.exec(await res.text())?.[1];
}

/**
 * A signed plaintext event POST exactly as WeChat sends it: `timestamp` now and a fresh `nonce` unless given.
 * The returned function sends the very same request each time it is called (a retry).
 */
function signedEvent(
  s: TestStack,
  fields: Record<string, string | number>,
  opts: { token?: string; timestamp?: number; nonce?: string } = {},
) {
  const timestamp = String(opts.timestamp ?? nowS());
  const nonce = opts.nonce ?? String(randomInt(1e9, 1e10));
  const q = new URLSearchParams({
    signature: eventSignature([opts.token ?? TOKEN, timestamp, nonce]),
    timestamp,
    nonce,
    openid: String(fields.FromUserName),
  });
  return () =>
    fetch(`${s.httpUrl}/wechat/events?${q}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: buildWechatXml(fields),
    });
}

/** The fields of a `SCAN` of login `id`'s QR by `openid`, as WeChat sends them. */
async function scanFields(s: TestStack, id: string, openid: string, extra: Record<string, string | number> = {}) {
  return {
    ToUserName: 'gh_x',
    FromUserName: openid,
    CreateTime: nowS(),
    MsgType: 'event',
    Event: 'SCAN',
    EventKey: `slogin${id}`,
    Ticket: await storedTicket(s, id),
    ...extra,
  };
}

describe('mode "mp-qrcode": Official Account parametric QR', () => {
  it('QR from qrcode/create → subscribe event → scanned; the reply links to the confirm page → confirmed over WS → redeemed session', async () => {
    const before = await stats();
    const login = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    expect(login.scanUrl).toMatch(/^http:\/\/weixin\.qq\.com\/q\/[\w-]+$/);
    const after = await stats();
    expect((after['/cgi-bin/qrcode/create'] ?? 0) - (before['/cgi-bin/qrcode/create'] ?? 0)).toBe(1);
    const svg = await fetch(`${stack.httpUrl}${login.qr.svg}`);
    expect(svg.headers.get('content-type')).toMatch(/svg/);

    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    await watcher.next((m) => m.status === 'pending');
    // The phone scans what the QR encodes; the simulator pushes to the configured server URL.
    const push = await json(`${stack.simUrl}/sim/mp/scan`, { body: { url: login.scanUrl } });
    expect(push.body).toMatchObject({ delivered: true, userSees: 'ok', event: 'subscribe' });
    expect((push.body.attempts as unknown[]).length).toBe(1);
    await watcher.next((m) => m.status === 'scanned');
    expect((await view(stack, login)).status).toBe('scanned');
    const reply = push.body.reply as { msgType: string; link: string };
    expect(reply).toMatchObject({ msgType: 'text', encrypted: false });
    expect(await confirmByLink(reply.link)).toBe('confirmed');
    const confirmed = await watcher.next((m) => m.status === 'confirmed');
    expect(confirmed.ticket).toMatch(/^[0-9A-Za-z]{32}$/);
    const user = await redeemToSession(stack, login, confirmed.ticket as string);
    // The scan event names only the openid; the confirmation fetched the unionid (cgi-bin/user/info, once): the
    // same one the mini program sees for this person.
    expect(user).toEqual({
      openid: push.body.openid,
      unionid: await firstUnionid(),
      appid: stack.config.wechat.appid,
      mode: 'mp-qrcode',
    });
    expect(((await stats())['/cgi-bin/user/info'] ?? 0) - (before['/cgi-bin/user/info'] ?? 0)).toBe(1);
  });

  it('a follower scanning gets SCAN with the bare scene, and it works the same', async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const push = await json(`${stack.simUrl}/sim/mp/scan`, { body: { url: login.scanUrl, subscribed: true } });
    expect(push.body).toMatchObject({ delivered: true, event: 'SCAN' });
    expect((await view(stack, login)).status).toBe('scanned');
    expect(await confirmByLink((push.body.reply as { link: string }).link)).toBe('confirmed');
    expect((await view(stack, login)).status).toBe('confirmed');
  });

  it('a phone scan named by the bare scene is the simulator-issued QR: its Ticket goes with the event', async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const push = await json(`${stack.simUrl}/sim/mp/scan`, { body: { scene: `slogin${login.id}` } });
    expect(push.body).toMatchObject({ delivered: true });
    expect((await view(stack, login)).status).toBe('scanned');
  });

  it("WeChat's retries are deduplicated: 3 deliveries, one transition, every one answered with the same link", async () => {
    // A bad network between WeChat and us: the app's answers to the first two pushes are lost on the way back
    // (the connection drops once the app has answered), so WeChat tries again. The bad link is the app's public
    // origin itself, since the simulator pushes only to the registered app. (Lost, not late: a late answer races
    // WeChat's per-try timeout, which the third try's answer would have to beat on a busy machine too.)
    const httpPort = await freePort();
    const answered: string[] = [];
    const proxy = http.createServer((req, res) => {
      const isPush = req.url?.startsWith('/wechat/events') ?? false;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void fetch(`http://127.0.0.1:${httpPort}${req.url}`, {
          method: req.method ?? 'GET',
          headers: Object.fromEntries(
            ['content-type', 'authorization', 'user-agent'].flatMap((h) =>
              req.headers[h] ? [[h, String(req.headers[h])]] : [],
            ),
          ),
          ...(req.method !== 'GET' && req.method !== 'HEAD' && { body: Buffer.concat(chunks) }),
        })
          .then(async (r) => ({ status: r.status, text: await r.text() }))
          .then(({ status, text }) => {
            if (isPush && answered.push(text) < 3) req.socket.destroy();
            else res.writeHead(status).end(text);
          });
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const slow = await startStack({
      WECHAT_TOKEN: TOKEN,
      HTTP_PORT: String(httpPort),
      PUBLIC_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    });
    try {
      const login = await createLogin(slow.httpUrl, { mode: 'mp-qrcode' });
      const push = await json(`${slow.simUrl}/sim/mp/scan`, { body: { url: login.scanUrl } });
      const attempts = push.body.attempts as { status?: number; body?: string; error?: string }[];
      expect(attempts).toHaveLength(3);
      expect(attempts[0]!.error).toBeDefined();
      expect(attempts[1]!.error).toBeDefined();
      expect(attempts[2]).toMatchObject({ status: 200 });
      expect(push.body.delivered).toBe(true);
      // The app answered every delivery, each with the same link (the two WeChat never got included).
      const link = (push.body.reply as { link: string }).link;
      expect(answered.map(replyLink)).toEqual([link, link, link]);
      const v = await view(slow, login);
      expect(v).toMatchObject({ status: 'scanned', rev: 2 }); // created (1) + one transition
    } finally {
      await slow.stop();
      proxy.close();
    }

    // The same delivery three times at once (SET NX decides): all `success`, still one transition.
    const other = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const scene = `slogin${other.id}`;
    const send = signedEvent(stack, {
      ToUserName: 'gh_x',
      FromUserName: 'oRetryUser000000000000000001',
      CreateTime: 1714036504,
      MsgType: 'event',
      Event: 'SCAN',
      EventKey: scene,
      Ticket: await storedTicket(stack, other.id),
    });
    const answers = await Promise.all([send(), send(), send()]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    const links = (await Promise.all(answers.map((r) => r.text()))).map(replyLink);
    expect(links[0]).toMatch(/\/mp\?t=/);
    expect(links).toEqual([links[0], links[0], links[0]]);
    expect(await view(stack, other)).toMatchObject({ status: 'scanned', rev: 2 });
  });

  it('GET handshake echoes echostr verbatim; a bad signature is 403 invalid_signature', async () => {
    const timestamp = String(nowS());
    const nonce = '1514711492';
    const signature = eventSignature([TOKEN, timestamp, nonce]);
    const ok = await fetch(
      `${stack.httpUrl}/wechat/events?${new URLSearchParams({ signature, timestamp, nonce, echostr: '8437 2:é+' })}`,
    );
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('8437 2:é+');
    const bad = await fetch(
      `${stack.httpUrl}/wechat/events?${new URLSearchParams({ signature: 'f'.repeat(40), timestamp, nonce, echostr: 'x' })}`,
    );
    expect(bad.status).toBe(403);
    expect(await bad.text()).toContain('invalid_signature');

    // A push signed with another token is refused, and WeChat would show the user an error.
    const login = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const push = await json(`${stack.simUrl}/sim/mp/scan`, { body: { url: login.scanUrl, token: 'notourtoken' } });
    expect(push.body).toMatchObject({ delivered: false, userSees: 'error' });
    expect((push.body.attempts as { status: number }[])[0]!.status).toBe(403);
    expect((await view(stack, login)).status).toBe('pending');
  });

  it('answers success but changes nothing for unknown scenes, other logins, expired QR codes and other messages', async () => {
    const fire = (fields: Record<string, string | number>) =>
      signedEvent(stack, { ToUserName: 'gh_x', CreateTime: Date.now(), MsgType: 'event', ...fields })();
    const messages: Record<string, string | number>[] = [
      { FromUserName: 'oA', Event: 'subscribe', EventKey: '' }, // a plain follow
      { FromUserName: 'oB', Event: 'SCAN', EventKey: 'campaign42' }, // another of the account's QR codes
      { FromUserName: 'oC', Event: 'SCAN', EventKey: `slogin${'A'.repeat(24)}` }, // no such login
      { FromUserName: 'oD', Event: 'unsubscribe' },
      { FromUserName: 'oE', MsgType: 'text', Content: 'hello' },
    ];
    for (const fields of messages) {
      const res = await fire(fields);
      expect([res.status, await res.text()]).toEqual([200, 'success']);
    }
    // An oauth login's id in a scene must not confirm it.
    const oauth = await createLogin(stack.httpUrl);
    const res = await fire({ FromUserName: 'oF', Event: 'SCAN', EventKey: `slogin${oauth.id}` });
    expect(await res.text()).toBe('success');
    expect((await view(stack, oauth)).status).toBe('pending');
    // An unknown QR URL: WeChat sends nothing.
    expect((await json(`${stack.simUrl}/sim/mp/scan`, { body: { url: 'http://weixin.qq.com/q/nope' } })).status).toBe(
      404,
    );
  });

  it('a login past its deadline is not scanned by a late scan event', async () => {
    const short = await startStack({ WECHAT_TOKEN: TOKEN, LOGIN_TTL: '1' });
    try {
      const login = await createLogin(short.httpUrl, { mode: 'mp-qrcode' });
      const fields = await scanFields(short, login.id, 'oLate');
      await expect.poll(async () => (await view(short, login)).status).toBe('expired'); // the deadline has passed
      // The simulator's QR expired with the login (expire_seconds = LOGIN_TTL) and sends nothing, so the late
      // event (with the QR's Ticket, as WeChat's would carry) is made here.
      const res = await signedEvent(short, fields)();
      expect([res.status, await res.text()]).toEqual([200, 'success']);
      expect((await view(short, login)).status).toBe('expired');
    } finally {
      await short.stop();
    }
  });
});

describe('mode "mp-qrcode": forged and replayed pushes', () => {
  // A stack of its own: the dedupe tests count the transition scripts Redis runs, so nothing else may run any.
  let own: TestStack;
  beforeAll(async () => {
    own = await startStack({ WECHAT_TOKEN: TOKEN });
  });
  afterAll(() => own?.stop());

  const status = async (res: Response) => [
    res.status,
    (await res.text()).includes('invalid_signature') ? 'invalid_signature' : 'other',
  ];

  it('a replayed triple from an access log, no Ticket, a chosen FromUserName → 403, nothing scanned', async () => {
    const login = await createLogin(own.httpUrl, { mode: 'mp-qrcode' });
    const forged = {
      ToUserName: 'gh_x',
      FromUserName: 'oVictim',
      CreateTime: 1600000000,
      MsgType: 'event',
      Event: 'SCAN',
      EventKey: `slogin${login.id}`,
    };
    // 2020, and a minute beyond the allowed skew either side of now: stale (or made up) no matter how well signed.
    // (Not 1 s beyond: a busy machine may take a second between here and the check, bringing "ahead" back inside.)
    const beyond = SIGNATURE_MAX_SKEW_S + 60;
    for (const timestamp of [1600000000, nowS() - beyond, nowS() + beyond]) {
      expect(await status(await signedEvent(own, forged, { timestamp })())).toEqual([403, 'invalid_signature']);
    }
    // The GET handshake too.
    const timestamp = String(nowS() - 400);
    const q = new URLSearchParams({
      signature: eventSignature([TOKEN, timestamp, '42']),
      timestamp,
      nonce: '42',
      echostr: 'x',
    });
    expect(await status(await fetch(`${own.httpUrl}/wechat/events?${q}`))).toEqual([403, 'invalid_signature']);
    // Within the window the same forgery still confirms nothing: it has no Ticket.
    const fresh = await signedEvent(own, { ...forged, CreateTime: nowS() })();
    expect([fresh.status, await fresh.text()]).toEqual([200, 'success']);
    expect((await view(own, login)).status).toBe('pending');
  });

  it('a (timestamp, nonce) signs one message: reused with another body → 403; the same message again (a retry) → the same reply', async () => {
    const login = await createLogin(own.httpUrl, { mode: 'mp-qrcode' });
    const fields = await scanFields(own, login.id, 'oFirstScanner');
    const timestamp = nowS();
    const nonce = String(randomInt(1e9, 1e10));
    // The first use of the triple is an innocent message (a plain follow); it ends up in the access log.
    const first = await signedEvent(
      own,
      {
        ToUserName: 'gh_x',
        FromUserName: 'oSomeone',
        CreateTime: timestamp,
        MsgType: 'event',
        Event: 'subscribe',
        EventKey: '',
      },
      { timestamp, nonce },
    )();
    expect([first.status, await first.text()]).toEqual([200, 'success']);
    // The logged triple signing a scan event (with the right Ticket, even) is refused.
    expect(await status(await signedEvent(own, fields, { timestamp, nonce })())).toEqual([403, 'invalid_signature']);
    expect((await view(own, login)).status).toBe('pending');
    // WeChat repeating one message with one triple is fine (whether or not it re-signs its retries).
    const send = signedEvent(own, fields);
    const links: (string | undefined)[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await send();
      expect(res.status).toBe(200);
      links.push(replyLink(await res.text()));
    }
    expect(links[0]).toMatch(/\/mp\?t=/);
    expect(links[1]).toBe(links[0]);
    expect(await view(own, login)).toMatchObject({ status: 'scanned', rev: 2 });
  });

  it("a scan event must carry the login's QR Ticket: missing or another → success, nothing changed", async () => {
    const login = await createLogin(own.httpUrl, { mode: 'mp-qrcode' });
    const fields = await scanFields(own, login.id, 'oScanner');
    const { Ticket: ticket, ...noTicket } = fields;
    const other = await createLogin(own.httpUrl, { mode: 'mp-qrcode' });
    for (const f of [
      noTicket,
      { ...fields, Ticket: await storedTicket(own, other.id) },
      { ...fields, Ticket: `${ticket}x` },
    ]) {
      const res = await signedEvent(own, f)();
      expect([res.status, await res.text()]).toEqual([200, 'success']);
      expect((await view(own, login)).status).toBe('pending');
    }
    // No marker was left by the refusals: the real scan (same FromUserName + CreateTime) still counts.
    const ok = await signedEvent(own, fields)();
    expect(replyLink(await ok.text())).toMatch(/\/mp\?t=/);
    expect((await view(own, login)).status).toBe('scanned');
  });

  /** Transition scripts run so far (EVALSHA, and EVAL when the script was not cached). */
  async function scriptCalls(redis: Redis): Promise<number> {
    const info = await redis.info('commandstats');
    return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  }

  it('a retry after the login was scanned is answered from the dedupe marker, without running the transition', async () => {
    const login = await createLogin(own.httpUrl, { mode: 'mp-qrcode' });
    const fields = await scanFields(own, login.id, 'oDedupe');
    const redis = rawClient(own.redis.url);
    try {
      const before = await scriptCalls(redis);
      const first = await signedEvent(own, fields)();
      const link = replyLink(await first.text());
      expect(link).toMatch(/\/mp\?t=/);
      expect(await view(own, login)).toMatchObject({ status: 'scanned', rev: 2 });
      const afterFirst = await scriptCalls(redis);
      expect(afterFirst - before).toBe(1);
      // WeChat's retry, re-signed (a fresh nonce) or not: both answered with the same link, no script run.
      const marker = `${own.config.redis.keyPrefix}wx-event:oDedupe:${fields.CreateTime}:SCAN:slogin${login.id}`;
      const ttl = await redis.ttl(marker);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(300);
      for (let i = 0; i < 2; i++) {
        const retry = await signedEvent(own, fields)();
        expect(retry.status).toBe(200);
        expect(replyLink(await retry.text())).toBe(link);
      }
      expect(await scriptCalls(redis)).toBe(afterFirst);
      expect(await view(own, login)).toMatchObject({ status: 'scanned', rev: 2 });
    } finally {
      redis.disconnect();
    }
  });

  it('a delivery that failed half-way leaves no marker behind: the retry scans the login', async () => {
    const login = await createLogin(own.httpUrl, { mode: 'mp-qrcode' });
    const send = signedEvent(own, await scanFields(own, login.id, 'oHalfway'));
    // Redis refuses the app the transition script and any cleanup (DEL), as a Redis going away mid-request would;
    // the test keeps its own admin user to undo that.
    const setup = rawClient(own.redis.url);
    await setup.call('ACL', 'SETUSER', 'testadmin', 'on', 'nopass', '~*', '&*', '+@all');
    setup.disconnect();
    const admin = new Redis(own.redis.url, { username: 'testadmin', maxRetriesPerRequest: 1 });
    try {
      await admin.call('ACL', 'SETUSER', 'default', '-eval', '-evalsha', '-del');
      const failed = await send();
      expect(failed.status).toBeGreaterThanOrEqual(500); // WeChat will retry
      await admin.call('ACL', 'SETUSER', 'default', '+@all');
      expect((await view(own, login)).status).toBe('pending');
      const retry = await send(); // byte for byte the same request
      expect(retry.status).toBe(200);
      expect(replyLink(await retry.text())).toMatch(/\/mp\?t=/);
      expect(await view(own, login)).toMatchObject({ status: 'scanned', rev: 2 });
    } finally {
      await admin.call('ACL', 'SETUSER', 'default', '+@all').catch(() => undefined);
      admin.disconnect();
    }
  });
});

describe('mode "mp-qrcode" in safe mode (AES)', () => {
  const aesStack = suiteStack({ WECHAT_TOKEN: TOKEN, WECHAT_AES_KEY: AES_KEY });

  it("an encrypted event scans the login; its encrypted reply's link confirms it", async () => {
    const login = await createLogin(aesStack().httpUrl, { mode: 'mp-qrcode' });
    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    const push = await json(`${aesStack().simUrl}/sim/mp/scan`, { body: { url: login.scanUrl } });
    expect(push.body).toMatchObject({ delivered: true, reply: { encrypted: true } });
    await watcher.next((m) => m.status === 'scanned');
    expect(await confirmByLink((push.body.reply as { link: string }).link)).toBe('confirmed');
    const confirmed = await watcher.next((m) => m.status === 'confirmed');
    expect(await redeemToSession(aesStack(), login, confirmed.ticket as string)).toMatchObject({
      openid: push.body.openid,
      unionid: await firstUnionid(aesStack()),
    });
  });

  it('refuses a message encrypted for another appid, and a wrong msg_signature', async () => {
    const login = await createLogin(aesStack().httpUrl, { mode: 'mp-qrcode' });
    const wrongApp = await json(`${aesStack().simUrl}/sim/mp/scan`, {
      body: { url: login.scanUrl, appid: 'wx0000000000000000' },
    });
    expect(wrongApp.body).toMatchObject({ delivered: false, userSees: 'error' });
    expect((wrongApp.body.attempts as { status: number; body: string }[])[0]).toMatchObject({ status: 403 });

    // Encrypted with another EncodingAESKey: signed with our token, so msg_signature passes; decryption fails.
    const wrongKey = await json(`${aesStack().simUrl}/sim/mp/scan`, {
      body: { url: login.scanUrl, aesKey: 'B'.repeat(43) },
    });
    expect(wrongKey.body).toMatchObject({ delivered: false });

    // Tampered msg_signature: a valid plaintext signature is not enough in safe mode.
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = '77';
    const q = new URLSearchParams({
      signature: eventSignature([TOKEN, timestamp, nonce]),
      timestamp,
      nonce,
      encrypt_type: 'aes',
      msg_signature: '0'.repeat(40),
    });
    const res = await fetch(`${aesStack().httpUrl}/wechat/events?${q}`, {
      method: 'POST',
      body: buildWechatXml({ ToUserName: 'gh_x', Encrypt: 'AAAA' }),
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('invalid_signature');
    expect((await view(aesStack(), login)).status).toBe('pending');
  });

  it('with WECHAT_AES_KEY set, a plaintext push (or one without msg_signature) is refused, however well signed', async () => {
    const login = await createLogin(aesStack().httpUrl, { mode: 'mp-qrcode' });
    const fields = await scanFields(aesStack(), login.id, 'oPlain');
    const plain = await signedEvent(aesStack(), fields)();
    expect(plain.status).toBe(403);
    expect(await plain.text()).toContain('invalid_signature');
    // encrypt_type=aes but no msg_signature: the body is covered by nothing.
    const timestamp = String(nowS());
    const nonce = '78';
    const q = new URLSearchParams({
      signature: eventSignature([TOKEN, timestamp, nonce]),
      timestamp,
      nonce,
      encrypt_type: 'aes',
    });
    const res = await fetch(`${aesStack().httpUrl}/wechat/events?${q}`, {
      method: 'POST',
      body: buildWechatXml({ ToUserName: 'gh_x', Encrypt: 'AAAA' }),
    });
    expect(res.status).toBe(403);
    expect((await view(aesStack(), login)).status).toBe('pending');
  });
});

describe('mode "miniprogram": mini-program code', () => {
  async function wxLogin(body: Record<string, unknown> = {}): Promise<{ code: string; openid: string }> {
    return (await json(`${stack.simUrl}/sim/miniprogram/login`, { body })).body as { code: string; openid: string };
  }

  it('code from getwxacodeunlimit (fetched once) → scan → confirm → confirmed over WS → redeemed session', async () => {
    const before = await stats();
    const login = await createLogin(stack.httpUrl, { mode: 'miniprogram' });
    expect(login.scanUrl).toBe(`pages/login/index?scene=${login.id}`);
    for (let i = 0; i < 2; i++) {
      // WeChat answers a JPEG (docs/wechat.md §7): the app serves the type it got, whatever the path says.
      const image = await fetch(`${stack.httpUrl}${login.qr.png}`);
      expect(image.status).toBe(200);
      expect(image.headers.get('content-type')).toBe('image/jpeg');
      expect([...Buffer.from(await image.arrayBuffer()).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    }
    const svg = await fetch(`${stack.httpUrl}${login.qr.svg}`, { redirect: 'manual' });
    expect(svg.status).toBe(302);
    expect(svg.headers.get('location')).toBe(login.qr.png);
    const after = await stats();
    expect((after['/wxa/getwxacodeunlimit'] ?? 0) - (before['/wxa/getwxacodeunlimit'] ?? 0)).toBe(1);

    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    await watcher.next((m) => m.status === 'pending');
    const { code, openid } = await wxLogin();
    const scan = await json(`${stack.httpUrl}/api/mp/scan`, { body: { scene: login.id, code } });
    expect(scan.status).toBe(200);
    expect(scan.body).toEqual({
      mpToken: expect.stringMatching(/^[0-9A-Za-z]{32}$/),
      expiresAt: login.expiresAt,
      requester: { browser: 'Chrome on Windows', ip: expect.any(String), requestedAt: expect.any(Number) },
    });
    await watcher.next((m) => m.status === 'scanned');

    // Only the phone that scanned may confirm.
    const forged = await json(`${stack.httpUrl}/api/mp/confirm`, {
      body: { scene: login.id, mpToken: 'x'.repeat(32) },
    });
    expect([forged.status, forged.body.error]).toEqual([403, 'forbidden']);
    const ok = await json(`${stack.httpUrl}/api/mp/confirm`, { body: { scene: login.id, mpToken: scan.body.mpToken } });
    expect(ok.body).toEqual({ status: 'confirmed' });
    const confirmed = await watcher.next((m) => m.status === 'confirmed');
    const user = await redeemToSession(stack, login, confirmed.ticket as string);
    expect(user.openid).toBe(openid);
    expect(user.unionid).toMatch(/^o.{27}$/); // the first sample user is bound to an Open Platform account
  });

  it('confirm/cancel refusals: the codes a read before the script gave, nothing changed', async () => {
    const pending = await createLogin(stack.httpUrl, { mode: 'miniprogram' });
    const oauth = await createLogin(stack.httpUrl);
    for (const path of ['/api/mp/confirm', '/api/mp/cancel']) {
      const call = async (body: Record<string, unknown>) => {
        const res = await json(`${stack.httpUrl}${path}`, { body });
        return [res.status, res.body.error];
      };
      const token = 'x'.repeat(32);
      expect(await call({ scene: 'U'.repeat(24), mpToken: token })).toEqual([404, 'unknown_login']);
      expect(await call({ scene: 'U'.repeat(24) })).toEqual([404, 'unknown_login']);
      expect(await call({ scene: oauth.id, mpToken: token })).toEqual([404, 'unknown_login']);
      expect(await call({ scene: pending.id, mpToken: token })).toEqual([403, 'forbidden']);
      expect(await call({ scene: pending.id })).toEqual([400, 'bad_request']);
      expect(await call({ scene: pending.id, mpToken: 'y'.repeat(65) })).toEqual([400, 'bad_request']);
    }
    expect((await view(stack, pending)).status).toBe('pending');
    expect((await view(stack, oauth)).status).toBe('pending');
  });

  it('cancel from the mini program cancels the login', async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'miniprogram' });
    const scan = await json(`${stack.httpUrl}/api/mp/scan`, {
      body: { scene: login.id, code: (await wxLogin()).code },
    });
    const res = await json(`${stack.httpUrl}/api/mp/cancel`, { body: { scene: login.id, mpToken: scan.body.mpToken } });
    expect(res.body).toEqual({ status: 'cancelled' });
    expect((await view(stack, login)).status).toBe('cancelled');
  });

  it('jscode2session refusals become clear codes: invalid_code, code_used, code_blocked', async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'miniprogram' });
    const scan = (code: string) => json(`${stack.httpUrl}/api/mp/scan`, { body: { scene: login.id, code } });
    const invalid = await scan('not-a-real-code');
    expect([invalid.status, invalid.body.error, invalid.body.errcode]).toEqual([400, 'invalid_code', 40029]);
    const blocked = await scan((await wxLogin({ blocked: true })).code);
    expect([blocked.status, blocked.body.error, blocked.body.errcode]).toEqual([403, 'code_blocked', 40226]);

    // A code spent on another login is used up (40163), and this login is untouched by it.
    const other = await createLogin(stack.httpUrl, { mode: 'miniprogram' });
    const { code } = await wxLogin();
    expect((await json(`${stack.httpUrl}/api/mp/scan`, { body: { scene: other.id, code } })).status).toBe(200);
    const used = await scan(code);
    expect([used.status, used.body.error, used.body.errcode]).toEqual([409, 'code_used', 40163]);
    expect((await view(stack, login)).status).toBe('pending');

    // A second phone cannot take over a scanned login.
    const again = await json(`${stack.httpUrl}/api/mp/scan`, {
      body: { scene: other.id, code: (await wxLogin()).code },
    });
    expect([again.status, again.body.error]).toEqual([409, 'invalid_transition']);
    // The scene of another mode's login is as unknown as a made-up one.
    const oauth = await createLogin(stack.httpUrl);
    const wrongMode = await json(`${stack.httpUrl}/api/mp/scan`, {
      body: { scene: oauth.id, code: (await wxLogin()).code },
    });
    expect([wrongMode.status, wrongMode.body.error]).toEqual([404, 'unknown_login']);
  });

  it('an unknown mode is refused with the list of offered modes', async () => {
    const res = await json(`${stack.httpUrl}/api/logins`, { body: { mode: 'nfc' } });
    expect([res.status, res.body.error]).toEqual([400, 'unknown_mode']);
    expect(res.body.modes).toEqual(['oauth', 'mp-qrcode', 'miniprogram', 'qrconnect']);
  });
});

describe('simulator: parametric QR, mini-program code and jscode2session rules', () => {
  let token: string;
  let mpToken: string;
  const stableToken = async (appid: string, secret: string) =>
    (
      await json(`${stack.simUrl}/cgi-bin/stable_token`, {
        body: { grant_type: 'client_credential', appid, secret, force_refresh: false },
      })
    ).body.access_token as string;
  beforeAll(async () => {
    token = await stableToken(DEV_APPID, DEV_SECRET);
    // The mini program is an app of its own, with its own global access_token.
    mpToken = await stableToken(DEV_MP_APPID, DEV_MP_SECRET);
    expect(token).toBeTruthy();
    expect(mpToken).toBeTruthy();
    expect(mpToken).not.toBe(token);
  });

  const post = (path: string, body: unknown, t = token) =>
    json(`${stack.simUrl}${path}?access_token=${encodeURIComponent(t)}`, { body });

  it("cgi-bin/user/info: the account's token, its own followers only; unionid when bound, today's shape", async () => {
    const info = (openid: string, t = token) =>
      json(`${stack.simUrl}/cgi-bin/user/info?${new URLSearchParams({ access_token: t, openid, lang: 'zh_CN' })}`);
    const [zhangsan, , lisi, snapshot] = new SimUsers(DEV_APPID).list();
    const ok = await info(zhangsan!.openid);
    expect(ok.headers.get('content-type')).toBe('text/plain');
    expect(ok.body).toMatchObject({
      subscribe: 1,
      openid: zhangsan!.openid,
      unionid: zhangsan!.unionid,
      subscribe_scene: 'ADD_SCENE_QR_CODE',
      tagid_list: [],
    });
    // Since WeChat's 2021 change the follower's profile is no longer answered.
    for (const gone of ['nickname', 'headimgurl', 'sex', 'city']) expect(ok.body).not.toHaveProperty(gone);
    expect(zhangsan!.unionid).toBe(new SimUsers(DEV_MP_APPID).list()[0]!.unionid); // one person, one unionid
    expect((await info(lisi!.openid)).body).not.toHaveProperty('unionid');
    // Another app's openid (the mini program's), a snapshot user's virtual one, or none at all.
    const miniOpenid = new SimUsers(DEV_MP_APPID).list()[0]!.openid;
    expect((await info(miniOpenid)).body.errcode).toBe(40003);
    expect((await info(snapshot!.openid)).body.errcode).toBe(40003);
    expect(String((await info('')).body.errcode)).toBe('41009');
    // The account's global token only: none, not a token, the mini program's.
    expect((await info(zhangsan!.openid, '')).body.errcode).toBe(41001);
    expect((await info(zhangsan!.openid, 'bogus')).body.errcode).toBe(40014);
    expect((await info(zhangsan!.openid, mpToken)).body.errcode).toBe(40014);
  });

  it('qrcode/create: token checked, scene_str 1–64 else 40053, expire_seconds capped at 30 days; showqrcode', async () => {
    const scene = (s: string) => ({ action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: s } } });
    expect((await post('/cgi-bin/qrcode/create', { expire_seconds: 60, ...scene('a') }, 'bogus')).body.errcode).toBe(
      40014,
    );
    expect((await post('/cgi-bin/qrcode/create', scene('x'.repeat(65)))).body.errcode).toBe(40053);
    expect((await post('/cgi-bin/qrcode/create', scene(''))).body.errcode).toBe(40053);
    expect(String((await post('/cgi-bin/qrcode/create', scene(''))).body.errmsg)).toMatch(
      /^invalid action info, rid: \w+-\w+-\w+$/,
    );
    const ok = await post('/cgi-bin/qrcode/create', { expire_seconds: 9_999_999, ...scene('x'.repeat(64)) });
    expect(ok.body).toMatchObject({
      ticket: expect.stringMatching(/^gQ/),
      expire_seconds: 2_592_000,
      url: expect.stringMatching(/^http:\/\/weixin\.qq\.com\/q\//),
    });
    const img = await fetch(
      `${stack.simUrl}/cgi-bin/showqrcode?ticket=${encodeURIComponent(ok.body.ticket as string)}`,
    );
    expect([img.status, img.headers.get('content-type')]).toEqual([200, 'image/png']);
    expect((await fetch(`${stack.simUrl}/cgi-bin/showqrcode?ticket=gQnope`)).status).toBe(404);
  });

  it('getwxacodeunlimit: 41001 without a token, 40169 too long / not JSON, 40129 bad characters, 41030 bad page', async () => {
    const body = (scene: string, extra: Record<string, unknown> = {}) => ({
      scene,
      page: 'pages/login/index',
      check_path: false,
      ...extra,
    });
    const mpPost = (b: unknown, t = mpToken) => post('/wxa/getwxacodeunlimit', b, t);
    // The Official Account's token does not draw the mini program's codes.
    expect((await mpPost(body('a'), token)).body.errcode).toBe(40014);
    expect((await json(`${stack.simUrl}/wxa/getwxacodeunlimit`, { body: body('a') })).body.errcode).toBe(41001);
    expect((await mpPost(body('a'.repeat(33)))).body.errcode).toBe(40169);
    expect((await mpPost(body('a b'))).body.errcode).toBe(40129);
    expect((await mpPost(body('ok', { page: '/pages/login/index' }))).body.errcode).toBe(41030);
    expect((await mpPost(body('ok', { page: 'pages/unreleased/index', check_path: true }))).body.errcode).toBe(41030);
    const raw = await fetch(`${stack.simUrl}/wxa/getwxacodeunlimit?access_token=${mpToken}`, {
      method: 'POST',
      body: 'not json',
    });
    expect(((await raw.json()) as { errcode: number }).errcode).toBe(40169);
    const img = await fetch(`${stack.simUrl}/wxa/getwxacodeunlimit?access_token=${mpToken}`, {
      method: 'POST',
      body: JSON.stringify(body("a1!#$&'()*+,/:;=?@-._~")),
    });
    expect(img.headers.get('content-type')).toBe('image/jpeg');
    expect([...Buffer.from(await img.arrayBuffer()).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
  });

  it('jscode2session: the mini program app only, codes single use', async () => {
    const { code } = (await json(`${stack.simUrl}/sim/miniprogram/login`, { body: {} })).body as { code: string };
    const q = (p: Record<string, string>) => json(`${stack.simUrl}/sns/jscode2session?${new URLSearchParams(p)}`);
    const mp = stack.config.miniProgram!;
    expect(
      (await q({ appid: DEV_APPID, secret: DEV_SECRET, js_code: code, grant_type: 'authorization_code' })).body.errcode,
    ).toBe(40013);
    expect(
      (await q({ appid: mp.appid, secret: DEV_SECRET, js_code: code, grant_type: 'authorization_code' })).body.errcode,
    ).toBe(40125);
    const ok = await q({ appid: mp.appid, secret: mp.secret, js_code: code, grant_type: 'authorization_code' });
    expect(ok.body).toMatchObject({ openid: expect.stringMatching(/^.{28}$/), session_key: expect.any(String) });
    expect(
      (await q({ appid: mp.appid, secret: mp.secret, js_code: code, grant_type: 'authorization_code' })).body.errcode,
    ).toBe(40163);
  });
});

describe('config of the new modes', () => {
  it('dev defaults outside production; nothing in production unless set; the mini-program pair is both or neither', async () => {
    const PROD_URLS = {
      PUBLIC_URL: 'https://login.example.com',
      WS_PUBLIC_URL: 'wss://login.example.com/ws',
      TRUST_PROXY: '10.0.0.0/8',
    };
    const { loadConfig, DEV_WECHAT_TOKEN } = await import('../../server/config.js');
    const dev = loadConfig({ DEV_MODE: '1' });
    expect(dev.wechat.token).toBe(DEV_WECHAT_TOKEN);
    expect(dev.miniProgram?.appid).toBe(DEV_MP_APPID);
    expect(dev.wechat.aesKey).toBeUndefined();
    const prod = loadConfig({
      ...PROD_URLS,
      NODE_ENV: 'production',
      WECHAT_APPID: 'wx0123456789abcdef',
      SESSION_SECRET: 's'.repeat(32),
      WECHAT_SECRET: 'a'.repeat(32),
    });
    expect([prod.wechat.token, prod.miniProgram]).toEqual([undefined, undefined]);
    expect(() => loadConfig({ DEV_MODE: '1', WECHAT_MP_APPID: 'wx1234567890abcdef' })).toThrow(
      /WECHAT_MP_APPID, WECHAT_MP_SECRET: set both/,
    );
    expect(() => loadConfig({ DEV_MODE: '1', WECHAT_AES_KEY: 'short', WECHAT_TOKEN: 'a b' })).toThrow(
      /WECHAT_TOKEN[\s\S]*WECHAT_AES_KEY|WECHAT_AES_KEY[\s\S]*WECHAT_TOKEN/,
    );
    expect(() =>
      loadConfig({
        ...PROD_URLS,
        NODE_ENV: 'production',
        WECHAT_APPID: 'wx0123456789abcdef',
        SESSION_SECRET: 's'.repeat(32),
        WECHAT_SECRET: 'a'.repeat(32),
        WECHAT_TOKEN: DEV_WECHAT_TOKEN,
      }),
    ).toThrow(/WECHAT_TOKEN: the dev value/);
  });
});

describe('access_token metrics', () => {
  it('/healthz shows each shared token: age, upstream fetch count, no error', async () => {
    await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    await createLogin(stack.httpUrl, { mode: 'miniprogram' });
    const h = (await (await fetch(`${stack.httpUrl}/healthz`)).json()) as {
      wechat: {
        accessTokens: Record<
          string,
          { fetchCount: number; tokenAgeMs?: number; expiresInMs?: number; lastError?: string; source: string }
        >;
      };
    };
    for (const appid of [DEV_APPID, DEV_MP_APPID]) {
      const t = h.wechat.accessTokens[appid]!;
      expect(t.source).toBe('stable_token');
      expect(t.tokenAgeMs).toBeGreaterThanOrEqual(0);
      expect(t.expiresInMs).toBeGreaterThan(0);
      expect(t.lastError).toBeUndefined();
    }
    // Shared across processes: whichever process fetched, the cache serves the rest, so counts stay tiny.
    const total = Object.values(h.wechat.accessTokens).reduce((n, t) => n + t.fetchCount, 0);
    expect(total).toBeLessThanOrEqual(2);
  });
});
