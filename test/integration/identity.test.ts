/**
 * One person, one identity, end to end on the real stack (http + ws + simulator + redis): the
 * same simulated WeChat user signs in to an OpenID Connect client by each login mode — web OAuth, the Official
 * Account's QR (whose unionid comes from cgi-bin/user/info) and the mini program — and the id_token's `sub` is
 * the same whenever WeChat has a unionid for them. Without one, `sub` is the openid namespaced by its app, so the
 * Official Account's two modes agree (one app, one openid) and the mini program does not.
 */
import type { JWTPayload } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimUsers, type SimUser } from '../../server/sim/state/users.js';
import { BROWSER_UA, authRequest, discoverRp, exchange, follow, SHOP_CLIENT, verifyIdToken } from '../helpers/oidc.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { type FileRoles, startRolesOnFile } from '../helpers/roles.js';
import { rawClient } from '../helpers/redis.js';
import { sessionKey } from '../../server/sessions/session-id.js';

type Mode = 'oauth' | 'mp-qrcode' | 'miniprogram';
const ZHANGSAN = 0; // bound to the Open Platform account: has a unionid
const LISI = 2; // not bound: no unionid

describe('one person, one sub across login modes (OpenID Connect)', () => {
  let roles: FileRoles;
  let issuer: string;
  let oaUsers: readonly SimUser[];
  let miniUsers: readonly SimUser[];

  beforeAll(async () => {
    roles = await startRolesOnFile({ oidc: { clients: [SHOP_CLIENT] } }, { WECHAT_TOKEN: 'identitytoken' });
    issuer = roles.httpUrl;
    oaUsers = new SimUsers(roles.config.wechat.appid).list();
    miniUsers = new SimUsers(roles.config.miniProgram!.appid).list();
  });
  afterAll(() => roles?.stop());

  async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** The phone's part of a login of `mode` as sample user `pick`, up to the confirmation. */
  async function phoneConfirms(mode: Mode, login: { id: string; scanUrl: string }, pick: number): Promise<void> {
    if (mode === 'oauth') {
      const phone = new Phone();
      const page = await phone.callback(await phone.consent(await phone.scan(login.scanUrl), 'allow', pick));
      expect((await phone.submit(page.html, 'confirm', issuer)).status).toBe(200);
    } else if (mode === 'mp-qrcode') {
      const push = await post(`${roles.simUrl}/sim/mp/scan`, { url: login.scanUrl, openid: oaUsers[pick]!.openid });
      const link = (push.body.reply as { link: string }).link;
      const page = await (await fetch(link)).text();
      const t = /name="t" value="([^"]+)"/.exec(page)![1]!;
      const action = /action="([^"]+\/confirm)"/.exec(page)![1]!;
      const done = await fetch(new URL(action, link), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ t }),
      });
      expect(done.status).toBe(200);
    } else {
      const { code } = (await post(`${roles.simUrl}/sim/miniprogram/login`, { openid: miniUsers[pick]!.openid }))
        .body as { code: string };
      const scan = await post(`${issuer}/api/mp/scan`, { scene: login.id, code });
      expect(scan.status).toBe(200);
      const ok = await post(`${issuer}/api/mp/confirm`, { scene: login.id, mpToken: scan.body.mpToken });
      expect(ok.body).toEqual({ status: 'confirmed' });
    }
  }

  /** A fresh browser signs in at the shop by `mode` as sample user `pick`: the verified id_token and userinfo. */
  async function signInBy(
    mode: Mode,
    pick: number,
    beforeFinish?: (sessionId: string) => Promise<void>,
  ): Promise<{ claims: JWTPayload; info: Record<string, unknown> }> {
    const rp = await discoverRp(issuer, SHOP_CLIENT.client_id, SHOP_CLIENT.client_secret, SHOP_CLIENT.redirect_uris[0]);
    const browser = new Phone(BROWSER_UA);
    const req = await authRequest(rp);
    const interaction = (await follow(browser, req.url.toString(), issuer)).url;
    const uid = interaction.pathname.split('/').pop()!;
    const created = await post(`${issuer}/api/logins`, { interaction: uid, mode }, { 'user-agent': BROWSER_UA });
    expect(created.status).toBe(201);
    const login = created.body as { id: string; watchToken: string; scanUrl: string };
    await phoneConfirms(mode, login, pick);
    const auth = { authorization: `Bearer ${login.watchToken}` };
    const { ticket } = (await (await fetch(`${issuer}/api/logins/${login.id}`, { headers: auth })).json()) as {
      ticket: string;
    };
    const redeemed = await browser.send(`${issuer}/api/logins/${login.id}/redeem`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ ticket }),
    });
    expect(redeemed.status).toBe(200);
    await beforeFinish?.(browser.cookies.get('sl_session')!);
    const finished = await browser.send(`${issuer}/interaction/${uid}/finish`, { method: 'POST' });
    expect(finished.status).toBe(303);
    const callback = (await follow(browser, new URL(finished.headers.get('location')!, issuer).toString(), issuer)).url;
    const tokens = await exchange(rp, req, callback);
    const claims = await verifyIdToken(rp, tokens.id_token!, req.nonce);
    const info = (await client.fetchUserInfo(rp.config, tokens.access_token, claims.sub!)) as Record<string, unknown>;
    return { claims, info };
  }

  it('with a unionid: oauth, mp-qrcode and miniprogram give one sub (the unionid); each names its own app', async () => {
    const oauth = await signInBy('oauth', ZHANGSAN);
    const mp = await signInBy('mp-qrcode', ZHANGSAN);
    const mini = await signInBy('miniprogram', ZHANGSAN);
    const unionid = oaUsers[ZHANGSAN]!.unionid!;
    expect(unionid).toBe(miniUsers[ZHANGSAN]!.unionid);
    for (const { claims, info } of [oauth, mp, mini]) {
      expect(claims.sub).toBe(unionid);
      expect(info.sub).toBe(unionid);
    }
    expect(oauth.info.wechat).toEqual({
      openid: oaUsers[ZHANGSAN]!.openid,
      unionid,
      appid: roles.config.wechat.appid,
      mode: 'oauth',
    });
    // The Official Account's QR: the scan event named only the openid; the unionid came from cgi-bin/user/info.
    expect(mp.info.wechat).toEqual({
      openid: oaUsers[ZHANGSAN]!.openid,
      unionid,
      appid: roles.config.wechat.appid,
      mode: 'mp-qrcode',
    });
    expect(mini.info.wechat).toEqual({
      openid: miniUsers[ZHANGSAN]!.openid,
      unionid,
      appid: roles.config.miniProgram!.appid,
      mode: 'miniprogram',
    });
  });

  it('without a unionid: sub is <appid>:<openid> — the same for the Official Account modes, another for the mini program', async () => {
    const oauth = await signInBy('oauth', LISI);
    const mp = await signInBy('mp-qrcode', LISI);
    const mini = await signInBy('miniprogram', LISI);
    const oaSub = `${roles.config.wechat.appid}:${oaUsers[LISI]!.openid}`;
    expect(oauth.claims.sub).toBe(oaSub);
    expect(mp.claims.sub).toBe(oaSub);
    expect(mini.claims.sub).toBe(`${roles.config.miniProgram!.appid}:${miniUsers[LISI]!.openid}`);
    expect(mini.claims.sub).not.toBe(oaSub);
    for (const { info } of [oauth, mp, mini]) expect(info.wechat).not.toHaveProperty('unionid');
  });

  it('a session written before users carried appid and mode (a rolling upgrade) still gets the right app', async () => {
    const redis = rawClient(roles.redis.url);
    try {
      const { claims, info } = await signInBy('oauth', LISI, async (sessionId) => {
        const key = sessionKey(roles.config.redis.keyPrefix, sessionId)!;
        const session = JSON.parse((await redis.get(key))!) as { user: Record<string, unknown> };
        delete session.user.appid;
        delete session.user.mode;
        await redis.set(key, JSON.stringify(session), 'KEEPTTL');
      });
      expect(claims.sub).toBe(`${roles.config.wechat.appid}:${oaUsers[LISI]!.openid}`);
      expect(info.wechat).toMatchObject({ appid: roles.config.wechat.appid, mode: 'oauth' });
    } finally {
      redis.disconnect();
    }
  });
});
