/**
 * Avatars come from WeChat (`sns/userinfo`'s `headimgurl`) and go to the login's page, the phone's confirm page
 * (`<img src>`), the session's user and the OpenID `picture` claim, which a relying party may put in a link or an
 * image. Only http(s) URLs may pass: anything else (`javascript:`, `data:`) is dropped where it enters. The
 * simulator only serves its own avatars, so a real proxy in front of it rewrites `headimgurl` (real http, ws,
 * simulator and redis-server behind it).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../server/oidc/account.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { startLink } from '../helpers/redis.js';
import { createLogin, startStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let proxy: http.Server;
/** What the proxy puts in the next `sns/userinfo` answer's `headimgurl` (undefined: WeChat's own, untouched). */
let avatar: string | undefined;

beforeAll(async () => {
  let target = '';
  proxy = http.createServer(async (req, res) => {
    const upstream = await fetch(`${target}${req.url}`, { method: req.method ?? 'GET' });
    let body = await upstream.text();
    if (req.url?.startsWith('/sns/userinfo') && avatar !== undefined) {
      body = JSON.stringify({ ...(JSON.parse(body) as Record<string, unknown>), headimgurl: avatar });
    }
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(body);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  stack = await startStack({ WECHAT_API_BASE: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
  target = stack.simUrl;
});

afterAll(async () => {
  await stack?.stop();
  await new Promise((r) => proxy?.close(r));
});

/** An oauth login up to the confirm page, WeChat answering `headimgurl`; what the page and the phone then show. */
async function scanWithAvatar(headimgurl: string) {
  avatar = headimgurl;
  const login = await createLogin(stack.httpUrl);
  const phone = new Phone();
  const page = await phone.callback(await phone.consent(await phone.scan(login.scanUrl), 'allow'));
  expect(page.status).toBe(200);
  const res = await fetch(`${stack.httpUrl}/api/logins/${login.id}`, {
    headers: { authorization: `Bearer ${login.watchToken}` },
  });
  const view = (await res.json()) as { status: string; user?: { nickname?: string; avatar?: string } };
  return { view, confirmPage: page.html };
}

describe('avatar URLs: http(s) only', () => {
  it('a javascript:, data: or other non-http avatar from WeChat is dropped; the nickname stays', async () => {
    for (const bad of [
      'javascript:alert(document.domain)',
      ' JaVaScRiPt:alert(1)',
      'data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+',
      'vbscript:msgbox(1)',
      '//evil.example/a.png',
      'not a url',
    ]) {
      const { view, confirmPage } = await scanWithAvatar(bad);
      expect([bad, view.status, view.user?.nickname]).toEqual([bad, 'scanned', expect.any(String)]);
      expect([bad, view.user?.avatar]).toEqual([bad, undefined]);
      expect([bad, confirmPage.includes('class="avatar"')]).toEqual([bad, false]);
    }
  });

  it("WeChat's https avatar (and an http one) passes", async () => {
    for (const good of ['https://thirdwx.qlogo.cn/mmopen/vi_32/Q0j4TwGTfT/132', 'http://wx.qlogo.cn/mmopen/a/0']) {
      const { view, confirmPage } = await scanWithAvatar(good);
      expect(view.user?.avatar).toBe(good);
      expect(confirmPage).toContain(`<img class="avatar" alt="" src="${good}">`);
    }
  });

  it('the OpenID picture claim is an http(s) URL or absent, whatever an account stored earlier holds', async () => {
    const link = await startLink(stack.redis.url, 'avatar-test');
    try {
      const accounts = new AccountStore(link);
      const claims = async (avatarUrl: string) => {
        const sub = await accounts.save({
          v: 1,
          openid: `o${'x'.repeat(27)}`,
          appid: 'wxapp',
          mode: 'oauth',
          nickname: 'A',
          avatar: avatarUrl,
        });
        return (await (await accounts.find(sub))!.claims('userinfo', 'openid profile', {}, [])) as Record<
          string,
          unknown
        >;
      };
      expect(await claims('javascript:alert(1)')).not.toHaveProperty('picture');
      expect(await claims('data:text/html,<script>alert(1)</script>')).not.toHaveProperty('picture');
      expect(await claims('https://thirdwx.qlogo.cn/mmopen/a/132')).toMatchObject({
        name: 'A',
        picture: 'https://thirdwx.qlogo.cn/mmopen/a/132',
      });
    } finally {
      await link.stop();
    }
  });
});
