/**
 * The phone's confirmation in the WeChat-driven modes. `mp-qrcode`: WeChat's scan event only marks the login
 * `scanned` with the scanner; the passive reply to that event (a text message, AES-encrypted in safe mode) links
 * to a confirm page showing the requesting browser, IP and time, and only that page's Confirm logs in. The link's
 * token is one-time, bound to the scanner and the login. `miniprogram`: `/api/mp/scan` names the requesting
 * browser so the mini program shows it before its Confirm.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptEventMessage, eventSignature } from '../../server/wechat/push/crypto.js';
import { buildWechatXml, parseWechatXml } from '../../server/wechat/push/xml.js';
import {
  createLogin,
  startStack,
  type CreatedLogin,
  type TestStack,
  suiteStack,
  storedTicket,
} from '../helpers/stack.js';
import { rawClient } from '../helpers/redis.js';
import { WatchClient } from '../helpers/ws-client.js';

const AES_KEY = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
const TOKEN = 'eventtoken123';
const nowS = () => Math.floor(Date.now() / 1000);

/** A signed `SCAN` of login `id`'s QR by `openid`, plaintext or (with `aes`) safe mode; returns the answer. */
async function scan(s: TestStack, id: string, openid: string, opts: { aes?: boolean; createTime?: number } = {}) {
  const timestamp = String(nowS());
  const nonce = String(randomInt(1e9, 1e10));
  const xml = buildWechatXml({
    ToUserName: 'gh_account0001',
    FromUserName: openid,
    CreateTime: opts.createTime ?? nowS(),
    MsgType: 'event',
    Event: 'SCAN',
    EventKey: `slogin${id}`,
    Ticket: await storedTicket(s, id),
  });
  const q = new URLSearchParams({ signature: eventSignature([TOKEN, timestamp, nonce]), timestamp, nonce, openid });
  let body = xml;
  if (opts.aes) {
    const { encryptEventMessage } = await import('../../server/wechat/push/crypto.js');
    const encrypted = encryptEventMessage(AES_KEY, s.config.wechat.appid, xml);
    q.set('encrypt_type', 'aes');
    q.set('msg_signature', eventSignature([TOKEN, timestamp, nonce, encrypted]));
    body = buildWechatXml({ ToUserName: 'gh_account0001', Encrypt: encrypted });
  }
  const res = await fetch(`${s.httpUrl}/wechat/events?${q}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body,
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), nonce };
}

/** The text message of a plaintext passive reply. */
function textReply(text: string): Record<string, string> {
  const msg = parseWechatXml(text);
  if (!msg) throw new Error(`not a WeChat XML reply: ${text}`);
  return msg;
}

const linkOf = (content: string) => /<a href="([^"]+)">/.exec(content)?.[1];

async function view(s: TestStack, login: CreatedLogin) {
  const res = await fetch(`${s.httpUrl}/api/logins/${login.id}`, {
    headers: { authorization: `Bearer ${login.watchToken}` },
  });
  return (await res.json()) as { status: string; rev: number; ticket?: string };
}

async function page(url: string) {
  const res = await fetch(url);
  return { status: res.status, html: await res.text() };
}

/** Submits one of the confirm page's forms (action and hidden fields as rendered). */
async function submit(base: string, html: string, button: 'confirm' | 'cancel') {
  const form = new RegExp(`<form method="post" action="([^"]+)">((?:(?!</form>).)*?)<button id="${button}"`, 's').exec(
    html,
  );
  if (!form) throw new Error(`no ${button} form in:\n${html}`);
  const fields = new URLSearchParams();
  for (const m of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields.set(m[1]!, m[2]!);
  const res = await fetch(new URL(form[1]!.replaceAll('&amp;', '&'), base), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: fields,
  });
  return { status: res.status, html: await res.text() };
}

const pageState = (html: string) => /data-page="([^"]+)"/.exec(html)?.[1];

describe('mp-qrcode: the scan event asks, the phone confirms', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ WECHAT_TOKEN: TOKEN });
  });
  afterAll(() => stack?.stop());

  it('a scan event alone leaves the login scanned with the user; its reply is a text message with a link', async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    await watcher.next((m) => m.status === 'pending');
    const answer = await scan(stack, login.id, 'oScanner00000000000000000001');
    expect(answer.status).toBe(200);
    expect(answer.type).toMatch(/xml/);
    const reply = textReply(answer.text);
    expect(reply).toMatchObject({
      ToUserName: 'oScanner00000000000000000001',
      FromUserName: 'gh_account0001',
      MsgType: 'text',
    });
    expect(reply.CreateTime).toMatch(/^\d+$/);
    const link = linkOf(reply.Content ?? '');
    expect(link).toMatch(new RegExp(`^${stack.config.publicUrl}/l/${login.id}/mp\\?t=[0-9A-Za-z]+$`));
    await watcher.next((m) => m.status === 'scanned');
    const v = await view(stack, login);
    expect(v).toMatchObject({ status: 'scanned', rev: 2 });
    expect(v.ticket).toBeUndefined();
    // The link token is not stored: only its hash.
    const redis = rawClient(stack.redis.url);
    try {
      const stored = await redis.hgetall(`${stack.config.redis.keyPrefix}login:{${login.id}}`);
      const token = new URL(link!).searchParams.get('t')!;
      expect(JSON.stringify(stored)).not.toContain(token);
      expect(JSON.parse(stored.user!)).toEqual({
        openid: 'oScanner00000000000000000001',
        appid: stack.config.wechat.appid,
        mode: 'mp-qrcode',
      });
    } finally {
      redis.disconnect();
    }
    watcher.close();
  });

  it("the link's page shows the requesting browser, IP and time; Confirm logs in; a second use is refused", async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    const link = linkOf(textReply((await scan(stack, login.id, 'oConfirmer0000000000000000001')).text).Content!)!;
    const shown = await page(link);
    expect(shown.status).toBe(200);
    expect(pageState(shown.html)).toBe('confirm');
    expect(shown.html).toContain('Chrome on Windows');
    expect(shown.html).toContain('127.0.0.1');
    expect(shown.html).toMatch(/<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z">/);
    expect(shown.html).toContain('id="confirm"');
    expect(shown.html).toContain('id="cancel"');
    // Opening the link again (the message tapped twice) shows the same page.
    expect(pageState((await page(link)).html)).toBe('confirm');

    const done = await submit(link, shown.html, 'confirm');
    expect([done.status, pageState(done.html)]).toEqual([200, 'confirmed']);
    const confirmed = await watcher.next((m) => m.status === 'confirmed');
    const redeemed = await fetch(`${stack.httpUrl}/api/logins/${login.id}/redeem`, {
      method: 'POST',
      headers: { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ticket: confirmed.ticket }),
    });
    // The simulator knows no such follower, so cgi-bin/user/info answered 40003: the unionid is an enrichment, and
    // the login is confirmed all the same, without one.
    expect(((await redeemed.json()) as { user: unknown }).user).toEqual({
      openid: 'oConfirmer0000000000000000001',
      appid: stack.config.wechat.appid,
      mode: 'mp-qrcode',
    });

    // The token is spent: the link and the form again are a clear page with a stable code.
    const again = await page(link);
    expect([again.status, pageState(again.html)]).toEqual([409, 'error-link_used']);
    const resubmit = await submit(link, shown.html, 'confirm');
    expect([resubmit.status, pageState(resubmit.html)]).toEqual([409, 'error-link_used']);
    watcher.close();
  });

  it("a forged token and another scanner's token are refused; the login stays scanned", async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const mine = linkOf(textReply((await scan(stack, login.id, 'oVictim000000000000000000001')).text).Content!)!;
    const other = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const theirs = linkOf(textReply((await scan(stack, other.id, 'oOther0000000000000000000001')).text).Content!)!;
    const theirToken = new URL(theirs).searchParams.get('t')!;
    const forgedUrl = new URL(mine);
    for (const t of ['0'.repeat(40), theirToken, '', 'x'.repeat(500)]) {
      forgedUrl.searchParams.set('t', t);
      const res = await page(forgedUrl.href);
      expect([res.status, pageState(res.html)]).toEqual([403, 'error-invalid_link']);
    }
    // Posting the form with another scanner's token (or none) is refused the same way.
    const shown = await page(mine);
    for (const t of [theirToken, '']) {
      const forged = shown.html.replace(/name="t" value="[^"]*"/g, `name="t" value="${t}"`);
      const res = await submit(mine, forged, 'confirm');
      expect([res.status, pageState(res.html)]).toEqual([403, 'error-invalid_link']);
    }
    // Another WeChat user scanning the already-scanned QR gets no link and takes nothing over.
    const late = await scan(stack, login.id, 'oLateComer00000000000000000001');
    expect([late.status, late.text]).toEqual([200, 'success']);
    expect(await view(stack, login)).toMatchObject({ status: 'scanned', rev: 2 });
    expect(pageState((await page(mine)).html)).toBe('confirm');
  });

  it('the forms of unknown, other-mode and pending logins: the codes a read before the script gave', async () => {
    const oauth = await createLogin(stack.httpUrl);
    const pending = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const post = (id: string, t: string) =>
      fetch(`${stack.httpUrl}/l/${id}/mp/confirm`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ t }),
      }).then(async (r) => [r.status, pageState(await r.text())]);
    for (const t of ['0'.repeat(40), 'malformed']) {
      expect(await post('U'.repeat(24), t)).toEqual([404, 'error-unknown_login']);
      expect(await post(oauth.id, t)).toEqual([404, 'error-unknown_login']);
      expect(await post(pending.id, t)).toEqual([403, 'error-invalid_link']);
    }
    expect((await view(stack, oauth)).status).toBe('pending');
    expect((await view(stack, pending)).status).toBe('pending');
  });

  it('Cancel on the page cancels the login; the link is then spent', async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const link = linkOf(textReply((await scan(stack, login.id, 'oCanceller00000000000000000001')).text).Content!)!;
    const done = await submit(link, (await page(link)).html, 'cancel');
    expect([done.status, pageState(done.html)]).toEqual([200, 'cancelled']);
    expect((await view(stack, login)).status).toBe('cancelled');
    expect(pageState((await page(link)).html)).toBe('error-link_used');
  });

  it('a retried (or repeated) scan event by the same user gets the same link, and the first link keeps working', async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const createTime = nowS();
    const first = linkOf(
      textReply((await scan(stack, login.id, 'oRetry0000000000000000000001', { createTime })).text).Content!,
    );
    const retry = linkOf(
      textReply((await scan(stack, login.id, 'oRetry0000000000000000000001', { createTime })).text).Content!,
    );
    const rescan = linkOf(textReply((await scan(stack, login.id, 'oRetry0000000000000000000001')).text).Content!);
    expect(retry).toBe(first);
    expect(rescan).toBe(first);
    expect(await view(stack, login)).toMatchObject({ status: 'scanned', rev: 2 });
    const done = await submit(first!, (await page(first!)).html, 'confirm');
    expect(pageState(done.html)).toBe('confirmed');
  });
});

describe('mp-qrcode in safe mode: the reply is encrypted', () => {
  const aesStack = suiteStack({ WECHAT_TOKEN: TOKEN, WECHAT_AES_KEY: AES_KEY });

  it('Encrypt + MsgSignature + TimeStamp + Nonce; decrypted, the text message with the link', async () => {
    const login = await createLogin(aesStack().httpUrl, { mode: 'mp-qrcode' });
    const answer = await scan(aesStack(), login.id, 'oSafe00000000000000000000001', { aes: true });
    expect(answer.status).toBe(200);
    const outer = textReply(answer.text);
    expect(Object.keys(outer).sort()).toEqual(['Encrypt', 'MsgSignature', 'Nonce', 'TimeStamp']);
    expect(outer.MsgSignature).toBe(eventSignature([TOKEN, outer.TimeStamp!, outer.Nonce!, outer.Encrypt!]));
    expect(Math.abs(Number(outer.TimeStamp) - nowS())).toBeLessThan(60);
    const opened = decryptEventMessage(AES_KEY, aesStack().config.wechat.appid, outer.Encrypt!);
    expect(opened.ok).toBe(true);
    const inner = textReply((opened as { msg: string }).msg);
    expect(inner).toMatchObject({ ToUserName: 'oSafe00000000000000000000001', MsgType: 'text' });
    const link = linkOf(inner.Content!)!;
    expect(answer.text).not.toContain(new URL(link).searchParams.get('t')!);
    const done = await submit(link, (await page(link)).html, 'confirm');
    expect(pageState(done.html)).toBe('confirmed');
    expect((await view(aesStack(), login)).status).toBe('confirmed');
  });
});

describe('miniprogram: the mini program is told who asked', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({});
  });
  afterAll(() => stack?.stop());

  it("/api/mp/scan answers the requesting browser's description", async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'miniprogram' });
    const wx = (await (
      await fetch(`${stack.simUrl}/sim/miniprogram/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
    ).json()) as { code: string };
    const res = await fetch(`${stack.httpUrl}/api/mp/scan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scene: login.id, code: wx.code }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { requester: { browser: string; ip: string; requestedAt: number } };
    expect(body.requester).toEqual({
      browser: 'Chrome on Windows',
      ip: expect.stringContaining('127.0.0.1'),
      requestedAt: expect.any(Number),
    });
    expect(body.requester.requestedAt).toBeLessThanOrEqual(Date.now());
    expect(body.requester.requestedAt).toBeGreaterThan(login.expiresAt - 10 * 60_000);
  });
});
