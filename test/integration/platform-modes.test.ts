/**
 * The modes a login page offers are the ones its logins can run: the plain page (and GET /api/config) the
 * deployment's own accounts', a site's interaction and embedded frame its account's — by kind and granted
 * permission sets. Here the deployment has a platform and no mini program of its own, so `miniprogram` exists on
 * the server (for the platform's mini programs) but never on the plain page. Real redis-server, real roles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone } from '../../server/sim/scripted-phone.js';
import { SIM_MERCHANT_APPIDS } from '../../server/sim/state/merchants.js';
import { startRolesOnFile, type FileRoles } from '../helpers/roles.js';
import { BROWSER_UA, authRequest, discoverRp, follow } from '../helpers/oidc.js';
import { authorizeAccount, boundClient, loginFor, platformEnv, simControl, untilTicket } from '../helpers/platform.js';

const M = SIM_MERCHANT_APPIDS;
const COFFEE = boundClient('coffee', M.coffee);
// The school's admin unticks 网页服务 (4): its QR (sets 1 and 3) works, web OAuth does not.
const SCHOOL = boundClient('school', M.school);
const MINI = boundClient('mini', M.coffeeMini);
// A public client with the embedded QR, bound to an account that granted the QR's sets only.
const BLOG = {
  client_id: 'blog',
  client_name: 'Site of blog',
  redirect_uris: ['http://blog.example/cb'],
  embed_origins: ['http://blog.example'],
  account: M.blog,
};
// A site bound to no account: the deployment's own.
const { account: _own, ...PLAIN } = boundClient('plain', M.coffee);

/** The modes a login page says it offers (its meta tag), or undefined when it names none. */
function pageModes(html: string): string[] | undefined {
  const content = /<meta name="scanlogin-modes" content="([^"]*)">/.exec(html)?.[1];
  return content === undefined ? undefined : content.split(' ').filter(Boolean);
}

describe('the modes a login page offers', () => {
  let roles: FileRoles;

  /** The site's interaction page, as its user's browser gets it. */
  async function interactionPage(c: { client_id: string; client_secret?: string; redirect_uris: string[] }) {
    const rp = await discoverRp(roles.httpUrl, c.client_id, c.client_secret, c.redirect_uris[0]!);
    const { url, last } = await follow(new Phone(BROWSER_UA), (await authRequest(rp)).url.toString(), roles.httpUrl);
    expect(url.pathname).toMatch(/^\/interaction\//);
    return last.text();
  }

  beforeAll(async () => {
    roles = await startRolesOnFile(
      {
        oidc: {
          clients: [COFFEE, SCHOOL, MINI, BLOG, PLAIN],
        },
      },
      { ...platformEnv(1), WECHAT_MP_APPID: '', WECHAT_MP_SECRET: '' },
    );
    await untilTicket(roles.httpUrl);
    await authorizeAccount(roles.httpUrl, M.coffee);
    await authorizeAccount(roles.httpUrl, M.school, [1, 2, 3]);
    await authorizeAccount(roles.httpUrl, M.coffeeMini);
    await authorizeAccount(roles.httpUrl, M.blog, [1, 2, 3]);
  });

  afterAll(() => roles?.stop());

  it("the plain page and /api/config: the deployment's own accounts' modes, never the platform's mini program", async () => {
    const config = (await (await fetch(`${roles.httpUrl}/api/config`)).json()) as { modes: string[] };
    expect(config.modes).toEqual(['oauth', 'mp-qrcode', 'qrconnect']);
    expect(pageModes(await (await fetch(`${roles.httpUrl}/`)).text())).toEqual(['oauth', 'mp-qrcode', 'qrconnect']);
    // What the page would have run: a direct mini-program login is refused.
    const direct = await fetch(`${roles.httpUrl}/api/logins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'miniprogram' }),
    });
    expect(direct.status).toBe(400);
    expect(((await direct.json()) as { error: string }).error).toBe('unknown_mode');
  });

  it("a site's interaction offers its account's modes: by its kind and the sets its admin granted", async () => {
    expect(pageModes(await interactionPage(COFFEE))).toEqual(['oauth', 'mp-qrcode']);
    expect(pageModes(await interactionPage(SCHOOL))).toEqual(['mp-qrcode']);
    expect(pageModes(await interactionPage(MINI))).toEqual(['miniprogram']);
    // A site naming no account: the deployment's own.
    expect(pageModes(await interactionPage(PLAIN))).toEqual(['oauth', 'mp-qrcode', 'qrconnect']);
  });

  it('the embedded frame offers its account’s modes; a stranger without the interaction learns nothing', async () => {
    const rp = await discoverRp(roles.httpUrl, BLOG.client_id, undefined, BLOG.redirect_uris[0]!);
    const frame = await fetch((await authRequest(rp, { display: 'iframe' })).url);
    expect(frame.status).toBe(200);
    expect(pageModes(await frame.text())).toEqual(['mp-qrcode']);
    // An interaction page opened without its cookie (someone who only has the link): the provider's error page.
    const rpCoffee = await discoverRp(roles.httpUrl, COFFEE.client_id, COFFEE.client_secret, COFFEE.redirect_uris[0]!);
    const { url } = await follow(new Phone(BROWSER_UA), (await authRequest(rpCoffee)).url.toString(), roles.httpUrl);
    const stranger = await fetch(url);
    expect(stranger.status).toBeGreaterThanOrEqual(400);
    expect(pageModes(await stranger.text())).toBeUndefined();
  });

  it('a revoked account offers nothing: its page names no mode, and a login says why', async () => {
    await simControl(roles.simUrl, '/sim/platform/revoke', { appid: M.coffeeMini });
    await expect.poll(async () => pageModes(await interactionPage(MINI)), { timeout: 10_000 }).toEqual([]);
    // The page still tries (it cannot know why there is nothing): the answer is the reason it shows.
    expect(await loginFor(roles.httpUrl, MINI, 'miniprogram')).toMatchObject({
      status: 410,
      body: { error: 'account_revoked' },
    });
  });
});
