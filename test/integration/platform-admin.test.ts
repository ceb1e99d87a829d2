/**
 * The operator page is never public (server/platform/admin-access.ts): without ADMIN_TOKEN only a caller on this
 * machine's loopback that came through no proxy; with it, a browser signed in with the token. The attacks: a public
 * request relayed by a proxy on the same host (so its socket peer is loopback), a wrong token, a cross-site form
 * without the page's CSRF value, a forged return from WeChat's page. Real roles, real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRolesOnFile, type FileRoles } from '../helpers/roles.js';
import { platformEnv } from '../helpers/platform.js';

const ADMIN_TOKEN = 'operator-token-0123456789';
const RELAYED = { 'x-forwarded-for': '203.0.113.7' };

describe('operator page without ADMIN_TOKEN: this machine only', () => {
  let roles: FileRoles;
  beforeAll(async () => {
    roles = await startRolesOnFile({}, platformEnv(600));
  });
  afterAll(() => roles?.stop());

  it('a direct loopback caller gets the page; the same request relayed by a proxy is refused', async () => {
    expect((await fetch(`${roles.httpUrl}/admin/platform`)).status).toBe(200);
    const relayed: Record<string, string>[] = [
      RELAYED,
      { forwarded: 'for=203.0.113.7' },
      { 'x-real-ip': '203.0.113.7' },
    ];
    for (const header of relayed) {
      const res = await fetch(`${roles.httpUrl}/admin/platform`, { headers: header, redirect: 'manual' });
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain('Authorize an Official Account');
    }
  });

  it('the page has no sign-in without a token, and its answers are not cached', async () => {
    expect((await fetch(`${roles.httpUrl}/admin/login`, { headers: RELAYED })).status).toBe(403);
    const res = await fetch(`${roles.httpUrl}/admin/platform`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('origin');
  });
});

describe('operator page with ADMIN_TOKEN', () => {
  let roles: FileRoles;
  beforeAll(async () => {
    roles = await startRolesOnFile({}, { ...platformEnv(600), ADMIN_TOKEN });
  });
  afterAll(() => roles?.stop());

  async function signIn(token: string): Promise<Response> {
    return fetch(`${roles.httpUrl}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...RELAYED },
      body: new URLSearchParams({ token }),
      redirect: 'manual',
    });
  }

  it('a relayed caller is sent to sign in; a wrong token is refused; the right one opens the page', async () => {
    const anonymous = await fetch(`${roles.httpUrl}/admin/platform`, { headers: RELAYED, redirect: 'manual' });
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get('location')).toMatch(/\/admin\/login$/);
    expect((await signIn('operator-token-wrong-guess')).status).toBe(403);
    const ok = await signIn(ADMIN_TOKEN);
    expect(ok.status).toBe(302);
    const cookie = ok.headers.getSetCookie()[0]!.split(';')[0]!;
    // The cookie holds an HMAC of the token, never the token.
    expect(cookie).not.toContain(ADMIN_TOKEN);
    expect(ok.headers.getSetCookie()[0]).toMatch(/httponly/i);
    expect(ok.headers.getSetCookie()[0]).toMatch(/samesite=lax/i);
    const page = await fetch(`${roles.httpUrl}/admin/platform`, { headers: { ...RELAYED, cookie } });
    expect(page.status).toBe(200);
  });

  it('a cross-site form (no CSRF value) cannot start an authorization, nor can a forged WeChat return', async () => {
    const ok = await signIn(ADMIN_TOKEN);
    const cookie = ok.headers.getSetCookie()[0]!.split(';')[0]!;
    const post = await fetch(`${roles.httpUrl}/admin/platform/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...RELAYED, cookie },
      body: new URLSearchParams({ csrf: 'guessed' }),
    });
    expect(post.status).toBe(403);
    // The return from WeChat's page, without the operator's cookie: refused before any code is exchanged.
    const forged = await fetch(`${roles.httpUrl}/admin/platform/authorized?auth_code=queryauthcode@@@x`, {
      headers: RELAYED,
      redirect: 'manual',
    });
    expect(forged.status).toBe(302);
    expect(forged.headers.get('location')).toMatch(/\/admin\/login$/);
  });
});
