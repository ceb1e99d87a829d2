/**
 * The page as an OpenID Connect interaction. Two shapes:
 * - `/interaction/<uid>`: a site sent its user to `/authorize`; a redeemed login finishes the interaction (the
 *   server sends the browser back to the site with a code), a refusal on the phone aborts it
 *   (`access_denied` at the site).
 * - `/authorize?…&display=iframe`: the embedded QR inside a site's page (scanlogin.js). A cross-site frame
 *   keeps no cookies and may not navigate the top window, so a redeemed login is traded for a one-time
 *   handoff code, posted to scanlogin.js, which sends the top window to `/authorize` with it.
 * The widget works as on `/`; only its endings differ (see `Interaction` in widget.ts). Every path here is
 * relative to the app's root (BASE_PATH, see base.ts).
 */
import type { CreatedLogin } from './api.js';
import { appPath, appRoot, appUrl } from './base.js';
import type { Interaction } from './widget-deps.js';

const UID_RE = /^\/interaction\/([A-Za-z0-9_-]{1,64})\/?$/;

/** The language a site asked for (`ui_locales`), if it is one the page speaks. */
export function requestedLang(search: string): 'zh' | 'en' | undefined {
  const first = new URLSearchParams(search).get('ui_locales')?.split(' ')[0]?.toLowerCase();
  return first?.startsWith('zh') ? 'zh' : first?.startsWith('en') ? 'en' : undefined;
}

/** The interaction this browser page serves, or undefined on the plain login page. */
export function pageInteraction(win: Window): Interaction | undefined {
  const root = appRoot(win.document);
  const here = appPath(root, win.location.pathname) ?? '';
  const uid = UID_RE.exec(here)?.[1];
  const query = new URLSearchParams(win.location.search);
  const embedClient =
    here === '/authorize' && query.get('display') === 'iframe' ? (query.get('client_id') ?? undefined) : undefined;
  // The server names the site in the page it serves (server/http/static.ts): never from the URL, which anyone writes.
  const site = win.document.querySelector<HTMLMetaElement>('meta[name="scanlogin-client"]')?.content || undefined;
  if (uid) {
    return {
      loginFields: { interaction: uid },
      site,
      finish() {
        // A top-level form POST: the provider answers with the redirect back to the site.
        const form = win.document.createElement('form');
        form.method = 'POST';
        form.action = appUrl(root, `/interaction/${uid}/finish`);
        win.document.body.append(form);
        form.submit();
        return true;
      },
      abort() {
        win.location.assign(appUrl(root, `/interaction/${uid}/abort`));
        return true;
      },
    };
  }
  if (embedClient) {
    return {
      // The frame's own authorization request: the only one the handoff code made from this login may complete.
      loginFields: { interaction: `embed:${embedClient}`, authorize: win.location.search },
      site,
      finish(login) {
        void handOff(win, appUrl(root, '/api/embed/handoff'), login);
        return true;
      },
      // The frame cannot send the site anywhere; it shows "cancelled" and the site's page stays as it was.
      abort: () => false,
    };
  }
  return undefined;
}

async function handOff(win: Window, url: string, login: CreatedLogin): Promise<void> {
  const res = await win.fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${login.watchToken}` },
    body: JSON.stringify({ id: login.id }),
  });
  const body = (await res.json().catch(() => ({}))) as { code?: string };
  // Only frame-ancestors-approved origins can be our parent (the server's CSP), and the code is single use.
  if (res.ok && body.code) win.parent.postMessage({ type: 'scanlogin:handoff', code: body.code }, '*');
}
