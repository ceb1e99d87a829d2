/**
 * Logins on behalf of accounts authorized to the platform (docs/wechat.md §12.6–§12.8), through OIDC clients bound
 * to them (docs/oidc.md): web OAuth with the component authorize URL and exchange, the Official Account QR with the
 * authorizer token and its scans at the message URL, a mini program through component jscode2session; an account
 * that granted too little, one that cannot make QR codes, and a revocation that ends pending logins. Real
 * redis-server, real roles, the simulator playing the open platform.
 */
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone } from '../../server/sim/scripted-phone.js';
import { SIM_MERCHANT_APPIDS } from '../../server/sim/state/merchants.js';
import { originalIdOf } from '../../server/sim/state/merchants.js';
import { buildWechatXml } from '../../server/wechat/push/xml.js';
import { encryptEventMessage, eventSignature } from '../../server/wechat/push/crypto.js';
import { DEV_COMPONENT } from '../../server/config.js';
import { startRolesOnFile, type FileRoles } from '../helpers/roles.js';
import { rawClient } from '../helpers/redis.js';
import { WatchClient } from '../helpers/ws-client.js';
import type { Redis } from 'ioredis';
import { discoverRp, exchange, signIn, verifyIdToken } from '../helpers/oidc.js';
import { authorizeAccount, loginFor, platformEnv, simControl, untilTicket } from '../helpers/platform.js';

const M = SIM_MERCHANT_APPIDS;
const client_ = (id: string, account: string) => ({
  client_id: id,
  client_secret: `${id}-secret-0123456789abcdef`,
  client_name: `Site of ${id}`,
  redirect_uris: [`http://${id}.example/cb`],
  account,
});
const COFFEE = client_('coffee', M.coffee);
const BLOG = client_('blog', M.blog);
const SCHOOL = client_('school', M.school);
const MINI = client_('mini', M.coffeeMini);
const NOWHERE = client_('nowhere', 'wx0000000000000000');

async function view(httpUrl: string, login: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${httpUrl}/api/logins/${login.id as string}`, {
    headers: { authorization: `Bearer ${login.watchToken as string}` },
  });
  return (await res.json()) as Record<string, unknown>;
}

describe('logins on behalf of the platform accounts', () => {
  let roles: FileRoles;
  let redis: Redis;

  beforeAll(async () => {
    roles = await startRolesOnFile({ oidc: { clients: [COFFEE, BLOG, SCHOOL, MINI, NOWHERE] } }, platformEnv(1));
    redis = rawClient(roles.redis.url);
    await untilTicket(roles.httpUrl);
    await authorizeAccount(roles.httpUrl, M.coffee);
    await authorizeAccount(roles.httpUrl, M.blog);
    // The school's admin unticks 网页服务 (4): no web OAuth on its behalf.
    await authorizeAccount(roles.httpUrl, M.school, [1, 2, 3]);
    await authorizeAccount(roles.httpUrl, M.coffeeMini);
  });

  afterAll(async () => {
    redis?.disconnect();
    await roles?.stop();
  });

  it('oauth: the component authorize URL, the component exchange, the account as the identity', async () => {
    const rp = await discoverRp(roles.httpUrl, COFFEE.client_id, COFFEE.client_secret, COFFEE.redirect_uris[0]!);
    const { req, callback } = await signIn(rp, roles.httpUrl);
    const tokens = await exchange(rp, req, callback);
    const claims = await verifyIdToken(rp, tokens.id_token!, req.nonce);
    const info = await client.fetchUserInfo(rp.config, tokens.access_token, claims.sub!);
    expect(info.wechat).toMatchObject({ appid: M.coffee, mode: 'oauth' });
  });

  it('oauth: the link carries component_appid, and a callback naming another account is refused', async () => {
    const created = await loginFor(roles.httpUrl, COFFEE, 'oauth');
    expect(created.status).toBe(201);
    const phone = new Phone();
    const authorize = await phone.scan(created.body.scanUrl as string);
    expect(authorize.searchParams.get('appid')).toBe(M.coffee);
    expect(authorize.searchParams.get('component_appid')).toBe(DEV_COMPONENT.WECHAT_COMPONENT_APPID);
    const cb = await phone.consent(authorize, 'allow');
    expect(cb.searchParams.get('appid')).toBe(M.coffee);
    cb.searchParams.set('appid', M.blog);
    const page = await phone.callback(cb);
    expect(page.status).toBe(400);
    expect(page.html).toContain('invalid_state');
  });

  it('mp-qrcode: the authorizer token makes the QR, its scan reaches the message URL for that account', async () => {
    const created = await loginFor(roles.httpUrl, COFFEE, 'mp-qrcode');
    expect(created.status).toBe(201);
    const pushed = await simControl<{ delivered: boolean; reply?: { link?: string }; attempts: unknown[] }>(
      roles.simUrl,
      '/sim/mp/scan',
      { url: created.body.scanUrl },
    );
    expect(pushed.delivered).toBe(true);
    expect(pushed.reply?.link).toContain(`/l/${created.body.id as string}/mp`);
    expect(await view(roles.httpUrl, created.body)).toMatchObject({ status: 'scanned' });
    // The reply's link, on the phone: Confirm. The unionid comes from cgi-bin/user/info with the account's token.
    const link = new URL(pushed.reply!.link!);
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const confirmed = await fetch(new URL(`${link.pathname}/confirm`, link), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ t: link.searchParams.get('t')! }),
    });
    expect(confirmed.status).toBe(200);
    expect(await view(roles.httpUrl, created.body)).toMatchObject({ status: 'confirmed' });
    const user = JSON.parse((await redis.hget(`scanlogin:login:{${created.body.id as string}}`, 'user'))!);
    expect(user).toMatchObject({ appid: M.coffee, mode: 'mp-qrcode', unionid: expect.any(String) });
  });

  it('mp-qrcode: a push naming another account than its URL is ignored', async () => {
    const created = await loginFor(roles.httpUrl, COFFEE, 'mp-qrcode');
    const { token, aesKey, appid } = {
      token: DEV_COMPONENT.WECHAT_COMPONENT_TOKEN,
      aesKey: DEV_COMPONENT.WECHAT_COMPONENT_AES_KEY,
      appid: DEV_COMPONENT.WECHAT_COMPONENT_APPID,
    };
    const ticket = (await redis.hget(`scanlogin:login:{${created.body.id as string}}`, 'modeData'))!;
    const xml = buildWechatXml({
      ToUserName: originalIdOf(M.school),
      FromUserName: 'oAnyUser0000000000000000000',
      CreateTime: Math.floor(Date.now() / 1000),
      MsgType: 'event',
      Event: 'SCAN',
      EventKey: `slogin${created.body.id as string}`,
      Ticket: (JSON.parse(ticket) as { ticket: string }).ticket,
    });
    const encrypted = encryptEventMessage(aesKey, appid, xml);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = '12345';
    const q = new URLSearchParams({
      signature: eventSignature([token, timestamp, nonce]),
      timestamp,
      nonce,
      encrypt_type: 'aes',
      msg_signature: eventSignature([token, timestamp, nonce, encrypted]),
    });
    // Signed by the platform, but sent to the coffee account's URL naming the school's original id.
    const res = await fetch(`${roles.httpUrl}/wechat/platform/${M.coffee}/events?${q}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: buildWechatXml({ ToUserName: originalIdOf(M.school), Encrypt: encrypted }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('success');
    expect(await view(roles.httpUrl, created.body)).toMatchObject({ status: 'pending' });
  });

  it('mp-qrcode for an unverified subscription account: WeChat refuses the QR (48001 → wechat_refused)', async () => {
    const created = await loginFor(roles.httpUrl, BLOG, 'mp-qrcode');
    expect(created.status).toBe(502);
    expect(created.body).toMatchObject({ error: 'wechat_refused', errcode: 48001 });
  });

  it('an account that did not grant web pages (4) is refused oauth, naming the set', async () => {
    const created = await loginFor(roles.httpUrl, SCHOOL, 'oauth');
    expect(created.status).toBe(403);
    expect(created.body).toMatchObject({ error: 'permission_missing', missing: [4] });
  });

  it('a visitor cannot choose the account: POST /api/logins ignores an `account` of its own', async () => {
    const coffeeLogins = `scanlogin:account-logins:{${M.coffee}}`;
    const before = await redis.zcard(coffeeLogins);
    const res = await fetch(`${roles.httpUrl}/api/logins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'mp-qrcode', account: M.coffee }),
    });
    expect(res.status).toBe(201);
    const login = (await res.json()) as { id: string };
    // The deployment's own Official Account's QR: the login names no account, and no coffee token was spent.
    expect(await redis.hget(`scanlogin:login:{${login.id}}`, 'account')).toBeNull();
    expect(await redis.zcard(coffeeLogins)).toBe(before);
    expect(await redis.zscore(coffeeLogins, login.id)).toBeNull();
  });

  it('a client naming an account this deployment does not serve: unknown_account', async () => {
    const created = await loginFor(roles.httpUrl, NOWHERE, 'oauth');
    expect(created.status).toBe(400);
    expect(created.body).toMatchObject({ error: 'unknown_account' });
  });

  it('miniprogram: the authorizer token draws the code, component jscode2session identifies the user', async () => {
    const created = await loginFor(roles.httpUrl, MINI, 'miniprogram');
    expect(created.status).toBe(201);
    const img = await fetch(`${roles.httpUrl}${(created.body.qr as { png: string }).png}`);
    expect(img.status).toBe(200);
    const { code } = await simControl<{ code: string }>(roles.simUrl, '/sim/miniprogram/login', {
      appid: M.coffeeMini,
    });
    const scan = await fetch(`${roles.httpUrl}/api/mp/scan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scene: created.body.id, code }),
    });
    expect(scan.status).toBe(200);
    const user = JSON.parse((await redis.hget(`scanlogin:login:{${created.body.id as string}}`, 'user'))!);
    expect(user).toMatchObject({ appid: M.coffeeMini, mode: 'miniprogram' });
  });

  it('revocation: the pending login ends with account_revoked, a new one is refused, the operator page shows it', async () => {
    const pending = await loginFor(roles.httpUrl, COFFEE, 'oauth');
    expect(pending.status).toBe(201);
    const watcher = await WatchClient.watch(roles.wsUrl, pending.body.id as string, pending.body.watchToken as string);
    await watcher.next((m) => m.status === 'pending');
    await simControl(roles.simUrl, '/sim/platform/revoke', { appid: M.coffee });
    // The page watching it hears why over its socket (not only a later poll): the account, not the phone.
    expect(await watcher.next((m) => m.status === 'cancelled', 10_000)).toMatchObject({ reason: 'account_revoked' });
    watcher.socket.close();
    await expect
      .poll(async () => view(roles.httpUrl, pending.body), { timeout: 10_000, interval: 100 })
      .toMatchObject({ status: 'cancelled', reason: 'account_revoked' });
    // A phone scanning its QR afterwards is told why it cannot sign in, not that the login "already finished".
    const scanned = await new Phone().get(pending.body.scanUrl as string);
    expect(scanned.status).toBe(410);
    const html = await scanned.text();
    expect(html).toContain('error-account_revoked');
    expect(html).toContain('tell the site');
    const again = await loginFor(roles.httpUrl, COFFEE, 'oauth');
    expect(again.status).toBe(410);
    expect(again.body).toMatchObject({ error: 'account_revoked' });
    const page = await (await fetch(`${roles.httpUrl}/admin/platform`)).text();
    expect(page).toMatch(new RegExp(`id="account-${M.coffee}" data-revoked="true"`));
    // Authorizing again brings it back.
    await authorizeAccount(roles.httpUrl, M.coffee);
    expect((await loginFor(roles.httpUrl, COFFEE, 'oauth')).status).toBe(201);
  });
});
