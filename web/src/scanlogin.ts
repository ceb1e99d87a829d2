/**
 * scanlogin.js — the embeddable WeChat QR for a site's own login page (like WeChat's WxLogin):
 *
 *   <div id="login"></div>
 *   <script src="https://login.example.com/scanlogin.js"></script>   (or https://example.com/login/scanlogin.js)
 *   <script>ScanLogin.mount('login', { clientId, redirectUri, state, nonce, codeChallenge, lang: 'zh' });</script>
 *
 * It draws an iframe of `/authorize?…&display=iframe` (allowed only from the client's `embed_origins`). The frame
 * is as wide as the element it is mounted in, and as tall as what it shows: it posts its height on every change
 * (`scanlogin:resize`). When the phone has confirmed, the frame posts a one-time code; this script then sends the
 * page to `/authorize` with it, which returns to `redirectUri` with an authorization code (exchange it with the
 * PKCE verifier). Options: docs/oidc.md.
 */
(() => {
  interface MountOptions {
    clientId: string;
    redirectUri: string;
    state: string;
    nonce: string;
    /** PKCE S256 challenge of the verifier the site keeps for the token request. */
    codeChallenge: string;
    /** `zh` or `en` (default: the browser's). */
    lang?: string;
    /** Default `openid profile`. */
    scope?: string;
  }

  /** The frame's height until it reports its own (about what it shows while it makes the QR code). */
  const FIRST_HEIGHT_PX = 420;
  /** A reported height beyond this is not believed (the page never grows that tall). */
  const MAX_HEIGHT_PX = 2000;

  const script = document.currentScript as HTMLScriptElement | null;
  // The provider lives where this script was loaded from, BASE_PATH included (`…/login/scanlogin.js`).
  const root = script ? new URL('.', script.src) : new URL('/', location.href);
  const origin = root.origin;

  function authorizeUrl(o: MountOptions, extra: Record<string, string>): string {
    const u = new URL('authorize', root);
    const params: Record<string, string> = {
      client_id: o.clientId,
      redirect_uri: o.redirectUri,
      response_type: 'code',
      scope: o.scope ?? 'openid profile',
      state: o.state,
      nonce: o.nonce,
      code_challenge: o.codeChallenge,
      code_challenge_method: 'S256',
      ...(o.lang && { ui_locales: o.lang }),
      ...extra,
    };
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.toString();
  }

  function mount(target: HTMLElement | string, o: MountOptions): HTMLIFrameElement {
    const el = typeof target === 'string' ? document.getElementById(target) : target;
    if (!el) throw new Error(`ScanLogin.mount: no element ${String(target)}`);
    const frame = document.createElement('iframe');
    frame.src = authorizeUrl(o, { display: 'iframe' });
    frame.title = 'WeChat login · 微信登录';
    // As wide as its container (never wider than the page), as tall as its content (below).
    Object.assign(frame.style, { display: 'block', width: '100%', height: `${FIRST_HEIGHT_PX}px`, border: '0' });
    addEventListener('message', (ev: MessageEvent) => {
      if (ev.origin !== origin || ev.source !== frame.contentWindow) return;
      const data = ev.data as { type?: unknown; code?: unknown; height?: unknown } | null;
      if (data?.type === 'scanlogin:resize') {
        const h = data.height;
        if (typeof h === 'number' && h > 0 && h <= MAX_HEIGHT_PX) frame.style.height = `${Math.ceil(h)}px`;
        return;
      }
      if (data?.type !== 'scanlogin:handoff' || typeof data.code !== 'string' || !/^[0-9A-Za-z]{32}$/.test(data.code))
        return;
      location.assign(authorizeUrl(o, { login_hint: `handoff:${data.code}` }));
    });
    el.replaceChildren(frame);
    return frame;
  }

  (window as unknown as { ScanLogin: { mount: typeof mount } }).ScanLogin = { mount };
})();
