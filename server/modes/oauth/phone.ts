import type Cookies from 'cookies';
import { AppError } from '../../errors.js';
import { newSecret } from '../../logins/ids.js';
import type { LoginRecord } from '../../logins/model.js';
import { hashSecret, safeEqual } from '../../util/crypto.js';
import { buildAuthorizeUrl } from '../../wechat/oauth-client.js';
import type { HttpDeps } from '../../http/deps.js';
import { confirmPage, scanWithWechatPage } from '../../http/pages.js';
import { cookieNames, csrfToken, describeUserAgent, isWechatBrowser, signState } from '../../http/security.js';
import { OAUTH_MODE } from './mode.js';

/** What a scan answers: the way on to WeChat's OAuth, or a page (the confirm page of a phone coming back). */
export type ScanAnswer = { redirect: string } | { html: string };

/**
 * The oauth mode's phone (each method takes the request's `cookies` jar — Koa's `ctx.cookies` is one, the hot lane
 * makes its own): its cookie (the token whose hash the login keeps), the OAuth link it is sent to, its
 * confirm page, and the scan itself — `GET /l/:id`, served by the hot lane and by the phone router (routes.ts).
 */
export class OAuthPhone {
  readonly #deps: HttpDeps;
  readonly #names: ReturnType<typeof cookieNames>;
  readonly #secure: boolean;

  constructor(deps: HttpDeps) {
    this.#deps = deps;
    this.#names = cookieNames(deps.config.publicUrl);
    this.#secure = deps.config.publicUrl.startsWith('https:');
  }

  /**
   * The scan URL in the QR code. Outside WeChat (and dev mode) only the page that says to scan with WeChat; in
   * WeChat, one script checks the login (as getLive would) and scans it if pending, or returns it unchanged if
   * already scanned. Every answer after which the login may know the new token's hash carries the token's cookie
   * (the scan, and a 5xx, which may have come after the script ran): a scanned login is never bound to a phone
   * that did not receive its cookie. A refusal wrote nothing, so the phone keeps the cookie it had (maybe another
   * login's); so does an already scanned login (only its own phone may go on).
   */
  async scan(jar: Cookies, id: string | undefined, ua: string | undefined): Promise<ScanAnswer> {
    const { config, store } = this.#deps;
    if (!config.devMode && !isWechatBrowser(ua)) {
      await store.getLive(id, OAUTH_MODE);
      return { html: scanWithWechatPage() };
    }
    const phoneToken = this.token(jar);
    const token = newSecret();
    const { record: rec, changed } = await store
      .phoneStep(id, 'scan', { mode: OAUTH_MODE, stay: 'scanned' }, { phoneHash: hashSecret(token) })
      .catch((err: unknown) => {
        // Its lifetime: the longest a login has (a new one's); the login's own is not known here.
        if (!(err instanceof AppError) || err.status >= 500) this.set(jar, token, store.now() + store.loginTtlMs);
        throw err;
      });
    if (changed) {
      this.set(jar, token, rec.expiresAt);
      return { redirect: this.authorizeUrl(rec, false) };
    }
    // The same phone coming back (reload, back button) continues; any other device is refused.
    const matched = this.matched(jar, rec);
    if (!phoneToken || !matched) {
      throw new AppError('phone_mismatch', 'this QR code has already been scanned by another phone');
    }
    return rec.user ? { html: this.confirmPage(rec, matched) } : { redirect: this.authorizeUrl(rec, false) };
  }

  /**
   * WeChat's OAuth link for this login, for the account it runs for: the deployment's Official Account, or one
   * authorized to its platform (then with `component_appid`: WeChat runs the OAuth on its behalf, docs/wechat.md
   * §12.6, and the callback must be on the platform's web-development domain); `direct`: the same-device
   * sign-in's (its state says so).
   */
  authorizeUrl(rec: Pick<LoginRecord, 'id' | 'account'>, direct: boolean): string {
    const { config, accounts } = this.#deps;
    const link = accounts.oauthLink(rec);
    return buildAuthorizeUrl({
      openBase: config.wechat.openBase,
      appid: link.appid,
      redirectUri: `${config.appUrl}/wechat/oauth/callback`,
      scope: config.wechat.scope,
      state: signState(config.sessionSecret, rec.id, direct),
      ...(link.componentAppid && { componentAppid: link.componentAppid }),
    });
  }

  /** The phone token this browser sent, if any (not yet checked against a login). */
  token(jar: Cookies): string | undefined {
    return jar.get(this.#names.phone) ?? undefined;
  }

  /**
   * The phone's token for this login (httpOnly; only its hash is stored), living as long as the login. `next`: the
   * token an identify answered 5xx may have stored (see the callback), kept beside the current one.
   */
  set(jar: Cookies, token: string, expiresAt: number, which: 'current' | 'next' = 'current'): void {
    jar.set(which === 'next' ? this.#names.phoneNext : this.#names.phone, token, {
      httpOnly: true,
      sameSite: 'lax', // sent on WeChat's top-level redirect back to our callback
      secure: this.#secure,
      path: '/',
      maxAge: Math.max(1000, expiresAt - this.#deps.store.now()),
      overwrite: true,
    });
  }

  /**
   * The phone token this browser holds for the login, or undefined. A `next` token the login knows (its identify
   * answered 5xx after all) becomes the phone's token on this answer. Cookie fixation stays closed: a planted
   * token is never the rotated one, which only the server made and only the identifying browser received.
   */
  matched(jar: Cookies, rec: LoginRecord): string | undefined {
    const knows = (token: string | undefined) =>
      !!token && !!rec.phoneHash && safeEqual(hashSecret(token), rec.phoneHash);
    const token = this.token(jar);
    if (knows(token)) return token;
    const next = jar.get(this.#names.phoneNext) ?? undefined;
    if (!knows(next)) return undefined;
    this.set(jar, next!, rec.expiresAt);
    jar.set(this.#names.phoneNext, null, { path: '/', secure: this.#secure, httpOnly: true });
    return next;
  }

  /** The phone cookie set at scan time, checked against the login; `phone_mismatch` otherwise. */
  require(jar: Cookies, rec: LoginRecord): string {
    const token = this.matched(jar, rec);
    if (!token) throw new AppError('phone_mismatch', 'open the QR code link on the phone that scanned it');
    return token;
  }

  /** The confirm page of an identified login, its form bound to this phone's token (CSRF). */
  confirmPage(rec: LoginRecord, phoneToken: string): string {
    const { config } = this.#deps;
    return confirmPage({
      loginId: rec.id,
      basePath: config.basePath,
      hidden: { csrf: csrfToken(config.sessionSecret, rec.id, phoneToken) },
      requestedAt: rec.createdAt,
      device: describeUserAgent(rec.ua),
      ip: rec.ip ?? 'unknown',
      ...(rec.user?.nickname && { nickname: rec.user.nickname }),
      ...(rec.user?.avatar && { avatar: rec.user.avatar }),
      ...(rec.clientName && { client: rec.clientName }),
    });
  }
}
