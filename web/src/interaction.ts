/**
 * The page as an OpenID Connect interaction. Two shapes:
 * - `/interaction/<uid>`: a site sent its user to `/authorize`; a redeemed login finishes the interaction (the
 *   server sends the browser back to the site with a code), a refusal on the phone aborts it
 *   (`access_denied` at the site).
 * - `/authorize?…&display=iframe`: the embedded QR inside a site's page (scanlogin.js). A cross-site frame
 *   keeps no cookies and may not navigate the top window, so a redeemed login is traded for a one-time
 *   handoff code, posted to scanlogin.js, which sends the top window to `/authorize` with it.
 * The widget works as on `/`; only its endings differ.
 */

const UID_RE = /^\/interaction\/([A-Za-z0-9_-]{1,64})\/?$/;
const query = new URLSearchParams(location.search);

/** The interaction this page serves, or undefined. */
export const interactionUid: string | undefined = UID_RE.exec(location.pathname)?.[1];

/** The client whose embedded QR this page is, or undefined. */
const embedClient: string | undefined =
  location.pathname === '/authorize' && query.get('display') === 'iframe'
    ? (query.get('client_id') ?? undefined)
    : undefined;

/** Whether the page signs someone in to a site (then an existing scanlogin session is not reused). */
export const inInteraction = Boolean(interactionUid || embedClient);

/** The language a site asked for (`ui_locales`), if it is one the page speaks. */
export function requestedLang(): 'zh' | 'en' | undefined {
  const first = query.get('ui_locales')?.split(' ')[0]?.toLowerCase();
  return first?.startsWith('zh') ? 'zh' : first?.startsWith('en') ? 'en' : undefined;
}

/** Extra fields of `POST /api/logins` so the login carries the interaction (the phone names the site). */
export function interactionFields(): { interaction?: string } {
  if (interactionUid) return { interaction: interactionUid };
  return embedClient ? { interaction: `embed:${embedClient}` } : {};
}

/** After a successful redeem: hand the signed-in login to the site. Returns false on the plain page. */
export function finishInteraction(login: { id: string; watchToken: string }): boolean {
  if (interactionUid) {
    // A top-level form POST: the provider answers with the redirect back to the site.
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = `/interaction/${interactionUid}/finish`;
    document.body.append(form);
    form.submit();
    return true;
  }
  if (!embedClient) return false;
  void handOff(login);
  return true;
}

async function handOff(login: { id: string; watchToken: string }): Promise<void> {
  const res = await fetch('/api/embed/handoff', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${login.watchToken}` },
    body: JSON.stringify({ id: login.id }),
  });
  const body = (await res.json().catch(() => ({}))) as { code?: string };
  // Only frame-ancestors-approved origins can be our parent (the server's CSP), and the code is single use.
  if (res.ok && body.code) parent.postMessage({ type: 'scanlogin:handoff', code: body.code }, '*');
}

/** After the phone refused: the site gets `error=access_denied`. Returns false when not in an interaction. */
export function abortInteraction(): boolean {
  if (!interactionUid) return false;
  location.assign(`/interaction/${interactionUid}/abort`);
  return true;
}
