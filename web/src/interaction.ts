/**
 * The page as an OpenID Connect interaction: served at `/interaction/<uid>` when a site sends its user to
 * `/authorize`. The widget works as on `/`; only its two endings differ: a redeemed login finishes the
 * interaction (the server sends the browser back to the site with a code), a refusal on the phone aborts it
 * (`access_denied` at the site).
 */

const UID_RE = /^\/interaction\/([A-Za-z0-9_-]{1,64})\/?$/;

/** The interaction this page serves, or undefined on the plain login page. */
export const interactionUid: string | undefined = UID_RE.exec(location.pathname)?.[1];

/** Extra fields of `POST /api/logins` so the login carries the interaction (the phone names the site). */
export function interactionFields(): { interaction?: string } {
  return interactionUid ? { interaction: interactionUid } : {};
}

/** After a successful redeem: hand the signed-in session to the provider. Returns false on the plain page. */
export function finishInteraction(): boolean {
  if (!interactionUid) return false;
  // A top-level form POST: the provider answers with the redirect back to the site.
  const form = document.createElement('form');
  form.method = 'POST';
  form.action = `/interaction/${interactionUid}/finish`;
  document.body.append(form);
  form.submit();
  return true;
}

/** After the phone refused: the site gets `error=access_denied`. Returns false on the plain page. */
export function abortInteraction(): boolean {
  if (!interactionUid) return false;
  location.assign(`/interaction/${interactionUid}/abort`);
  return true;
}
