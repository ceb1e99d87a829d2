/**
 * The embedded QR's hand-over, attacked as an outside prober did: a handoff code is a bearer code that the top
 * window spends at `/authorize?login_hint=handoff:<code>`. An attacker can make one for his own account and send
 * a victim's browser through it; these tests check that this never signs the victim in as him — now or later.
 */
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileRoles, startRolesOnFile } from '../helpers/roles.js';
import {
  type AuthRequest,
  authRequest,
  embedHandoffCode,
  handoffUrl,
  BROWSER_UA,
  discoverRp,
  exchange,
  follow,
  qrInteraction,
  type RelyingParty,
  SHOP_CLIENT,
  signIn,
  verifyIdToken,
} from '../helpers/oidc.js';
import { Phone } from '../../server/sim/scripted-phone.js';

const SPA = {
  client_id: 'spa',
  client_name: 'Public SPA',
  redirect_uris: ['http://spa.example/cb'],
  embed_origins: ['http://spa.example'],
};
/** The sample users the simulated phone can pick (server/sim/state/users.ts). */
const VICTIM = 0;
const ATTACKER = 2;

describe('embedded QR hand-over (attacks)', () => {
  let roles: FileRoles;
  let issuer: string;
  let spa: RelyingParty;
  let shop: RelyingParty;

  beforeAll(async () => {
    roles = await startRolesOnFile({ oidc: { clients: [SHOP_CLIENT, SPA] } });
    issuer = roles.httpUrl;
    spa = await discoverRp(issuer, SPA.client_id, undefined, SPA.redirect_uris[0]!);
    shop = await discoverRp(issuer, SHOP_CLIENT.client_id, SHOP_CLIENT.client_secret, SHOP_CLIENT.redirect_uris[0]!);
  });

  afterAll(() => roles?.stop());

  const subOf = async (rp: RelyingParty, req: AuthRequest, callback: URL) =>
    (await verifyIdToken(rp, (await exchange(rp, req, callback)).id_token!, req.nonce)).sub;

  const isQrPage = (url: URL) => url.pathname.startsWith('/interaction/');

  it('login CSRF: a planted handoff leaves the victim nothing — her next sign-in at the shop asks for a scan', async () => {
    // The attacker makes a handoff for his own account (his own frame parameters) and sends the victim's
    // browser through it; the site refuses his `state`, so nothing looks wrong to her.
    const attackerFrame = await authRequest(spa, { display: 'iframe' });
    const code = await embedHandoffCode(issuer, attackerFrame, ATTACKER);
    const victim = new Phone(BROWSER_UA);
    await follow(victim, handoffUrl(attackerFrame, code), issuer);

    // Later she signs in at that site, or another: she must be asked to scan, not signed in as the attacker.
    for (const rp of [spa, shop]) {
      const landed = await follow(victim, (await authRequest(rp)).url.toString(), issuer);
      expect(isQrPage(landed.url)).toBe(true);
      // And a silent check (prompt=none) finds no session either.
      const silent = await follow(victim, (await authRequest(rp, { prompt: 'none' })).url.toString(), issuer);
      expect(silent.url.searchParams.get('error')).toBe('login_required');
    }
    // Nothing was set that names a session: the provider's session cookie never reached her browser.
    expect([...victim.cookies.keys()].filter((name) => name.startsWith('_session'))).toEqual([]);
  });

  it("an existing session never wins over login_hint=handoff: the victim's own scan signs her in, not him", async () => {
    // Who the victim is, from a sign-in of her own elsewhere.
    const own = await signIn(shop, issuer, { pick: VICTIM });
    const victimSub = await subOf(shop, own.req, own.callback);
    // A shared computer: the attacker signed in at the shop in this browser (a session that could be reused).
    const browser = new Phone(BROWSER_UA);
    const planted = await signIn(shop, issuer, { browser, pick: ATTACKER });
    const attackerSub = await subOf(shop, planted.req, planted.callback);
    expect(attackerSub).not.toBe(victimSub);

    // The victim scans the embedded QR with her own phone; the top window spends her code.
    const frame = await authRequest(spa, { display: 'iframe' });
    const code = await embedHandoffCode(issuer, frame, VICTIM);
    const top = { ...frame, url: new URL(handoffUrl(frame, code)) };
    const back = await follow(browser, top.url.toString(), issuer);
    expect(back.url.origin + back.url.pathname).toBe(SPA.redirect_uris[0]);
    expect(await subOf(spa, top, back.url)).toBe(victimSub);
  });

  it('a handoff code completes only the authorization it was made for; otherwise it is spent and the QR shown', async () => {
    const frame = await authRequest(spa, { display: 'iframe' });
    for (const change of [
      { state: 'attacker-state' },
      { nonce: 'attacker-nonce' },
      { code_challenge: 'A'.repeat(43) },
      { scope: 'openid' },
    ]) {
      const code = await embedHandoffCode(issuer, frame, ATTACKER);
      const url = new URL(handoffUrl(frame, code));
      for (const [k, v] of Object.entries(change)) url.searchParams.set(k, v);
      const landed = await follow(new Phone(BROWSER_UA), url.toString(), issuer);
      expect(isQrPage(landed.url), JSON.stringify(change)).toBe(true);
      expect(landed.last.status).toBe(200);
      // Spent: the matching request cannot use it afterwards either.
      const again = await follow(new Phone(BROWSER_UA), handoffUrl(frame, code), issuer);
      expect(isQrPage(again.url)).toBe(true);
    }
    // The request it was made for completes, once.
    const code = await embedHandoffCode(issuer, frame, ATTACKER);
    const back = await follow(new Phone(BROWSER_UA), handoffUrl(frame, code), issuer);
    expect(back.url.origin + back.url.pathname).toBe(SPA.redirect_uris[0]);
    // Its tokens work although the provider kept no session of that sign-in (they do not expire with it).
    const top = { ...frame, url: new URL(handoffUrl(frame, code)) };
    const tokens = await exchange(spa, top, back.url);
    const claims = await verifyIdToken(spa, tokens.id_token!, frame.nonce);
    const info = await client.fetchUserInfo(spa.config, tokens.access_token, claims.sub!);
    expect(info.sub).toBe(claims.sub);
  });

  it('embed:<client> is refused for an unknown client and for one without embed_origins', async () => {
    const create = (interaction: string) =>
      fetch(`${issuer}/api/logins`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ interaction, authorize: '?' }),
      });
    const noEmbed = await create(`embed:${SHOP_CLIENT.client_id}`);
    expect(noEmbed.status).toBe(403);
    expect(((await noEmbed.json()) as { error: string }).error).toBe('forbidden');
    const unknown = await create('embed:nobody');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toBe('unknown_client');
  });

  it('prompt=login with another account after an earlier sign-in in this browser completes (no lost interaction)', async () => {
    const browser = new Phone(BROWSER_UA);
    const first = await signIn(shop, issuer, { browser });
    const firstSub = await subOf(shop, first.req, first.callback);
    const req = await authRequest(shop, { prompt: 'login' });
    const qr = await follow(browser, req.url.toString(), issuer);
    expect(isQrPage(qr.url)).toBe(true);
    const callback = await qrInteraction(browser, issuer, qr.url, 'confirm', { pick: ATTACKER });
    expect(callback.searchParams.get('error'), callback.toString()).toBeNull();
    const sub = await subOf(shop, req, callback);
    expect(sub).not.toBe(firstSub);
  });

  it('single sign-on right after a scan: signing in to that site again needs no scan (a new site still asks one)', async () => {
    const browser = new Phone(BROWSER_UA);
    const first = await signIn(shop, issuer, { browser, pick: ATTACKER });
    const sub = await subOf(shop, first.req, first.callback);
    const req = await authRequest(shop, { prompt: 'none' });
    const back = await follow(browser, req.url.toString(), issuer);
    expect(back.url.origin + back.url.pathname).toBe(SHOP_CLIENT.redirect_uris[0]);
    expect(await subOf(shop, req, back.url)).toBe(sub);
    // A site this person never confirmed on the phone: its consent is a scan naming it.
    expect(isQrPage((await follow(browser, (await authRequest(spa)).url.toString(), issuer)).url)).toBe(true);
  });
});

describe('single sign-on window', () => {
  let roles: FileRoles;
  let shop: RelyingParty;
  afterAll(() => roles?.stop());

  beforeAll(async () => {
    roles = await startRolesOnFile({ oidc: { clients: [SHOP_CLIENT, SPA] } }, { OIDC_SSO_WINDOW: '1' });
    shop = await discoverRp(
      roles.httpUrl,
      SHOP_CLIENT.client_id,
      SHOP_CLIENT.client_secret,
      SHOP_CLIENT.redirect_uris[0]!,
    );
  });

  it('the session cookie is a browser-session cookie, and once the window passed every sign-in is a scan', async () => {
    const browser = new Phone(BROWSER_UA);
    const setCookies: string[] = [];
    const send = browser.send.bind(browser);
    browser.send = async (url, init) => {
      const res = await send(url, init);
      setCookies.push(...res.headers.getSetCookie());
      return res;
    };
    await signIn(shop, roles.httpUrl, { browser });
    const session = setCookies.filter((c) => /^_session=/.test(c));
    expect(session.length).toBeGreaterThan(0);
    for (const c of session) expect(c).not.toMatch(/expires=|max-age=/i);
    // The window is 1 s: wait for it to pass (a sign-in within it may answer silently), then a scan is asked.
    const deadline = Date.now() + 20_000;
    let landed: URL;
    do {
      landed = (await follow(browser, (await authRequest(shop)).url.toString(), roles.httpUrl)).url;
    } while (!landed.pathname.startsWith('/interaction/') && Date.now() < deadline);
    expect(landed.pathname).toMatch(/^\/interaction\//);
    const silent = await follow(browser, (await authRequest(shop, { prompt: 'none' })).url.toString(), roles.httpUrl);
    expect(silent.url.searchParams.get('error')).toBe('login_required');
  });
});
