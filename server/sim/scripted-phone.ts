/**
 * A phone in WeChat, speaking real HTTP: it keeps its cookies and follows the OAuth redirects by hand so each
 * step can be checked (and so a test can stop or tamper at any step).
 */
export const WECHAT_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.47(0x18002f2f) NetType/WIFI Language/zh_CN';

export class Phone {
  readonly cookies = new Map<string, string>();
  constructor(readonly ua = WECHAT_UA) {}

  async get(url: string): Promise<Response> {
    return this.send(url, { method: 'GET' });
  }

  async postForm(url: string, form: Record<string, string>): Promise<Response> {
    return this.send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** Any request with this jar's cookies (redirects not followed). */
  async send(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', this.ua);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url.replace(/#.*$/, ''), { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** Opens the scan URL and returns WeChat's authorize URL it was redirected to (asserting the 302). */
  async scan(scanUrl: string): Promise<URL> {
    const res = await this.get(scanUrl);
    if (res.status !== 302)
      throw new Error(`scan: expected 302, got ${res.status}: ${(await res.text()).slice(0, 300)}`);
    return new URL(res.headers.get('location')!);
  }

  /** At the simulator's consent page: allow (as the given sample user, default the first) or deny. */
  async consent(authorizeUrl: URL, action: 'allow' | 'deny', pick = 0): Promise<URL> {
    const page = await (await this.get(authorizeUrl.toString())).text();
    const openids = [...page.matchAll(/name="openid"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="openid"/g)].map(
      (m) => m[1] ?? m[2],
    );
    const p = authorizeUrl.searchParams;
    const res = await this.postForm(new URL('/sim/oauth2/approve', authorizeUrl).toString(), {
      appid: p.get('appid')!,
      redirect_uri: p.get('redirect_uri')!,
      scope: p.get('scope')!,
      state: p.get('state')!,
      // On an account's behalf the consent form carries the platform's appid too (docs/wechat.md §12.6).
      ...(p.get('component_appid') && { component_appid: p.get('component_appid')! }),
      openid: openids[pick]!,
      action,
    });
    if (res.status !== 302) throw new Error(`consent: expected 302, got ${res.status}`);
    return new URL(res.headers.get('location')!);
  }

  /** Follows the OAuth callback; returns the page (the confirm page on success). */
  async callback(callbackUrl: URL): Promise<{ status: number; html: string }> {
    const res = await this.get(callbackUrl.toString());
    return { status: res.status, html: await res.text() };
  }

  /** Submits the confirm page's Confirm (or Cancel) form. */
  async submit(
    confirmHtml: string,
    which: 'confirm' | 'cancel',
    base: string,
  ): Promise<{ status: number; html: string }> {
    const action = new RegExp(`action="((?:/[^"/]+)*?/l/[^"/]+/${which})"`).exec(confirmHtml)?.[1];
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirmHtml)?.[1];
    if (!action || !csrf) throw new Error('no confirm form on the page');
    const res = await this.postForm(new URL(action, base).toString(), { csrf });
    return { status: res.status, html: await res.text() };
  }

  /** scan → allow → callback → confirm, asserting each step; returns the final page. */
  async login(scanUrl: string, base: string, pick = 0): Promise<string> {
    const cb = await this.consent(await this.scan(scanUrl), 'allow', pick);
    const page = await this.callback(cb);
    if (page.status !== 200) throw new Error(`callback: HTTP ${page.status}: ${page.html.slice(0, 300)}`);
    const done = await this.submit(page.html, 'confirm', base);
    if (done.status !== 200) throw new Error(`confirm: HTTP ${done.status}`);
    return done.html;
  }

  /**
   * Scans again after a step failed (a 503 page), as a person would: a login whose identity already landed answers
   * the scan URL with the confirm page itself (no redirect to WeChat), so the phone confirms from there; otherwise
   * the whole login. Returns the final page.
   */
  async resume(scanUrl: string, base: string, pick = 0): Promise<string> {
    const again = await this.get(scanUrl);
    const html = again.status === 200 ? await again.text() : '';
    if (!html.includes('name="csrf"')) return this.login(scanUrl, base, pick);
    const done = await this.submit(html, 'confirm', base);
    if (done.status !== 200) throw new Error(`confirm: HTTP ${done.status}`);
    return done.html;
  }
}
