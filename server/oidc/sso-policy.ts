import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { isHandoffHint } from './embed.js';

const { base, Check } = interactionPolicy;

/**
 * When a browser's provider session may answer a new authorization without a scan (single sign-on), as
 * docs/SECURITY.md states it: only within `ssoWindowS` of the phone's confirmation (0: never), and never for a
 * request that carries a handoff code (`login_hint=handoff:…`), which is the embedded QR's own sign-in and must
 * be completed by that code's identity, not by whoever is signed in here. Otherwise oidc-provider's default
 * policy (login, then consent).
 */
export function ssoPolicy(ssoWindowS: number): interactionPolicy.DefaultPolicy {
  const policy = base();
  const login = policy.get('login')!;
  // Both checks give way once this very request's interaction signed someone in (`result.login`), as
  // oidc-provider's own max_age check does, or the interaction would loop.
  const freshLogin = (ctx: KoaContextWithOIDC) => Boolean(ctx.oidc.result?.login);
  login.checks.add(
    new Check('handoff_hint', 'a handoff code is completed by its own identity', 'login_required', (ctx) =>
      isHandoffHint(ctx.oidc.params?.login_hint) && !freshLogin(ctx) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  login.checks.add(
    new Check('sso_window', 'single sign-on lasts only a short while after a scan', 'login_required', (ctx) => {
      const { session } = ctx.oidc;
      if (!session?.accountId || freshLogin(ctx)) return Check.NO_NEED_TO_PROMPT;
      return session.past(ssoWindowS) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    }),
  );
  return policy;
}
